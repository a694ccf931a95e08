"""A loopback proxy in front of a local S3 (moto's server) that counts requests by method and answers chosen ones
with S3's 503 SlowDown, so tests see a failing S3 that recovers and benchmarks count real requests.

Point a function at it with ``AWS_ENDPOINT_URL_S3`` (``LocalRunner``'s ``environment_overrides``).
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any

from constructs_pkg.local.stubs.server import LoopbackServer

__all__ = ["S3Proxy"]

# https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
# Hop-by-hop or recomputed by urllib from the body it is handed (a chunked body arrives joined).
_NOT_FORWARDED = frozenset({"host", "expect", "transfer-encoding", "content-length"})


class S3Proxy(LoopbackServer):
    """Forwards to ``upstream``. ``requests`` counts requests by method (``PUT``, ``GET``, ...);
    ``fail_next(method, times)`` answers the next ``times`` requests of ``method`` with 503 SlowDown, counted in
    ``failed``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: Counter[str] = Counter()
        self.failed = 0
        self._failing: Counter[str] = Counter()
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def fail_next(self, method: str, times: int) -> None:
        with self._lock:
            self._failing[method] = times

    def _fails(self, method: str) -> bool:
        with self._lock:
            self.requests[method] += 1
            if self._failing[method] <= 0:
                return False
            self._failing[method] -= 1
            self.failed += 1
            return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self._body()
                if proxy._fails(self.command):
                    self._answer(503, {"Content-Type": "application/xml"}, _SLOW_DOWN)
                    return
                headers = {name: value for name, value in self.headers.items() if name.lower() not in _NOT_FORWARDED}
                if body is not None:
                    # Else urllib calls the body a form, moto's server reads it as one, and the object comes out empty.
                    headers.setdefault("Content-Type", "binary/octet-stream")
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        self._answer(answer.status, dict(answer.headers), answer.read())
                except urllib.error.HTTPError as answer:
                    self._answer(answer.code, dict(answer.headers), answer.read())

            def _body(self) -> bytes | None:
                """The request's body; one sent in HTTP chunks (botocore's streamed uploads) is joined."""
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    length = int(self.headers.get("Content-Length") or 0)
                    return self.rfile.read(length) if length else None
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline().strip():
                    pass  # the trailer, if any, up to the blank line
                return b"".join(chunks)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler
