"""The nginx front of `controller serve`: its rendered config (checked by nginx itself), the client
address the app sees behind it, and the real process against slow sockets."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import time

import psutil
import pytest
import requests
from click.testing import CliRunner
from flask import Flask, jsonify, request
from werkzeug.test import Client

from edgecloud.bench.slow_clients import SlowSockets
from edgecloud.bench.upload import upload_once
from edgecloud.cli import cli
from edgecloud.config import dump
from edgecloud.controller.app import FORM_SLACK_BYTES
from edgecloud.controller.front import FrontError, behind_front, find_nginx, render_config, worker_user
from edgecloud.localcloud import ControllerProcess, issue_credentials

from .test_tls import private_ca  # noqa: F401 - a fixture


def _nginx_accepts(config: str, run_dir) -> subprocess.CompletedProcess:
    path = run_dir / "nginx.conf"
    path.write_text(config)
    return subprocess.run([find_nginx("nginx"), "-t", "-e", "stderr", "-p", str(run_dir), "-c", str(path)],
                          capture_output=True, text=True, timeout=30)


def test_the_rendered_config_buffers_bodies_and_times_out_slow_clients(settings, tmp_path):
    c = settings.controller
    c.client_timeout_s, c.max_clip_mb, c.max_wait_s = 7, 10, 45
    config = render_config(settings, listen=("0.0.0.0", 8080), upstream=("127.0.0.1", 5123), run_dir=tmp_path,
                           user=worker_user())
    lines = {line.strip() for line in config.splitlines()}
    assert {"daemon off;", "listen 0.0.0.0:8080;", "proxy_pass http://127.0.0.1:5123;",
            "client_header_timeout 7s;", "client_body_timeout 7s;", "keepalive_timeout 7s;",
            f"client_max_body_size {10 * 1024 * 1024 + FORM_SLACK_BYTES};",  # the app's own limit
            "proxy_request_buffering on;", "proxy_read_timeout 105s;",  # past the longest ?wait=
            "proxy_set_header X-Forwarded-For $remote_addr;", "proxy_set_header X-Forwarded-Proto $client_scheme;",
            f"client_body_temp_path {tmp_path / 'client_body'};", "error_log stderr error;"} <= lines
    assert not any(line.startswith(("ssl_", "set_real_ip_from")) for line in lines)  # no proxy trusted
    run = _nginx_accepts(config, tmp_path)
    assert run.returncode == 0, run.stderr


def test_behind_a_load_balancer_nginx_believes_it_alone(settings, tmp_path):
    settings.controller.trusted_proxies = ["10.0.0.0/8", "fd00::/8"]
    config = render_config(settings, listen=("0.0.0.0", 8080), upstream=("127.0.0.1", 5123), run_dir=tmp_path,
                           user=worker_user())
    lines = {line.strip() for line in config.splitlines()}
    assert {"set_real_ip_from 10.0.0.0/8;", "set_real_ip_from fd00::/8;", "real_ip_header X-Forwarded-For;",
            "10.0.0.0/8 1;", "proxy_set_header X-Forwarded-Proto $client_scheme;"} <= lines
    run = _nginx_accepts(config, tmp_path)
    assert run.returncode == 0, run.stderr


def test_with_a_certificate_nginx_terminates_tls(settings, tmp_path, private_ca):  # noqa: F811
    _, cert_pem, key_pem = private_ca
    settings.controller.tls_cert, settings.controller.tls_key = cert_pem, key_pem
    config = render_config(settings, listen=("::", 8443), upstream=("127.0.0.1", 5123), run_dir=tmp_path,
                           user=worker_user())
    lines = {line.strip() for line in config.splitlines()}
    assert {"listen [::]:8443 ssl;", f"ssl_certificate {cert_pem};", f"ssl_certificate_key {key_pem};"} <= lines
    run = _nginx_accepts(config, tmp_path)
    assert run.returncode == 0, run.stderr


def test_the_app_behind_the_front_sees_the_client_nginx_saw_and_its_scheme():
    app = Flask(__name__)
    app.get("/")(lambda: jsonify(addr=request.remote_addr, scheme=request.scheme))
    client = Client(behind_front(app))
    # nginx replaces X-Forwarded-For with the address it saw; one hop is trusted, no more.
    seen = client.get("/", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                      headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https"}).json
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}


def test_without_nginx_serve_names_the_fix(settings, tmp_path):
    with pytest.raises(FrontError, match="apt-get install nginx"):
        find_nginx("no-such-nginx")
    settings.controller.nginx = "no-such-nginx"
    config = tmp_path / "controller.yaml"
    config.write_text(dump(settings))
    result = CliRunner().invoke(cli, ["--config", str(config), "controller", "serve"])
    assert result.exit_code == 1 and "apt-get install nginx" in result.output, result.output


def _nginx_of(controller: ControllerProcess) -> psutil.Process:
    (nginx,) = [p for p in psutil.Process(controller.pid).children() if p.name() == "nginx"]
    return nginx


@pytest.fixture
def fronted(stack_settings, tmp_path):
    """`controller serve` (4 threads, client_timeout_s 3) and a device token: (controller, settings, token)."""
    settings = stack_settings
    settings.autoscaler.max_workers = 0  # uploads only
    settings.controller.threads = 4
    settings.controller.client_timeout_s = 3  # the tricklers below send every 0.5 s: a body's is never hit
    settings.controller.trusted_proxies = ["127.0.0.2/32"]  # as a load balancer would be
    token = issue_credentials(settings, ["pi-01"])["pi-01"]
    with ControllerProcess(settings, tmp_path) as controller:
        yield controller, settings, token


def _closed_by_server(sock: socket.socket, bound_s: float) -> bool:
    sock.settimeout(bound_s)  # a bound on the wait, not the expectation: the close comes at client_timeout_s
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def _raw_request(controller: ControllerProcess, source: str, request: str) -> bytes:
    """Send ``request`` as written from address ``source``; the whole reply, once the server closes."""
    port = int(controller.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), source_address=(source, 0), timeout=10) as raw:
        raw.sendall(request.encode())
        reply = b""
        while chunk := raw.recv(4096):
            reply += chunk
    return reply


def _await_log_line(controller: ControllerProcess, text: str, timeout: float):
    """The controller's first log line holding ``text`` (gunicorn logs a request after answering it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in controller.log_path.read_text().splitlines() if text in line]
        if found:
            return found[0]
        time.sleep(0.1)
    return None


@pytest.mark.slow
def test_slow_sockets_hold_no_thread_and_are_closed(fronted, vtest_mp4):
    controller, settings, token = fronted
    body = vtest_mp4.read_bytes()
    # More tricklers than gunicorn has threads: without the front, each would hold one.
    with SlowSockets(controller.url, headers=12, bodies=6, device_token=token, every_s=0.5) as slow:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {token}"
            uploads = [upload_once(http, controller.url, body, "pi-01") for _ in range(3)]
            assert slow.open_count() > settings.controller.threads  # held during the uploads
        assert [ok for ok, _, _ in uploads] == [True, True, True]

    # A body over the limit is refused before it is read, in the API's JSON shape.
    reply = _raw_request(controller, "127.0.0.1", "POST /v1/clips HTTP/1.1\r\nHost: x\r\n"
                         f"Content-Length: {10**12}\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413") and "error" in json.loads(reply.split(b"\r\n\r\n", 1)[1])

    # A socket that sends nothing, and one that starts a request and stalls, are closed by the server
    # (after client_timeout_s, 3 s here).
    address = ("127.0.0.1", int(controller.url.rsplit(":", 1)[1]))
    with socket.create_connection(address) as idle, socket.create_connection(address) as stalled:
        stalled.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert _closed_by_server(idle, 15) and _closed_by_server(stalled, 15)

    # The app sees the client's own address, not nginx's nor one the client made up; a trusted proxy
    # (127.0.0.2 here) names the client it forwards.
    for source, agent in (("127.0.0.3", "stranger"), ("127.0.0.2", "proxy")):
        reply = _raw_request(controller, source, f"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\n"
                             "X-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200") and json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"ok": True}
    assert _await_log_line(controller, '"stranger"', 10).startswith("127.0.0.3 ")
    assert _await_log_line(controller, '"proxy"', 10).startswith("203.0.113.7 ")

    # serve stops its nginx with it.
    nginx = _nginx_of(controller)
    controller.close()
    assert not nginx.is_running() or nginx.status() == psutil.STATUS_ZOMBIE


@pytest.mark.slow
def test_serve_fails_loudly_when_nginx_dies(fronted):
    controller, settings, token = fronted
    serve = psutil.Process(controller.pid)
    _nginx_of(controller).send_signal(signal.SIGKILL)
    assert serve.wait(30) == 1
    assert "nginx (the front) exited" in controller.log_path.read_text()
