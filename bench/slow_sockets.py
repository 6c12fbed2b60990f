"""Slow sockets: requests to the controller that trickle and never complete, held open under pressure.

Header tricklers (no token) send one header line every ``every_s`` and never end their header; body
tricklers (a device token) send a whole header announcing a large clip, then a few bytes of it every
``every_s``. A trickler the server closes is opened again at once, so the pressure holds. Apart from
:mod:`.slow_clients` (the bench that judges a front against them) because the front's own tests hold
them too: the sockets are the fault, not the measure of it.
"""

from __future__ import annotations

import itertools
import selectors
import socket
import threading
import time
from collections import Counter
from typing import Optional
from urllib.parse import urlsplit

BOUNDARY = "slowslowslow"
BODY_BYTES = 10_000_000  # what a body trickler announces; it never sends that much


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
