"""A loopback proxy in front of DynamoDB Local that counts each operation's requests per table and answers chosen
requests with DynamoDB's throttling error, so tests see real throttling and benchmarks count real requests.

Point a function at it with ``AWS_ENDPOINT_URL_DYNAMODB`` (``LocalRunner``'s ``environment_overrides``); the runner's
own reads of the streams go straight to DynamoDB Local.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any

from constructs_pkg.local.stubs.server import LoopbackServer

__all__ = ["DynamoDBProxy"]

# What DynamoDB answers under load: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
_THROTTLING = {"__type": "com.amazon.coral.availability#ThrottlingException", "message": "Rate exceeded"}


class DynamoDBProxy(LoopbackServer):
    """Forwards to ``upstream`` (DynamoDB Local's URL). ``requests`` counts (operation, table) pairs, e.g.
    ``("UpdateItem", "sales")``; ``throttle(operation, every=n)`` answers every n-th request of ``operation`` with a
    ThrottlingException (400) instead, counted in ``throttled``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: Counter[tuple[str, str]] = Counter()
        self.throttled = 0
        self._throttle: tuple[str, int] | None = None
        self._seen = itertools.count(1)
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def throttle(self, operation: str, *, every: int) -> None:
        self._throttle = (operation, every)

    def count(self, operation: str, table: str | None = None) -> int:
        return sum(n for (op, name), n in self.requests.items() if op == operation and table in (None, name))

    def _throttles(self, operation: str) -> bool:
        if self._throttle is None or self._throttle[0] != operation:
            return False
        with self._lock:
            if next(self._seen) % self._throttle[1]:
                return False
            self.throttled += 1
            return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                if proxy._throttles(operation):
                    self._answer(400, json.dumps(_THROTTLING).encode())
                    return
                with proxy._lock:
                    proxy.requests[(operation, str(json.loads(body or b"{}").get("TableName", "")))] += 1
                headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                request = urllib.request.Request(proxy.upstream, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        self._answer(answer.status, answer.read())
                except urllib.error.HTTPError as answer:
                    self._answer(answer.code, answer.read())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler
