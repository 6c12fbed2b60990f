"""Slow clients: sockets that trickle a request while a good device uploads, measured in one run.

Header tricklers (no token) send one header line every ``trickle_every_s`` and never end their
header; body tricklers (a device token) send a whole header announcing a large clip, then a few
bytes of it every ``trickle_every_s``. A trickler the server closes is opened again at once, so
the pressure holds for the whole hold. The figures: the good device's upload latency without and
then with the slow sockets, how many slow sockets were open while it uploaded (the fault
happened), how long the server let each closed one live (against ``client_timeout_s``), what it
answered before closing (``refused``: status -> count), and how many were never closed: open at
the end and open since the start (``held_whole_hold``). nginx has no total deadline for a body:
body tricklers whose token passed its check stay open (at most ``connections_per_token`` per
token); the figures say how many did.
"""

from __future__ import annotations

import itertools
import json
import selectors
import socket
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import click
import numpy as np

from edgecloud.aws import Aws
from edgecloud.config import load
from edgecloud.localcloud import ControllerProcess, EmbeddedAws, issue_credentials, local_cloud_settings
from edgecloud.protocol.client import ControllerClient
from edgecloud.provision import ensure_resources

from .upload import upload_once

BOUNDARY = "slowslowslow"
BODY_BYTES = 10_000_000  # what a body trickler announces; it never sends that much
# Past client_timeout_s the front closes a trickler; this covers its timer's granularity and our latency.
CLOSE_MARGIN_S = 5


def _ms(values: list[float], q: float) -> Optional[float]:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


class SlowSockets:
    """``headers`` + ``bodies`` sockets to ``base_url`` (http), each trickling a request that never completes.

    One thread drives them all: it waits on the sockets (a close is seen the moment it comes) and
    sends the next piece to each every ``every_s``. ``lifetimes[kind]``: seconds each closed one lived."""

    def __init__(self, base_url: str, *, headers: int, bodies: int, device_token: str, every_s: float = 2.0):
        url = urlsplit(base_url)
        if url.scheme != "http":
            raise ValueError(f"slow sockets speak plain HTTP, not {url.scheme}")
        self.address = (url.hostname, url.port or 80)
        self.wanted = {"header": headers, "body": bodies}
        self.token, self.every_s = device_token, every_s
        self.lifetimes: dict[str, list[float]] = {"header": [], "body": []}
        self.refused: dict[str, Counter] = {"header": Counter(), "body": Counter()}  # closed ones, by the status sent
        self._replies: dict[socket.socket, bytes] = {}
        self.failed_connects = 0
        self._selector = selectors.DefaultSelector()
        self._open: dict[socket.socket, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-sockets", daemon=True)
        self._pieces = itertools.count()

    def open_count(self, kind: Optional[str] = None) -> int:
        with self._lock:
            return sum(1 for k, _ in self._open.values() if kind in (None, k))

    def open_since(self, kind: str, when: float) -> int:
        """How many ``kind`` sockets open now were opened at or before ``when`` (never closed since)."""
        with self._lock:
            return sum(1 for k, opened in self._open.values() if k == kind and opened <= when)

    def start(self) -> "SlowSockets":
        for kind, n in self.wanted.items():
            for _ in range(n):
                self._connect(kind)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in list(self._open):
            self._forget(sock, closed_by_server=False)
        self._selector.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _first_bytes(self, kind: str) -> bytes:
        head = f"POST /v1/clips HTTP/1.1\r\nHost: {self.address[0]}:{self.address[1]}\r\n"
        if kind == "header":
            return head.encode()  # and never the blank line that ends it
        return (
            head + f"Authorization: Bearer {self.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {BODY_BYTES}\r\n\r\n"
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="clip"; filename="c.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()

    def _connect(self, kind: str) -> None:
        try:
            sock = socket.create_connection(self.address, timeout=10)
            sock.sendall(self._first_bytes(kind))
        except OSError:
            self.failed_connects += 1
            return
        sock.setblocking(False)
        with self._lock:
            self._open[sock] = (kind, time.monotonic())
        self._selector.register(sock, selectors.EVENT_READ)

    def _forget(self, sock: socket.socket, *, closed_by_server: bool) -> None:
        with self._lock:
            kind, opened = self._open.pop(sock)
        reply = self._replies.pop(sock, b"")
        if closed_by_server:
            self.lifetimes[kind].append(time.monotonic() - opened)
            status = reply.split(b" ", 2)[1].decode(errors="replace") if reply.startswith(b"HTTP/") else None
            if status:
                self.refused[kind][status] += 1
        self._selector.unregister(sock)
        sock.close()
        if closed_by_server and not self._stop.is_set():
            self._connect(kind)  # the pressure holds: another takes its place

    def _piece(self, kind: str) -> bytes:
        n = next(self._pieces)
        return f"X-Slow-{n}: x\r\n".encode() if kind == "header" else b"\0" * 16

    def _run(self) -> None:
        next_send = time.monotonic() + self.every_s
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=max(0.0, min(next_send - time.monotonic(), 0.5))):
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""  # reset: closed all the same
                if not data:
                    self._forget(key.fileobj, closed_by_server=True)
                else:  # a reply (a refusal) the server sends before closing: the close follows
                    self._replies[key.fileobj] = self._replies.get(key.fileobj, b"") + data[:64]
            if time.monotonic() >= next_send:
                next_send += self.every_s
                with self._lock:
                    sockets = list(self._open.items())
                for sock, (kind, _) in sockets:
                    try:
                        sock.send(self._piece(kind))
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self._forget(sock, closed_by_server=True)


def _paced_uploads(
    url: str,
    clip: bytes,
    device_id: str,
    token: str,
    *,
    every_s: float,
    until=None,
    count=None,
    during: Optional[SlowSockets] = None,
) -> dict:
    """Upload ``count`` clips (or until ``until``), one every ``every_s``; p50/p99 of the good ones."""
    results, slow_open = [], []
    with ControllerClient(url, token=token) as controller:
        next_at = time.monotonic()
        while (count is None or len(results) < count) and (until is None or time.monotonic() < until):
            time.sleep(max(0.0, next_at - time.monotonic()))  # pacing, so the device stays within its quota
            next_at += every_s
            if during is not None:
                slow_open.append(during.open_count())
            ok, seconds, _ = upload_once(controller, clip, device_id)
            results.append((ok, seconds))
    good = [s for ok, s in results if ok]
    figures = {
        "uploads": len(results),
        "ok": len(good),
        "p50_ms": _ms(good, 50),
        "p99_ms": _ms(good, 99),
        "max_ms": _ms(good, 100),
    }
    if during is not None:
        figures["slow_sockets_open_min"] = min(slow_open, default=0)  # while each upload started
    return figures


def measure_slow_clients(
    base_url: str,
    device_token: str,
    clip: Path,
    *,
    device_id: str = "pi-01",
    header_sockets: int = 200,
    body_sockets: int = 50,
    hold_s: float = 60,
    uploads: int = 10,
    upload_every_s: float = 2.0,
    trickle_every_s: float = 2.0,
    client_timeout_s: float = 30,
    body_token: Optional[str] = None,
) -> dict:
    """A good device's uploads without, then with, slow sockets held ``hold_s``, in one run.

    ``device_token`` is ``device_id``'s, for the good uploads; the body tricklers carry ``body_token``
    (another device's, leaked), else the same. ``client_timeout_s``: the controller's setting, to
    judge whether it closed the tricklers in time."""
    body = Path(clip).read_bytes()
    warmup = _paced_uploads(base_url, body, device_id, device_token, every_s=0, count=1)  # first-request costs
    without = _paced_uploads(base_url, body, device_id, device_token, every_s=upload_every_s, count=uploads)
    started = time.monotonic()
    with SlowSockets(
        base_url,
        headers=header_sockets,
        bodies=body_sockets,
        device_token=body_token or device_token,
        every_s=trickle_every_s,
    ) as slow:
        opened_s = time.monotonic() - started
        with_slow = _paced_uploads(
            base_url, body, device_id, device_token, every_s=upload_every_s, until=started + hold_s, during=slow
        )
        open_at_end = {kind: slow.open_count(kind) for kind in ("header", "body")}
        held = {kind: slow.open_since(kind, started + opened_s) for kind in ("header", "body")}
    in_time = client_timeout_s + CLOSE_MARGIN_S
    closed = {
        kind: {
            "closed": len(lives),
            "closed_within_timeout": sum(1 for s in lives if s <= in_time),
            "lived_p50_s": round(float(np.median(lives)), 1) if lives else None,
            "lived_max_s": round(max(lives), 1) if lives else None,
            "refused": dict(sorted(slow.refused[kind].items())),
            "open_at_end": open_at_end[kind],
            "held_whole_hold": held[kind],
        }
        for kind, lives in slow.lifetimes.items()
    }
    return {
        "header_sockets": header_sockets,
        "body_sockets": body_sockets,
        "hold_s": hold_s,
        "trickle_every_s": trickle_every_s,
        "client_timeout_s": client_timeout_s,
        "clip_bytes": len(body),
        "slow_sockets_opened_in_s": round(opened_s, 2),
        "failed_connects": slow.failed_connects,
        "warmup_ms": warmup["max_ms"],
        "without_slow_sockets": without,
        "with_slow_sockets": with_slow,
        "header_tricklers": closed["header"],
        "body_tricklers": closed["body"],
    }


@click.command()
@click.option(
    "--clip",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The clip the good device uploads (e.g. vtest-5s.mp4).",
)
@click.option("--header-sockets", type=int, default=200, show_default=True)
@click.option("--body-sockets", type=int, default=50, show_default=True)
@click.option("--hold-s", type=float, default=60, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
def main(clip, header_sockets, body_sockets, hold_s, json_path):
    """`controller serve` on embedded AWS (its own process; settings from EDGECLOUD_CONFIG and the
    environment), then measure_slow_clients against it."""
    with tempfile.TemporaryDirectory(prefix="edgecloud-slow-") as tmp, EmbeddedAws(own_process=True) as moto:
        s = local_cloud_settings(load(), workdir=Path(tmp), endpoint_url=moto.endpoint_url, idle_timeout=10)
        s.autoscaler.max_workers = 0  # uploads only
        ensure_resources(Aws(s.aws), s)
        tokens = issue_credentials(s, ["pi-01", "leaked-01"])
        with ControllerProcess(s, Path(tmp)) as controller:
            report = measure_slow_clients(
                controller.url,
                tokens["pi-01"],
                clip,
                header_sockets=header_sockets,
                body_sockets=body_sockets,
                hold_s=hold_s,
                body_token=tokens["leaked-01"],
                client_timeout_s=s.controller.client_timeout_s,
            )
    text = json.dumps(report, indent=2)
    print(text)
    if json_path:
        json_path.write_text(text)


if __name__ == "__main__":
    main()
