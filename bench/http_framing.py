"""HTTP/1.1 requests read off a byte stream, as a proxy in the middle sees them: each request's line and
headers, and its body framed by Content-Length or chunked encoding, so the next request on a kept-alive
connection is found where it starts."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Iterator, Optional

HEAD_LIMIT = 65536  # bytes of request line and headers; past that the stream is not HTTP we follow


@dataclass
class Request:
    """One request as the proxy saw it: ``body`` is whole when short and sent with its head."""

    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    body: Optional[bytes] = None

    def json(self) -> dict:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return {}


def http_reply(status: int, reason: str, body: bytes, content_type: str = "application/xml") -> bytes:
    """A whole HTTP response that closes its connection, for ``Hold.fail``."""
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class Stream:
    """A socket read with a buffer: up to a marker, or a number of bytes in pieces."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            if len(self.buf) > HEAD_LIMIT:
                raise ValueError("no end of an HTTP head")
            self._fill()
        end = self.buf.index(marker) + len(marker)
        found, self.buf = self.buf[:end], self.buf[end:]
        return found

    def pieces(self, n: int) -> Iterator[bytes]:
        while n > 0:
            if not self.buf:
                self._fill()
            piece, self.buf = self.buf[:n], self.buf[n:]
            n -= len(piece)
            yield piece


def parse_head(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return Request(method, target, headers)


def body(stream: Stream, headers: dict[str, str]) -> Iterator[bytes]:
    """The body's bytes as they arrive, framed as HTTP/1.1 frames a request's."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            line = stream.until(b"\r\n")
            yield line
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = stream.until(b"\r\n")
                    yield trailer
                    if trailer == b"\r\n":
                        return
            yield from stream.pieces(size + 2)
    yield from stream.pieces(int(headers.get("content-length", 0)))
