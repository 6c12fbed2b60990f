"""`edgecloud bench faults` and `bench upload`: the proxy's holds and the bench's verdicts on their own
(fast), then a few scenarios on the real processes (slow)."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest
import requests
from click.testing import CliRunner

from edgecloud.bench import faults as bench_faults
from edgecloud.bench.fault_rig import Outcome
from edgecloud.bench.fault_scenarios import Scenario, sends_job
from edgecloud.bench.http_framing import Request, Stream, body, http_reply, parse_head
from edgecloud.bench.proxy import TcpProxy
from edgecloud.cli import cli


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a second request follows the first on one connection

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        reply = self.path.encode() + b" " + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_proxy():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with TcpProxy("http://127.0.0.1:%d" % server.server_address[1]) as proxy:
        yield proxy
    server.shutdown()


def _post_in_background(url: str, body: bytes) -> dict:
    got: dict = {}

    def post():
        try:
            reply = requests.post(url, data=body, timeout=10)
            got.update(status=reply.status_code, text=reply.text)
        except requests.RequestException as err:
            got["error"] = err

    got["thread"] = threading.Thread(target=post)
    got["thread"].start()
    return got


def test_proxy_holds_only_the_request_picked_while_others_flow_then_sends_it_on(echo_proxy):
    hold = echo_proxy.hold(lambda r: r.target == "/slow" and r.body == b"mine")
    held = _post_in_background(echo_proxy.url + "/slow", b"mine")
    assert hold.wait_held(5)
    with requests.Session() as keepalive:  # two requests on one connection: each one's head is found
        assert keepalive.post(echo_proxy.url + "/fast", data=b"a" * 100_000, timeout=5).text.endswith("a" * 10)
        assert keepalive.post(echo_proxy.url + "/slow", data=b"other", timeout=5).text == "/slow other"
    assert held["thread"].is_alive()
    hold.release()
    held["thread"].join(5)
    assert held["status"] == 200 and held["text"] == "/slow mine"
    assert echo_proxy.requests == 3


def test_proxy_answers_a_held_request_itself_or_drops_it(echo_proxy):
    failing = echo_proxy.hold(lambda r: r.target == "/fail")
    dropping = echo_proxy.hold(lambda r: r.target == "/drop")
    failed = _post_in_background(echo_proxy.url + "/fail", b"x" * 200_000)  # streamed, not read before the hold
    dropped = _post_in_background(echo_proxy.url + "/drop", b"y")
    assert failing.wait_held(5) and dropping.wait_held(5)
    failing.fail(http_reply(403, "Forbidden", b"no", "text/plain"))
    dropping.drop()
    for got in (failed, dropped):
        got["thread"].join(5)
    assert failed["status"] == 403 and failed["text"] == "no"
    assert isinstance(dropped["error"], requests.ConnectionError)
    assert echo_proxy.requests == 0  # neither reached the server
    assert requests.post(echo_proxy.url + "/fail", data=b"z", timeout=5).text == "/fail z"  # held once only


def test_framing_finds_the_request_after_a_chunked_one_on_the_same_connection():
    near, far = socket.socketpair()
    with near, far:
        far.sendall(
            b"PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            b"POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"
        )
        stream = Stream(near)
        first = parse_head(stream.until(b"\r\n\r\n"))
        assert (first.method, first.target) == ("PUT", "/a")
        assert b"".join(body(stream, first.headers)) == b"3\r\nabc\r\n0\r\n\r\n"
        second = parse_head(stream.until(b"\r\n\r\n"))
        assert (second.method, second.target) == ("POST", "/b") and b"".join(body(stream, second.headers)) == b"xy"


def test_the_controller_kill_is_aimed_at_the_send_of_a_job_only():
    def send(queue_url, target="AmazonSQS.SendMessage"):
        return Request("POST", "/", {"x-amz-target": target}, json.dumps({"QueueUrl": queue_url}).encode())

    assert sends_job(send("http://aws/123/edgecloud-jobs"), "edgecloud-jobs")
    assert not sends_job(send("http://aws/123/edgecloud-jobs-dlq"), "edgecloud-jobs")
    assert not sends_job(send("http://aws/123/edgecloud-completions"), "edgecloud-jobs")
    assert not sends_job(send("http://aws/123/edgecloud-jobs", "AmazonSQS.ReceiveMessage"), "edgecloud-jobs")


def test_a_failed_clip_is_lost_unless_the_scenario_expects_it():
    finals = {
        "a": {"status": "done"},
        "b": {"status": "failed", "error": "weights not found"},
        "c": {"status": "failed", "error": "not a video"},
    }
    row = Outcome(["a", "b", "c", "d"], finals, expected_failures={"c"}, stored=["a", "b", "c", "a"]).row()
    assert row["lost"] == 2  # b failed unexpectedly, d has no result
    assert row["results"] == 3 and row["duplicated"] == 1
    assert row["failed"] == ["not a video", "weights not found"]


class _NoRig:
    """Stands in for the processes: what is under test here is the bench's bookkeeping."""

    def __init__(self, *args, **kwargs):
        self.figures = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def outcome(self, timeout):
        return Outcome(["one"], {"one": {"status": "done"}})


def test_bench_writes_its_json_and_fails_when_a_scenario_breaks_or_does_not_show_its_fault(
    monkeypatch, tmp_path, vtest_mp4
):
    def breaks(rig, clip):
        raise RuntimeError("the retry never overlapped the first upload")

    monkeypatch.setattr(bench_faults, "FaultRig", _NoRig)
    monkeypatch.setitem(bench_faults.SCENARIOS, "duplicate-upload-race", Scenario(breaks))
    monkeypatch.setitem(
        bench_faults.SCENARIOS, "network-down", Scenario(lambda rig, clip: lambda outcome: (False, "no cut"))
    )
    monkeypatch.setitem(
        bench_faults.SCENARIOS, "poison-clip", Scenario(lambda rig, clip: lambda outcome: (True, "seen"))
    )
    out = tmp_path / "faults.json"
    run = CliRunner().invoke(
        cli,
        [
            "bench",
            "faults",
            "--clip",
            str(vtest_mp4),
            "--json",
            str(out),
            "--scenario",
            "duplicate-upload-race",
            "--scenario",
            "network-down",
            "--scenario",
            "poison-clip",
        ],
    )
    assert run.exit_code != 0
    assert "duplicate-upload-race (fault not observed, broke)" in run.output
    assert "network-down (fault not observed)" in run.output and "poison-clip" not in run.output.split("Error")[-1]
    rows = {s["name"]: s for s in json.loads(out.read_text())["scenarios"]}
    assert "never overlapped" in rows["duplicate-upload-race"]["error"]
    assert not rows["duplicate-upload-race"]["fault_observed"] and rows["duplicate-upload-race"]["lost"] == 0
    assert rows["network-down"]["evidence"] == "no cut" and not rows["network-down"]["fault_observed"]
    assert rows["poison-clip"]["fault_observed"] and rows["poison-clip"]["clips"] == 1


@pytest.mark.slow
def test_bench_faults_proves_the_upload_race_and_the_poison_clip_and_loses_nothing(vtest_mp4, tmp_path):
    out = tmp_path / "faults.json"
    run = CliRunner().invoke(
        cli,
        [
            "bench",
            "faults",
            "--clip",
            str(vtest_mp4),
            "--scenario",
            "duplicate-upload-race",
            "--scenario",
            "poison-clip",
            "--json",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    scenarios = {s["name"]: s for s in json.loads(out.read_text())["scenarios"]}
    assert set(scenarios) == {"duplicate-upload-race", "poison-clip"}
    for s in scenarios.values():
        assert set(s) >= {"name", "clips", "results", "lost", "duplicated", "seconds", "fault_observed", "evidence"}
        assert s["clips"] == s["results"] > 0 and s["lost"] == 0 and s["duplicated"] == 0 and s["fault_observed"]
    assert "heard 409" in scenarios["duplicate-upload-race"]["evidence"]
    assert scenarios["poison-clip"]["failed"] == ["clip has no decodable frames (truncated or corrupt)"]
    assert "failed after 1 take(s)" in scenarios["poison-clip"]["evidence"]


@pytest.mark.slow
def test_bench_upload_reports_rate_percentiles_errors_and_the_s3_floor(vtest_mp4, tmp_path):
    out = tmp_path / "upload.json"
    run = CliRunner().invoke(
        cli, ["bench", "upload", "--clip", str(vtest_mp4), "--devices", "2", "--seconds", "2", "--json", str(out)]
    )
    assert run.exit_code == 0, run.output
    report = json.loads(out.read_text())
    assert report["uploads"] > 0 and report["errors"] == 0 and report["uploads_per_s"] > 0
    assert 0 < report["p50_ms"] <= report["p99_ms"] and report["s3_put_floor"]["p50_ms"] > 0
    # Each process's CPU per upload: moto in its own process, so the three are apart.
    assert report["aws_process"] == "own" and set(report["cpu_ms_per_upload"]) == {"controller", "aws", "client"}
    assert all(ms > 0 for ms in report["cpu_ms_per_upload"].values())
