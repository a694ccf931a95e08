"""JSON over HTTP(S) for providers without an SDK in the runtime, on kept-alive connections, one per thread."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from .retry import RetryableProviderError, classify_status

__all__ = ["JsonHttpClient", "parse_retry_after"]


class JsonHttpClient:
    """POSTs JSON to one base URL and returns the decoded answer, or raises a classified ``ProviderError``.

    Connections are kept alive per thread: a TLS handshake per request would cost more than many requests.
    """

    def __init__(self, provider: str, base_url: str, headers: Mapping[str, str], *, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{provider}: base URL must be http(s)://host[:port][/path], got {base_url!r}")
        self.provider = provider
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
        self._timeout = timeout
        self._local = threading.local()

    def post(self, path: str, body: Any, *, timeout: float | None = None) -> Any:
        """POST ``body`` as JSON to ``path``; ``timeout`` (seconds) caps this call. Default: the client's timeout."""
        return self.post_payload(path, json.dumps(body, separators=(",", ":")).encode(), timeout=timeout)

    def post_payload(self, path: str, payload: bytes, *, timeout: float | None = None) -> Any:
        """POST ``payload``, a JSON document already serialized, to ``path``; otherwise as ``post``."""
        connection = self._connection(timeout if timeout is not None else self._timeout)
        try:
            connection.request("POST", self._prefix + path, body=payload, headers=self._headers)
            response = connection.getresponse()
            status, data = response.status, response.read()
            headers = {name.lower(): value for name, value in response.getheaders()}
        except (OSError, http.client.HTTPException) as error:
            self._drop_connection()
            kind = "timed out" if isinstance(error, socket.timeout | TimeoutError) else "connection failed"
            raise RetryableProviderError(self.provider, f"{kind}: {error.__class__.__name__}") from error
        if headers.get("connection", "").lower() == "close":
            self._drop_connection()
        if status >= 400:
            message, code = _error_details(data)
            raise classify_status(self.provider, status, message, code=code, retry_after=parse_retry_after(headers))
        try:
            return json.loads(data)
        except ValueError as error:
            # A proxy's error page or a cut-off body: the provider did not answer what it meant to.
            raise RetryableProviderError(self.provider, f"malformed JSON in a {status} answer") from error

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            factory = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = factory(self._host, self._port, timeout=timeout)
            self._local.connection = connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` (Anthropic) or ``retry-after`` (seconds or an HTTP date), else None."""
    if (milliseconds := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_details(data: bytes) -> tuple[str, str | None]:
    """The message and code of an error body: Anthropic's {error: {type, message, details}}, Pinecone's
    {code, message} or {error: {code, message}}, Voyage's {detail}. Never the request: it may hold user data."""
    try:
        body = json.loads(data)
    except ValueError:
        return "an error without a JSON body", None
    if not isinstance(body, dict):
        return "an error without a JSON object", None
    nested = body.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else body
    raw_details = error.get("details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    code = details.get("error_code") or error.get("code") or error.get("type")
    message = error.get("message") or body.get("detail") or "no message"
    return str(message)[:500], str(code) if code is not None else None
