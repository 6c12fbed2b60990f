"""Instance id from settings, else IMDSv2 (token first), else none (not on EC2)."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edgecloud.config import WorkerSettings
from edgecloud.worker.identity import imds_instance_id, instance_id, wait_until_in_service


class FakeImds(BaseHTTPRequestHandler):
    """Answers like IMDSv2 with HttpTokens=required: no token, no metadata."""

    TOKEN = "tok-123"
    requests: list[str] = []
    lifecycle: list[str] = []  # target lifecycle states to answer, one per request; none: not in a group

    def do_PUT(self):
        self.requests.append(f"PUT {self.path}")
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self._answer(200, self.TOKEN)
        else:
            self._answer(400, "")

    def do_GET(self):
        self.requests.append(f"GET {self.path}")
        if self.headers.get("X-aws-ec2-metadata-token") != self.TOKEN:
            self._answer(401, "")
        elif self.path == "/latest/meta-data/instance-id":
            self._answer(200, "i-0123456789abcdef0")
        elif self.path == "/latest/meta-data/autoscaling/target-lifecycle-state" and self.lifecycle:
            self._answer(200, self.lifecycle.pop(0))
        else:
            self._answer(404, "")

    def _answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def imds():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeImds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeImds.requests = []
    FakeImds.lifecycle = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_imdsv2_asks_for_a_token_first(imds):
    assert imds_instance_id(imds) == "i-0123456789abcdef0"
    assert FakeImds.requests == ["PUT /latest/api/token", "GET /latest/meta-data/instance-id"]


def test_settings_win_over_metadata(imds):
    assert instance_id(WorkerSettings(instance_id="i-from-config"), imds) == "i-from-config"
    assert FakeImds.requests == []


def test_no_metadata_service_means_no_instance():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert instance_id(WorkerSettings(), closed) is None


def test_a_warm_pool_instance_waits_until_it_is_in_service(imds):
    FakeImds.lifecycle = ["Warmed:Stopped", "Warmed:Stopped", "InService"]
    pauses = []
    assert wait_until_in_service(imds, pause=pauses.append, every_s=5) == "InService"
    assert pauses == [5, 5]  # asked again after each pause, and went on once in service


def test_an_instance_outside_a_group_or_off_ec2_does_not_wait(imds):
    pauses = []
    assert wait_until_in_service(imds, pause=pauses.append) is None  # IMDS has no lifecycle state: 404
    assert wait_until_in_service("http://127.0.0.1:9", pause=pauses.append) is None  # no IMDS at all
    assert pauses == []
