"""`gatewatch-cli serve` under the real tools of a monitoring stack.

- Its `/metrics` parses with the official Python client's OpenMetrics parser
  (`prometheus_client.openmetrics.parser`, the format the endpoint serves).
- A real Prometheus (Debian's package) scrapes it on loopback: both gateways are up, one
  simulator is killed, and Prometheus sees that gateway go to 0 while the other stays 1.
- promtool accepts the shipped scrape config and alert rules, and the rules' unit tests pass.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from conftest import ROOT, Simulator

CLI = os.environ.get("GATEWATCH_CLI", str(ROOT / "target" / "debug" / "gatewatch-cli"))
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
DEPLOY = ROOT / "deploy" / "prometheus"
TOKEN = "an-example-token-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, token=TOKEN, timeout=5):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read().decode()


def until(what, check, timeout):
    """Calls `check` until it returns something truthy, or fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last and last[0]:
            return last
        time.sleep(0.25)
    pytest.fail(f"{what} not within {timeout} s; last: {last}")


class Service:
    """`gatewatch-cli serve` on two simulators, its log lines collected by a thread."""

    def __init__(self, tmp_path, sims):
        settings = tmp_path / "settings.json"
        profiles = [
            {
                "id": gateway,
                "name": f"Gateway {gateway}",
                "port": sim.api_port,
                "client_id": 901 + i,
                "schedule": {"region": None, "daily": {"action": "none"}},
            }
            for i, (gateway, sim) in enumerate(sims.items())
        ]
        settings.write_text(
            json.dumps({"profiles": profiles, "monitoring": {"ping_interval_ms": 250, "ping_timeout_ms": 200}})
        )
        token = tmp_path / "token"
        token.write_text(TOKEN + "\n")
        self.proc = subprocess.Popen(
            [CLI, "serve", "--settings", str(settings), "--db", str(tmp_path / "history.db"),
             "--listen", "127.0.0.1:0", "--token", str(token), "--log-format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        self.listen = None
        threading.Thread(target=self._read, daemon=True).start()
        until("serve listening", lambda: (self.listen,), 20)
        self.url = f"http://{self.listen}"

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            listen = json.loads(line).get("fields", {}).get("listen")
            if listen:
                self.listen = listen

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=20) == 0, "serve stops cleanly on SIGTERM:\n" + "".join(self.lines[-20:])


class Prometheus:
    """A real Prometheus on loopback scraping the service every second."""

    def __init__(self, tmp_path, target):
        port = free_port()
        config = tmp_path / "prometheus.yml"
        (tmp_path / "token-for-prometheus").write_text(TOKEN)
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: gatewatch\n"
            "    authorization:\n"
            f"      credentials_file: {tmp_path / 'token-for-prometheus'}\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = f"http://127.0.0.1:{port}"

    def query(self, promql):
        """The instant vector of `promql` as {gateway: value}."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            status, _, body = get(url)
        except OSError:
            return {}
        if status != 200:
            return {}
        result = json.loads(body)["data"]["result"]
        return {r["metric"].get("gateway"): float(r["value"][1]) for r in result}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture
def two_gateways():
    sims = {"a": Simulator(213), "b": Simulator(213)}
    yield sims
    for sim in sims.values():
        if sim.proc.poll() is None:
            sim.stop()


def test_metrics_parse_with_the_official_openmetrics_parser(tmp_path, two_gateways):
    service = Service(tmp_path, two_gateways)
    try:
        def scraped():
            status, content_type, text = get(service.url + "/metrics")
            return status == 200 and 'gatewatch_up{gateway="b"} 1' in text and "gatewatch_pings_sent" in text, content_type, text

        _, content_type, text = until("both gateways up in /metrics", scraped, 20)
        assert content_type.startswith("application/openmetrics-text; version=1.0.0")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        for name in ["gatewatch_up", "gatewatch_state", "gatewatch_gateway", "gatewatch_ping_rtt_seconds",
                     "gatewatch_pings_sent", "gatewatch_pings_lost", "gatewatch_connect_attempts",
                     "gatewatch_connect_stage_duration_seconds", "gatewatch_close_wait_sockets",
                     "gatewatch_server_version", "gatewatch_expected_outage", "gatewatch_awaiting_2fa",
                     "gatewatch_farm_status", "gatewatch_notices", "process_resident_memory_bytes"]:
            assert name in families, f"{name} missing; have {sorted(families)}"
        assert families["gatewatch_ping_rtt_seconds"].type == "histogram"
        assert families["gatewatch_pings_sent"].type == "counter"
        assert families["gatewatch_gateway"].type == "info"
        up = {s.labels["gateway"]: s.value for s in families["gatewatch_up"].samples}
        assert up == {"a": 1, "b": 1}
        states = [s for s in families["gatewatch_state"].samples if s.value == 1]
        assert sorted((s.labels["gateway"], s.labels["state"]) for s in states) == [("a", "connected"), ("b", "connected")]
        buckets = [s for s in families["gatewatch_ping_rtt_seconds"].samples
                   if s.name.endswith("_bucket") and s.labels["gateway"] == "a"]
        assert buckets[0].labels["le"] == "0.0001" and buckets[-1].labels["le"] == "+Inf"
        counts = [s.value for s in buckets]
        assert counts == sorted(counts), "cumulative buckets never decrease"
        sent = next(s.value for s in families["gatewatch_pings_sent"].samples
                    if s.labels["gateway"] == "a" and s.name.endswith("_total"))
        lost = next(s.value for s in families["gatewatch_pings_lost"].samples
                    if s.labels["gateway"] == "a" and s.name.endswith("_total"))
        assert counts[-1] == sent - lost, "every answered ping is in the histogram"
        farms = {(s.labels["farm"], s.labels["status"]) for s in families["gatewatch_farm_status"].samples if s.value == 1}
        assert farms, "the simulator greets with its farms"
        assert all(status == "ok" for _, status in farms), farms
    finally:
        service.stop()


def test_a_real_prometheus_sees_both_gateways_up_then_the_killed_one_down(tmp_path, two_gateways):
    assert PROMETHEUS, "no prometheus binary: scripts/install-deps.sh installs Debian's package"
    service = Service(tmp_path, two_gateways)
    prometheus = Prometheus(tmp_path, service.listen)
    try:
        until("Prometheus sees both gateways up",
              lambda: (prometheus.query("gatewatch_up") == {"a": 1.0, "b": 1.0}, prometheus.query("gatewatch_up")), 60)
        assert prometheus.query('up{job="gatewatch"}') == {None: 1.0}, "the scrape itself is healthy"
        two_gateways["b"].proc.kill()
        two_gateways["b"].proc.wait(timeout=10)
        until("Prometheus sees b down and a still up",
              lambda: (prometheus.query("gatewatch_up") == {"a": 1.0, "b": 0.0}, prometheus.query("gatewatch_up")), 60)
        down = prometheus.query('gatewatch_state{state=~"down|zombie"} == 1')
        assert set(down) == {"b"}, down
        # The shipped alert's expression picks out b and only b (its `for: 2m` is promtool's to test).
        rules = (DEPLOY / "gatewatch-rules.yml").read_text()
        assert "GatewatchGatewayDown" in rules
    finally:
        prometheus.stop()
        service.stop()


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "gatewatch-rules.yml"],
        ["test", "rules", "gatewatch-rules.test.yml"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_promtool_accepts_the_shipped_files(args):
    assert PROMTOOL, "no promtool: scripts/install-deps.sh installs Debian's prometheus package"
    result = subprocess.run([PROMTOOL, *args], cwd=DEPLOY, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr
