"""A threaded HTTP server on 127.0.0.1 with a route table, a request log and scripted faults.

A provider stub is a ``StubServer`` with routes: ``route(method, path_regex, handler)`` where ``handler(request)``
returns a ``Reply``. ``fail_next(path_regex, *replies)`` queues replies (a status with headers and a body, a
delay to cause a client timeout, or a malformed body) that the next matching requests get instead of the route's
answer, so a test can say exactly which request fails and how. ``latency`` delays every answer, for benchmarks.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["LoopbackServer", "Reply", "Request", "StubServer"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of ``body`` as JSON: malformed answers
    delay: float = 0.0  # seconds before answering: longer than the client's timeout makes it time out

    @staticmethod
    def error(status: int, body: Any = None, **headers: str) -> Reply:
        return Reply(status=status, body=body if body is not None else {"error": {"message": f"stub {status}"}},
                     headers=headers)  # fmt: skip


Route = tuple[str, re.Pattern[str], Callable[[Request], Reply]]


class _ThreadingServer(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: clients of a burst beyond that wait a second for a SYN retransmit,
    # which hides the concurrency a test measures.
    request_queue_size = 128


class LoopbackServer:
    """Serves ``handler`` on 127.0.0.1 at a free port from a thread while used as a context manager; ``url`` is its
    base URL. The stubs and the counting proxies are these."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _ThreadingServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        # shutdown() waits for the loop's next poll, half a second by default: per server, per test.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class StubServer(LoopbackServer):
    """Serves routes on 127.0.0.1 at a free port; ``url`` is its base URL. Use as a context manager."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[Request] = []
        # How many answers had a status of 400 or more.
        self.errors = 0
        self._routes: list[Route] = []
        self._faults: list[tuple[re.Pattern[str], deque[Reply]]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real providers
            # An answer goes out in two sends (headers, body): with Nagle's algorithm on, a kept-alive connection
            # would hold the body until the client's delayed ACK, up to 40 ms later, on top of ``latency``.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                stub._serve(self)

            def do_GET(self) -> None:
                stub._serve(self)

            def do_DELETE(self) -> None:
                stub._serve(self)

            def do_PUT(self) -> None:
                stub._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)

    def route(self, method: str, path: str, handler: Callable[[Request], Reply]) -> None:
        self._routes.append((method, re.compile(path), handler))

    def fail_next(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._faults.append((re.compile(path), deque(replies)))

    def requests_to(self, path: str) -> list[Request]:
        pattern = re.compile(path)
        return [request for request in self.requests if pattern.search(request.path)]

    @contextmanager
    def latency_of(self, seconds: float) -> Iterator[None]:
        previous, self.latency = self.latency, seconds
        try:
            yield
        finally:
            self.latency = previous

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()},
                          handler.rfile.read(length))  # fmt: skip
        with self._lock:
            self.requests.append(request)
            reply = self._take_fault(request.path)
        if reply is None:
            reply = self._answer(request)
        if reply.status >= 400:
            with self._lock:
                self.errors += 1
        time.sleep(self.latency + reply.delay)
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            if not any(name.lower() == "content-type" for name in reply.headers):
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout under test)

    def _take_fault(self, path: str) -> Reply | None:
        for pattern, replies in self._faults:
            if replies and pattern.search(path):
                return replies.popleft()
        return None

    def _answer(self, request: Request) -> Reply:
        for method, pattern, route in self._routes:
            if method == request.method and pattern.search(request.path):
                return route(request)
        return Reply.error(404, {"message": f"no stub route for {request.method} {request.path}"})
