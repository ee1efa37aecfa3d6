"""Fixtures for conformance tests against the official IB Python client (ibapi-stable).

The simulator binary runs as a subprocess on loopback with frozen prices, so every value
the client receives can be compared with `gatewatch-sim --dump-market`.
"""

import json
import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SIM = os.environ.get("GATEWATCH_SIM", str(ROOT / "target" / "debug" / "gatewatch-sim"))


class Simulator:
    """A running gatewatch-sim process with its API and control addresses."""

    def __init__(self, max_version, *extra_args):
        self.max_version = max_version
        self.proc = subprocess.Popen(
            [SIM, "--port", "0", "--control-port", "0", "--tick-ms", "0", "--max-version", str(max_version), *extra_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ready = self.proc.stdout.readline().split()
        fields = dict(word.split("=", 1) for word in ready if "=" in word)
        assert "api" in fields, f"simulator did not report its address: {ready}"
        self.api_port = int(fields["api"].rsplit(":", 1)[1])
        self.control_port = int(fields["control"].rsplit(":", 1)[1])

    def control(self, line):
        """Sends one fault command over the control port and returns the reply."""
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=5) as conn:
            conn.sendall(line.encode() + b"\n")
            reply = conn.makefile().readline().strip()
        assert reply.startswith("ok"), f"{line!r} → {reply!r}"
        return reply

    def wait_for_no_clients(self, timeout=5.0):
        """Waits until every client has left (its client id is free again)."""
        deadline = time.monotonic() + timeout
        while "clients=0" not in self.control("status"):
            assert time.monotonic() < deadline, "clients did not leave"
            time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0, "simulator must stop cleanly on SIGTERM"


@pytest.fixture(params=[213, 200, 178], ids=lambda v: f"v{v}")
def sim(request):
    simulator = Simulator(request.param)
    yield simulator
    simulator.stop()


@pytest.fixture(scope="session")
def book():
    """The simulator's accounts for the default seed, as it reports them."""
    out = subprocess.run([SIM, "--dump-market"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)
