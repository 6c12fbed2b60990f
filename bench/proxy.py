"""A TCP proxy the fault benchmarks put between two processes, to cut or stall the link for real.

``cut()`` closes every open connection and refuses new ones until ``restore()``
(a network down, an AWS endpoint gone); ``stall()`` keeps connections open
but forwards nothing (a request that hangs); ``retarget()`` points new
connections at another address (a controller restarted on a new port). A
moto server restarted instead would lose its state.
"""
from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit


class TcpProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to ``target_url``'s host and port."""

    def __init__(self, target_url: str):
        self._target = self._address(target_url)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._up = threading.Event()
        self._up.set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
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
        self._flowing.set()
        self._up.set()

    def stall(self) -> None:
        self._flowing.clear()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
        self._flowing.set()

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
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True, name="proxy-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._flowing.wait()
                if not self._up.is_set():
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._close(source)
            self._close(sink)
