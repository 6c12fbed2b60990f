"""Instance id from settings, else IMDSv2 (token first), else none (not on EC2)."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edgecloud.config import WorkerSettings
from edgecloud.worker.identity import imds_instance_id, instance_id


class FakeImds(BaseHTTPRequestHandler):
    """Answers like IMDSv2 with HttpTokens=required: no token, no metadata."""

    TOKEN = "tok-123"
    requests: list[str] = []

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
