"""The worker's own gateway client puts the same bytes on the wire as the official IB Python
client (ibapi-stable 10.50.2) for the same calls, at server version 213 (protobuf) and capped
at 200 and 178 (classic text).

The simulator records every frame its clients send (`--capture`). The Python client connects
with client id 11 and makes the monitoring calls; then the real `gatewatch-worker` process,
driven over its JSON-lines stdin, connects with the same client id and makes the same calls.
The first frame of each message id is compared byte for byte, the version hello included.
Request ids are chosen to match: the worker numbers its requests from 1 500 000 000, as
rust-ibapi does, and the Python client is given that id.
"""

import json
import os
import pathlib
import subprocess

import pytest

from conftest import ROOT, Simulator
from test_ibapi_python import SUMMARY_TAGS, ready

WORKER = os.environ.get("GATEWATCH_WORKER", str(ROOT / "target" / "debug" / "gatewatch-worker"))
CLIENT_ID = 11
FIRST_REQUEST_ID = 1_500_000_000
TAGS = SUMMARY_TAGS.split(",")[:6]

# Messages both clients send for these calls.
COMPARED = {
    71: "startApi",
    49: "reqCurrentTime",
    17: "reqManagedAccts",
    61: "reqPositions",
    64: "cancelPositions",
    62: "reqAccountSummary",
    63: "cancelAccountSummary",
    6: "reqAccountUpdates (subscribe)",
}


def msg_id(body, version):
    """The canonical message id of a captured frame body (None for the version hello)."""
    if body.startswith(b"v"):
        return None
    if version < 201:
        return int(body.split(b"\0", 1)[0])
    wire_id = int.from_bytes(body[:4], "big")
    return wire_id - 200 if wire_id > 200 else wire_id


def frames_by_connection(capture, version):
    """{connection: {msg id or 'hello': first body}} from the capture file."""
    frames = {}
    for line in capture.read_text().splitlines():
        record = json.loads(line)
        body = bytes.fromhex(record["hex"])
        key = msg_id(body, version) or "hello"
        frames.setdefault(record["connection"], {}).setdefault(key, body)
    return frames


def python_client_calls(sim, account):
    app = ready(sim, CLIENT_ID)
    app.reqCurrentTime()
    app.next("currentTime")
    app.reqManagedAccts()
    app.next("managedAccounts")
    app.reqPositions()
    app.next("positionEnd")
    app.cancelPositions()
    app.reqAccountSummary(FIRST_REQUEST_ID, "All", ",".join(TAGS))
    app.next("accountSummaryEnd")
    app.cancelAccountSummary(FIRST_REQUEST_ID)
    app.reqAccountUpdates(True, account)
    app.next("accountDownloadEnd")
    app.reqAccountUpdates(False, account)
    app.disconnect()


def worker_calls(sim):
    requests = [
        {"type": "connect", "host": "127.0.0.1", "port": sim.api_port, "client_id": CLIENT_ID},
        {"type": "ping", "timeout_ms": 5000},
        {"type": "get_accounts"},
        {"type": "get_account_summary", "tags": TAGS},
        {"type": "get_positions"},
        {"type": "shutdown"},
    ]
    worker = subprocess.Popen([WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    worker.stdout.readline()  # hello
    for request_id, request in enumerate(requests, start=1):
        worker.stdin.write(json.dumps({"id": request_id, **request}) + "\n")
        worker.stdin.flush()
        while True:
            message = json.loads(worker.stdout.readline())
            if message.get("id") == request_id:
                assert message["type"] == "reply", message
                break
    assert worker.wait(timeout=10) == 0


@pytest.mark.parametrize("version", [213, 200, 178])
def test_the_worker_sends_what_ibapi_stable_sends(version, tmp_path, book):
    capture = tmp_path / "capture.jsonl"
    sim = Simulator(version, "--capture", str(capture))
    try:
        account = book["accounts"][0]["id"]
        python_client_calls(sim, account)
        sim.wait_for_no_clients()
        worker_calls(sim)
    finally:
        sim.stop()
    connections = frames_by_connection(capture, version)
    assert len(connections) == 2, f"one connection each, got {sorted(connections)}"
    python, worker = (connections[c] for c in sorted(connections))
    assert worker["hello"] == python["hello"] == b"v100..226"
    for message, name in COMPARED.items():
        assert message in python and message in worker, f"{name} missing"
        assert worker[message] == python[message], (
            f"v{version} {name}: worker {worker[message].hex()} vs ibapi-stable {python[message].hex()}"
        )
