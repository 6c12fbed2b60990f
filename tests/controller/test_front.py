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

from edgecloud.bench.slow_sockets import SlowSockets
from edgecloud.bench.upload import upload_once
from edgecloud.cli import cli
from edgecloud.config import dump
from edgecloud.controller.app import FORM_SLACK_BYTES
from edgecloud.controller.front import FrontError, behind_front, find_nginx, worker_user
from edgecloud.controller.front_config import render_config
from edgecloud.localcloud import ControllerProcess, issue_credentials
from edgecloud.protocol.client import ControllerClient

from .test_tls import private_ca  # noqa: F401 - a fixture


def _nginx_accepts(config: str, run_dir) -> subprocess.CompletedProcess:
    path = run_dir / "nginx.conf"
    path.write_text(config)
    return subprocess.run(
        [find_nginx("nginx"), "-t", "-e", "stderr", "-p", str(run_dir), "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.slow
def test_the_rendered_config_buffers_bodies_and_times_out_slow_clients(settings, tmp_path):
    c = settings.controller
    c.client_timeout_s, c.max_clip_mb, c.max_wait_s = 7, 10, 45
    config = render_config(
        settings, listen=("0.0.0.0", 8080), upstream=("127.0.0.1", 5123), run_dir=tmp_path, user=worker_user()
    )
    lines = {line.strip() for line in config.splitlines()}
    assert {
        "daemon off;",
        "listen 0.0.0.0:8080;",
        "proxy_pass http://127.0.0.1:5123;",
        "client_header_timeout 7s;",
        "client_body_timeout 7s;",
        "keepalive_timeout 7s;",
        f"client_max_body_size {10 * 1024 * 1024 + FORM_SLACK_BYTES};",  # the app's own limit
        "proxy_request_buffering on;",
        "proxy_read_timeout 105s;",  # past the longest ?wait=
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $client_scheme;",
        f"client_body_temp_path {tmp_path / 'client_body'};",
        "error_log stderr error;",
    } <= lines
    assert not any(line.startswith(("ssl_", "set_real_ip_from")) for line in lines)  # no proxy trusted
    run = _nginx_accepts(config, tmp_path)
    assert run.returncode == 0, run.stderr


@pytest.mark.slow
def test_behind_a_load_balancer_nginx_believes_it_alone(settings, tmp_path):
    settings.controller.trusted_proxies = ["10.0.0.0/8", "fd00::/8"]
    config = render_config(
        settings, listen=("0.0.0.0", 8080), upstream=("127.0.0.1", 5123), run_dir=tmp_path, user=worker_user()
    )
    lines = {line.strip() for line in config.splitlines()}
    assert {
        "set_real_ip_from 10.0.0.0/8;",
        "set_real_ip_from fd00::/8;",
        "real_ip_header X-Forwarded-For;",
        "10.0.0.0/8 1;",
        "proxy_set_header X-Forwarded-Proto $client_scheme;",
    } <= lines
    run = _nginx_accepts(config, tmp_path)
    assert run.returncode == 0, run.stderr


@pytest.mark.slow
def test_with_a_certificate_nginx_terminates_tls(settings, tmp_path, private_ca):  # noqa: F811
    _, cert_pem, key_pem = private_ca
    settings.controller.tls_cert, settings.controller.tls_key = cert_pem, key_pem
    config = render_config(
        settings, listen=("::", 8443), upstream=("127.0.0.1", 5123), run_dir=tmp_path, user=worker_user()
    )
    lines = {line.strip() for line in config.splitlines()}
    assert {"listen [::]:8443 ssl;", f"ssl_certificate {cert_pem};", f"ssl_certificate_key {key_pem};"} <= lines
    run = _nginx_accepts(config, tmp_path)
    assert run.returncode == 0, run.stderr


def test_the_app_behind_the_front_sees_the_client_nginx_saw_and_its_scheme():
    app = Flask(__name__)
    app.get("/")(lambda: jsonify(addr=request.remote_addr, scheme=request.scheme))
    client = Client(behind_front(app))
    # nginx replaces X-Forwarded-For with the address it saw; one hop is trusted, no more.
    seen = client.get(
        "/",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
        headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https"},
    ).json
    assert seen == {"addr": "203.0.113.9", "scheme": "https"}


def test_a_request_the_front_checked_takes_one_bucket_token_and_no_one_else_can_claim_it(
    settings, controller_app, device_token
):
    settings.controller.upload_burst, settings.controller.upload_refill_per_s = 2, 0.001
    client = Client(behind_front(controller_app, "this-runs-secret"))
    token = {"Authorization": f"Bearer {device_token}"}
    asked = {
        **token,
        "X-Edgecloud-Front": "this-runs-secret",
        "X-Original-URI": "/v1/clips",
        "X-Original-Method": "POST",
    }
    assert [client.get("/_front/auth", headers=asked).status_code for _ in range(2)] == [204, 204]
    refused = client.get("/_front/auth", headers=asked)  # the bucket is empty: nginx answers 429 for it
    assert refused.status_code == 403 and refused.headers["X-Edgecloud-Status"] == "429"
    assert "requests in a burst" in json.loads(refused.headers["X-Edgecloud-Error"])["error"]
    assert int(refused.headers["Retry-After"]) > 0

    # The request nginx then passes on was counted by its check: not again.
    assert client.get("/v1/stats", headers={**token, "X-Edgecloud-Front": "this-runs-secret"}).status_code == 200
    # Anyone else's claim is worth nothing: counted, and the check itself is not there for them.
    assert client.get("/v1/stats", headers={**token, "X-Edgecloud-Front": "a-guess"}).status_code == 429
    assert client.get("/_front/auth", headers={**token, "X-Original-URI": "/v1/clips"}).status_code == 404
    missing = client.get("/_front/auth", headers={"X-Edgecloud-Front": "this-runs-secret"})
    assert missing.status_code == 403 and missing.headers["X-Edgecloud-Status"] == "401"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")


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
    """`controller serve` (4 threads, client_timeout_s 3, 3 requests a token at once, 6 an address
    off the API) and two devices' tokens:
    (controller, settings, tokens)."""
    settings = stack_settings
    settings.autoscaler.max_workers = 0  # uploads only
    settings.controller.threads = 4
    settings.controller.client_timeout_s = 3  # the tricklers below send every 0.5 s: a body's is never hit
    settings.controller.connections_per_token = 3
    settings.controller.connections_per_address = 6
    settings.controller.trusted_proxies = ["127.0.0.2/32"]  # as a load balancer would be
    tokens = issue_credentials(settings, ["pi-01", "leaked-01"])
    with ControllerProcess(settings, tmp_path) as controller:
        yield controller, settings, tokens


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


def _await_log_line(controller: ControllerProcess, text: str, timeout: float, nth: int = 1):
    """The controller's ``nth`` log line holding ``text`` (gunicorn logs a request after answering it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in controller.log_path.read_text().splitlines() if text in line]
        if len(found) >= nth:
            return found[nth - 1]
        time.sleep(0.1)
    return None


@pytest.mark.slow
def test_slow_sockets_hold_no_thread_and_are_closed(fronted, vtest_mp4):
    controller, settings, tokens = fronted
    token = tokens["pi-01"]
    body = vtest_mp4.read_bytes()
    # More tricklers than gunicorn has threads: without the front, each would hold one.
    with SlowSockets(controller.url, headers=12, bodies=6, device_token=tokens["leaked-01"], every_s=0.5) as slow:
        with ControllerClient(controller.url, token=token) as client:
            uploads = [upload_once(client, body, "pi-01") for _ in range(3)]
            assert slow.open_count() > settings.controller.threads  # held during the uploads
        assert [ok for ok, _, _ in uploads] == [True, True, True]

    # A body over the limit is refused before it is read, in the API's JSON shape.
    reply = _raw_request(
        controller,
        "127.0.0.1",
        f"POST /v1/clips HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\nConnection: close\r\n\r\n",
    )
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
        reply = _raw_request(
            controller,
            source,
            f"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\n"
            "X-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n",
        )
        assert reply.startswith(b"HTTP/1.1 200") and json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {"ok": True}
    assert _await_log_line(controller, '"stranger"', 10).startswith("127.0.0.3 ")
    assert _await_log_line(controller, '"proxy"', 10).startswith("203.0.113.7 ")

    # serve stops its nginx with it.
    nginx = _nginx_of(controller)
    controller.close()
    assert not nginx.is_running() or nginx.status() == psutil.STATUS_ZOMBIE


@pytest.mark.slow
def test_serve_fails_loudly_when_nginx_dies(fronted):
    controller, settings, _ = fronted
    serve = psutil.Process(controller.pid)
    _nginx_of(controller).send_signal(signal.SIGKILL)
    assert serve.wait(30) == 1
    assert "nginx (the front) exited" in controller.log_path.read_text()


def _trickled_reply(address, head: str, bound_s: float = 15) -> tuple[bytes, bool]:
    """Send ``head`` (a request header announcing a large body), then trickle its body, 16 bytes every
    0.2 s, until the server closes the socket or ``bound_s`` passes: (what the server sent, closed)."""
    reply = b""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head.encode())
        sock.settimeout(0.2)
        deadline = time.monotonic() + bound_s
        while time.monotonic() < deadline:
            try:
                sock.sendall(b"\0" * 16)
                chunk = sock.recv(4096)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return reply, True
            if not chunk:
                return reply, True
            reply += chunk
    return reply, False


def _trickle_together(address, heads: list[str], until_closed: int, bound_s: float = 15) -> list[tuple[bytes, bool]]:
    """Open one socket per header in ``heads`` and trickle each one's body (16 bytes every 0.2 s) until the
    server closed ``until_closed`` of them or ``bound_s`` passes: (what each was sent, closed) per socket."""
    socks = [socket.create_connection(address, timeout=10) for _ in heads]
    replies, closed = [b""] * len(socks), [False] * len(socks)
    try:
        for sock, head in zip(socks, heads):
            sock.sendall(head.encode())
            sock.setblocking(False)
        deadline = time.monotonic() + bound_s
        while sum(closed) < until_closed and time.monotonic() < deadline:
            time.sleep(0.2)  # the trickle's pace
            for i, sock in enumerate(socks):
                if closed[i]:
                    continue
                try:
                    sock.send(b"\0" * 16)
                    chunk = sock.recv(4096)
                except BlockingIOError:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    chunk = b""
                replies[i] += chunk
                closed[i] = not chunk
    finally:
        for sock in socks:
            sock.close()
    return list(zip(replies, closed))


def _upload_head(token=None) -> str:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST /v1/clips HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {10**7}\r\n\r\n"
    )


@pytest.mark.slow
def test_a_body_is_read_only_for_a_checked_token_and_a_token_trickles_few(fronted, vtest_mp4):
    controller, settings, tokens = fronted
    address = ("127.0.0.1", int(controller.url.rsplit(":", 1)[1]))
    # No token, a wrong one: answered from the header, the body dropped, the socket closed (lingering_time,
    # client_timeout_s: 3 s), whatever the client keeps sending.
    for token, why in ((None, "needs 'Authorization"), ("ecd_" + "x" * 43, "unknown or revoked")):
        reply, closed = _trickled_reply(address, _upload_head(token))
        head, _, body = reply.partition(b"\r\n\r\n")
        assert closed and head.startswith(b"HTTP/1.1 401") and b"WWW-Authenticate: Bearer" in head
        assert why in json.loads(body)["error"]

    # A leaked token's tricklers: connections_per_token (3) held, the next one refused at once and closed.
    with SlowSockets(controller.url, headers=0, bodies=3, device_token=tokens["leaked-01"], every_s=0.5) as held:
        # All three checked (so counted: nginx counts a request before it asks); their bodies wait on nginx.
        assert _await_log_line(controller, '"GET /_front/auth HTTP/1.0" 204', 10, nth=3)
        reply, closed = _trickled_reply(address, _upload_head(tokens["leaked-01"]))
        head, _, body = reply.partition(b"\r\n\r\n")
        assert closed and head.startswith(b"HTTP/1.1 429") and "at once" in json.loads(body)["error"]
        with ControllerClient(controller.url, token=tokens["pi-01"]) as client:  # the good device is not touched
            assert upload_once(client, vtest_mp4.read_bytes(), "pi-01")[0]
        assert held.open_count("body") == 3 and held.lifetimes["body"] == []  # never closed: no total deadline

    # Off the API (the dashboard's login form takes no bearer token), one address holds at most 6 bodies:
    # of 8 trickled logins, 2 (whichever nginx counts last) are refused and closed, 6 go on.
    login = (
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 4096\r\n\r\n"
    )
    replies = _trickle_together(address, [login] * 8, until_closed=2)
    refused = [reply for reply, closed in replies if closed]
    assert len(refused) == 2 and all(r.startswith(b"HTTP/1.1 429") and b"per address" in r for r in refused)
    assert [reply for reply, closed in replies if not closed] == [b""] * 6

    # The check answers nginx only.
    assert requests.get(f"{controller.url}/_front/auth", timeout=10).status_code == 404
