"""A proxy the fault benchmarks put between two processes, to break the link for real.

``cut()`` closes every open connection and refuses new ones until ``restore()``
(a network down, an AWS endpoint gone); ``retarget()`` points new connections
at another address (a controller restarted on a new port). A moto server
restarted instead would lose its state.

``hold(match)`` breaks one kind of request rather than the whole link: the
proxy reads each HTTP request's line and headers off the stream (bodies framed
by Content-Length or chunked encoding, so a kept-alive connection's next
request is found too) and holds the ones ``match`` picks while every other
request flows, so one S3 PUT can hang while the token lookup and SQS go on.

The proxy counts what it did (``refused``, ``requests``): a scenario's evidence
that its fault happened.
"""

from __future__ import annotations

import socket
import threading
from typing import Callable, Optional
from urllib.parse import urlsplit

from .http_framing import Request, Stream, body, parse_head

SHORT_BODY = 65536  # bodies up to this size are read before a hold decides (an SQS call's JSON)
LINGER_S = 2.0  # after answering a held request, how long its client may take to close


class Hold:
    """Requests that ``match``: the ``skip``-th after ``skip`` earlier ones and ``count`` in all wait
    until ``release()`` (sent on), ``drop()`` (their connection closed unsent) or ``fail(reply)``
    (answered by the proxy with the raw HTTP ``reply``, never reaching the server)."""

    def __init__(self, match: Callable[[Request], bool], *, skip: int = 0, count: int = 1):
        self.match = match
        self.skip = skip
        self.count = count
        self.matched = 0
        self.held: list[Request] = []
        self._verdict: Optional[object] = None
        self._changed = threading.Condition()

    def claims(self, request: Request) -> bool:
        with self._changed:
            if self._verdict is not None or not self.match(request):
                return False
            self.matched += 1
            if not self.skip < self.matched <= self.skip + self.count:
                return False
            self.held.append(request)
            self._changed.notify_all()
            return True

    def wait_held(self, timeout: float) -> bool:
        """True once a request is held (False after ``timeout``)."""
        with self._changed:
            return bool(self._changed.wait_for(lambda: self.held, timeout))

    def verdict(self) -> object:
        with self._changed:
            self._changed.wait_for(lambda: self._verdict is not None)
            return self._verdict

    def _decide(self, verdict: object) -> None:
        with self._changed:
            if self._verdict is None:
                self._verdict = verdict
            self._changed.notify_all()

    def release(self) -> None:
        self._decide(_FORWARD)

    def drop(self) -> None:
        self._decide(_DROP)

    def fail(self, reply: bytes) -> None:
        self._decide(reply)


_FORWARD, _DROP = "forward", "drop"


class TcpProxy:
    """Listens on 127.0.0.1 (a free port) and forwards HTTP to ``target_url``'s host and port."""

    def __init__(self, target_url: str):
        self._target = self._address(target_url)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._holds: list[Hold] = []
        self._up = threading.Event()
        self._up.set()
        self._closed = False
        self.refused = 0  # connections refused while cut
        self.requests = 0  # requests sent on to the target
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    @staticmethod
    def _address(url: str) -> tuple[str, int]:
        parts = urlsplit(url)
        return parts.hostname, parts.port

    def retarget(self, target_url: str) -> None:
        self._target = self._address(target_url)

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            for sock in list(self._open):
                self._close(sock)

    def restore(self) -> None:
        self._up.set()

    def hold(self, match: Callable[[Request], bool], *, skip: int = 0, count: int = 1) -> Hold:
        """Hold requests ``match`` picks (see :class:`Hold`); the rest flow."""
        hold = Hold(match, skip=skip, count=count)
        with self._lock:
            self._holds.append(hold)
        return hold

    def close(self) -> None:
        self._closed = True
        for hold in self._holds:
            hold.drop()
        self.cut()
        self._listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _close(self, sock: socket.socket) -> None:
        self._open.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                self.refused += 1
                client.close()  # refused: like a host that is not there
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(
                target=self._pump_requests, args=(client, upstream), daemon=True, name="proxy-requests"
            ).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True, name="proxy-replies").start()

    def _held(self, request: Request) -> Optional[Hold]:
        with self._lock:
            return next((hold for hold in self._holds if hold.claims(request)), None)

    def _send(self, sink: socket.socket, data: bytes) -> None:
        if not self._up.is_set():
            raise EOFError  # cut meanwhile
        sink.sendall(data)

    def _pump_requests(self, client: socket.socket, upstream: socket.socket) -> None:
        stream = Stream(client)
        try:
            while True:
                head = stream.until(b"\r\n\r\n")
                request = parse_head(head)
                rest = body(stream, request.headers)
                length = request.headers.get("content-length", "")
                if (
                    length.isdigit()
                    and int(length) <= SHORT_BODY
                    and "expect" not in request.headers
                    and "transfer-encoding" not in request.headers
                ):
                    request.body = b"".join(rest)
                    rest = iter(())
                hold = self._held(request)
                verdict = hold.verdict() if hold else _FORWARD
                if verdict == _DROP:
                    break
                if verdict != _FORWARD:
                    self._answer(client, verdict)
                    break
                self._send(upstream, head + (request.body or b""))
                for piece in rest:
                    self._send(upstream, piece)
                self.requests += 1
        except (OSError, EOFError, ValueError):
            pass
        with self._lock:
            self._close(client)
            self._close(upstream)

    @staticmethod
    def _answer(client: socket.socket, reply: bytes) -> None:
        """Answer in the server's stead, then let the client close first: closing on unread
        request bytes would reset the connection and could lose the answer."""
        client.sendall(reply)
        client.shutdown(socket.SHUT_WR)
        client.settimeout(LINGER_S)
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._send(sink, data)
        except (OSError, EOFError):
            pass
        with self._lock:
            self._close(source)
            self._close(sink)
