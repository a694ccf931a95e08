"""HTTP(S) requests to an AWS endpoint that has no boto3 client for its data plane (the AppSync Events API's publish,
an OpenSearch domain or collection), signed with SigV4 for the function's own role, on kept-alive connections.

botocore signs (``botocore.auth.SigV4Auth``): the same code boto3 signs every AWS call with. Credentials come from
boto3's session on every request, so credentials the runtime refreshes are picked up without a new client.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .http import parse_retry_after
from .retry import ProviderError, RetryableProviderError, classify_status

__all__ = ["EXPIRED_TOKEN_CODE", "HttpAnswer", "SignedHttpClient", "error_of"]

# How AWS front ends say that the signature's session token has expired: retryable, since the next attempt signs with
# the credentials the runtime has refreshed meanwhile (and the next invocation gets fresh ones anyway).
EXPIRED_TOKEN_CODE = "ExpiredToken"
_EXPIRED_MARKERS = ("expired", "ExpiredToken")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class SignedHttpClient:
    """Requests to ``base_url`` (``https://host[:port]``, or http for a local stub), signed for ``service``
    (``appsync``, ``es``, ``aoss``) in ``region`` (Default: - boto3's region, AWS_REGION in Lambda).

    ``request`` returns every answer, errors included; ``json`` raises a classified ``ProviderError`` for a status
    of 400 or more (408, 409, 429, 5xx and an expired token retryable, the rest final) and for a transport failure
    (retryable).
    """

    def __init__(self, provider: str, base_url: str, *, service: str, region: str | None = None) -> None:
        parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{provider}: the endpoint must be a host or an http(s) URL, got {base_url!r}")
        self.provider = provider
        self.service = service
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._netloc = parts.netloc
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._region = region
        self._session: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        timeout: float,
        content_type: str = "application/json",
    ) -> HttpAnswer:
        """Send one signed request; raises RetryableProviderError when it never got an answer."""
        headers = self._signed_headers(method, path, body, content_type)
        connection = self._connection(timeout)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            status, data = response.status, response.read()
            answer_headers = {name.lower(): value for name, value in response.getheaders()}
        except (OSError, http.client.HTTPException) as error:
            self._drop_connection()
            kind = "timed out" if isinstance(error, socket.timeout | TimeoutError) else "connection failed"
            raise RetryableProviderError(self.provider, f"{kind}: {error.__class__.__name__}") from error
        if answer_headers.get("connection", "").lower() == "close":
            self._drop_connection()
        return HttpAnswer(status, answer_headers, data)

    def json(self, method: str, path: str, body: Any = None, *, timeout: float) -> Any:
        """Send ``body`` as JSON (none for None) and decode the answer; raises a classified ProviderError."""
        payload = b"" if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        answer = self.request(method, path, payload, timeout=timeout)
        if answer.status >= 400:
            raise error_of(self.provider, answer)
        try:
            return answer.json()
        except ValueError as error:
            raise RetryableProviderError(self.provider, f"malformed JSON in a {answer.status} answer") from error

    def _signed_headers(self, method: str, path: str, body: bytes, content_type: str) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = self._boto_session()
        credentials = session.get_credentials()
        if credentials is None:
            raise RetryableProviderError(self.provider, "no AWS credentials to sign the request with")
        region = self._region or session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
        request = AWSRequest(
            method=method,
            url=self._base + path,
            data=body,
            headers={"Content-Type": content_type, "Host": self._netloc},
        )
        SigV4Auth(credentials.get_frozen_credentials(), self.service, region).add_auth(request)
        return dict(request.headers.items())

    def _boto_session(self) -> Any:
        with self._lock:
            if self._session is None:
                import boto3

                self._session = boto3.session.Session()
            return self._session

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


def error_of(provider: str, answer: HttpAnswer) -> ProviderError:
    """The classified error of an answer with a status of 400 or more; never the request, which may hold user data."""
    message, code = _details(answer.body)
    retry_after = parse_retry_after(answer.headers)
    if answer.status == 403 and (
        code in ("ExpiredTokenException", EXPIRED_TOKEN_CODE) or any(marker in message for marker in _EXPIRED_MARKERS)
    ):
        return RetryableProviderError(provider, message, status=403, code=EXPIRED_TOKEN_CODE, retry_after=retry_after)
    return classify_status(provider, answer.status, message, code=code, retry_after=retry_after)


def _details(data: bytes) -> tuple[str, str | None]:
    """The message and code of an AWS or OpenSearch error body: {message, __type}, {Message}, {errors: [...]} or
    OpenSearch's {error: {type, reason}}."""
    try:
        body = json.loads(data)
    except ValueError:
        return "an error without a JSON body", None
    if not isinstance(body, dict):
        return "an error without a JSON object", None
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or "no reason")[:500], _text(error.get("type"))
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("message") or "no message")[:500], _text(first.get("errorType"))
    message = body.get("message") or body.get("Message") or "no message"
    code = body.get("__type") or body.get("code")
    return str(message)[:500], _text(code.rpartition("#")[2] if isinstance(code, str) else code)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
