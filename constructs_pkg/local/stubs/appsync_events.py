"""An AppSync Events API on 127.0.0.1: HTTP publish and the WebSocket subscribe protocol, for real clients.

- ``POST /event`` publishes, as https://docs.aws.amazon.com/appsync/latest/eventapi/publish-http.html describes:
  ``{"channel", "events": [<stringified JSON>, ...]}``, 1 to 5 events of at most 240 KB each, authorized by
  ``x-api-key`` or by a SigV4 signature for ``appsync`` (checked: ``SigV4Verifier``). The answer lists each event as
  ``successful`` or ``failed`` (``fail_events_when(marker, ...)`` fails the events holding ``marker``; ``fail_next``
  answers whole requests with scripted errors).
- ``GET /event/realtime`` upgrades to a WebSocket with the sub-protocols ``aws-appsync-event-ws`` and
  ``header-<base64url JSON of the authorization headers>``, then speaks the protocol of
  https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-websocket-protocol.html: ``connection_init`` ->
  ``connection_ack`` (with ``connectionTimeoutMs``) and ``ka`` keep-alives; ``subscribe`` (id, channel, authorization)
  -> ``subscribe_success`` or ``subscribe_error``; each event published to a matching channel -> ``data`` (id,
  ``event`` as the stringified JSON); ``unsubscribe`` -> ``unsubscribe_success``; ``publish`` -> ``publish_success``.
  A channel ending in ``/*`` matches every channel below it.

Not emulated: Cognito, Lambda and OIDC authorizers, namespace handlers (onPublish, onSubscribe) and data sources,
quotas and throttling (script them with ``fail_next``), custom domains.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from lambda_src.contract import FEED_MAX_EVENT_BYTES, FEED_MAX_EVENTS_PER_PUBLISH

from .server import Reply, Request, StubServer
from .sigv4 import SigV4Verifier
from .websocket import ConnectionClosed, WebSocket, accept_key

__all__ = ["API_KEY", "SUBPROTOCOL", "AppSyncEventsStub", "Published", "auth_subprotocol", "channel_matches"]

API_KEY = "da2-localstubkey0000000000000"
SUBPROTOCOL = "aws-appsync-event-ws"
CONNECTION_TIMEOUT_MS = 300_000
_CHANNEL = re.compile(
    r"/[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?(?:/(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?))*"
)


@dataclass(frozen=True)
class Published:
    """One event the API accepted: its channel and stringified JSON."""

    channel: str
    event: str

    def json(self) -> Any:
        return json.loads(self.event)


def auth_subprotocol(headers: Mapping[str, str]) -> str:
    """The ``header-...`` sub-protocol carrying ``headers`` as base64url JSON, without padding."""
    encoded = base64.urlsafe_b64encode(json.dumps(dict(headers)).encode()).decode().rstrip("=")
    return f"header-{encoded}"


def channel_matches(pattern: str, channel: str) -> bool:
    """Whether a subscription to ``pattern`` receives events published to ``channel``."""
    if pattern.endswith("/*"):
        return channel.startswith(pattern[:-1])
    return pattern == channel


class _Subscriber:
    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self.subscriptions: dict[str, str] = {}  # id -> channel pattern


class AppSyncEventsStub(StubServer):
    """The Events API's HTTP and real-time endpoints at one ``url``; ``http_domain`` and ``realtime_url`` are what a
    client is configured with. ``namespaces`` (Default: - any) are the channel namespaces that exist. ``ka_seconds``
    (Default: 60) is the keep-alive interval."""

    PUBLISH = r"^/event$"

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        namespaces: Collection[str] | None = None,
        ka_seconds: float = 60.0,
        latency: float = 0.0,
    ) -> None:
        super().__init__(latency=latency)
        self.api_key = api_key
        self.namespaces = None if namespaces is None else frozenset(namespaces)
        self.ka_seconds = ka_seconds
        self.signatures = SigV4Verifier("appsync")
        self.published: list[Published] = []
        self.publishes: list[tuple[str, int]] = []  # (channel, events) per accepted request
        self._subscribers: list[_Subscriber] = []
        self._event_faults: list[tuple[str, int, str]] = []
        self._state = threading.Lock()
        self.route("POST", self.PUBLISH, self._publish)

    @property
    def http_domain(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def realtime_url(self) -> str:
        return f"ws://{self.http_domain}/event/realtime"

    def fail_events_when(self, marker: str, *, code: int = 400, message: str = "event refused", times: int = 1) -> None:
        """List the next ``times`` events holding ``marker`` as failed, with ``code`` and ``message``."""
        with self._state:
            self._event_faults.extend([(marker, code, message)] * times)

    def subscriber_count(self) -> int:
        with self._state:
            return sum(len(subscriber.subscriptions) for subscriber in self._subscribers)

    # --- HTTP publish ---------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> Reply | None:
        if self.signatures.is_signed(request):
            return self.signatures.refusal(request)
        if request.headers.get("x-api-key") == self.api_key:
            return None
        return _errors(401, "UnauthorizedException", "You are not authorized to make this call.")

    def _publish(self, request: Request) -> Reply:
        refusal = self._authorized(request)
        if refusal is not None:
            return refusal
        try:
            body = request.json()
            channel, events = body["channel"], body["events"]
        except (ValueError, KeyError, TypeError):
            return _errors(400, "BadRequestException", "channel and events are required")
        problem = self._publish_problem(channel, events)
        if problem is not None:
            return _errors(400, "BadRequestException", problem)
        successful, failed = self._deliver(channel, events)
        return Reply(body={"failed": failed, "successful": successful})

    def _publish_problem(self, channel: Any, events: Any) -> str | None:
        if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel) or channel.count("/") > 5:
            return f"invalid channel {channel!r}"
        if self.namespaces is not None and channel.split("/")[1] not in self.namespaces:
            return f"no channel namespace {channel.split('/')[1]!r}"
        if not isinstance(events, list) or not 1 <= len(events) <= FEED_MAX_EVENTS_PER_PUBLISH:
            return f"events must be a list of 1 to {FEED_MAX_EVENTS_PER_PUBLISH} stringified JSON values"
        return None

    def _deliver(self, channel: str, events: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        successful, failed = [], []
        accepted = []
        for index, event in enumerate(events):
            identifier = str(uuid.uuid4())
            refusal = self._event_refusal(event)
            if refusal is not None:
                failed.append({"identifier": identifier, "index": index, "code": refusal[0], "message": refusal[1]})
                continue
            successful.append({"identifier": identifier, "index": index})
            accepted.append(event)
        with self._state:
            self.publishes.append((channel, len(events)))
            for event in accepted:
                self.published.append(Published(channel, event))
            subscribers = [
                (subscriber, subscription_id)
                for subscriber in self._subscribers
                for subscription_id, pattern in subscriber.subscriptions.items()
                if channel_matches(pattern, channel)
            ]
        for event in accepted:
            for subscriber, subscription_id in subscribers:
                with contextlib.suppress(ConnectionClosed):
                    subscriber.socket.send(json.dumps({"type": "data", "id": subscription_id, "event": event}))
        return successful, failed

    def _event_refusal(self, event: Any) -> tuple[int, str] | None:
        if not isinstance(event, str):
            return 400, "an event must be a stringified JSON value"
        if len(event.encode()) > FEED_MAX_EVENT_BYTES:
            return 400, f"event exceeds the maximum size of {FEED_MAX_EVENT_BYTES} bytes"
        try:
            json.loads(event)
        except ValueError:
            return 400, "an event must be valid JSON"
        with self._state:
            for position, (marker, code, message) in enumerate(self._event_faults):
                if marker in event:
                    del self._event_faults[position]
                    return code, message
        return None

    # --- WebSocket ------------------------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "GET" and handler.path.split("?")[0] == "/event/realtime":
            self._realtime(handler)
            return
        super()._serve(handler)

    def _realtime(self, handler: BaseHTTPRequestHandler) -> None:
        offered = [part.strip() for part in handler.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        key = handler.headers.get("Sec-WebSocket-Key")
        authorization = _header_protocol(offered)
        if handler.headers.get("Upgrade", "").lower() != "websocket" or key is None or SUBPROTOCOL not in offered:
            _refuse(handler, 400, "a WebSocket upgrade with the aws-appsync-event-ws sub-protocol is required")
            return
        if authorization is None or not self._connect_allowed(authorization):
            _refuse(handler, 401, "UnauthorizedException")
            return
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept_key(key))
        handler.send_header("Sec-WebSocket-Protocol", SUBPROTOCOL)
        handler.end_headers()
        handler.wfile.flush()
        handler.close_connection = True
        socket = WebSocket(handler.rfile, handler.wfile)  # type: ignore[arg-type]
        subscriber = _Subscriber(socket)
        # No read timeout: a socket file that timed out once cannot be read again. Keep-alives come from a thread.
        handler.connection.settimeout(None)
        stopped = threading.Event()
        threading.Thread(target=self._keep_alive, args=(socket, stopped), daemon=True).start()
        with self._state:
            self._subscribers.append(subscriber)
        try:
            while True:
                self._message(subscriber, socket.receive())
        except ConnectionClosed:
            pass
        finally:
            stopped.set()
            with self._state:
                self._subscribers.remove(subscriber)

    def _keep_alive(self, socket: WebSocket, stopped: threading.Event) -> None:
        while not stopped.wait(self.ka_seconds):
            try:
                socket.send(json.dumps({"type": "ka"}))
            except ConnectionClosed:
                return

    def _connect_allowed(self, authorization: Mapping[str, Any]) -> bool:
        return authorization.get("x-api-key") == self.api_key or "authorization" in {k.lower() for k in authorization}

    def _message(self, subscriber: _Subscriber, text: str) -> None:
        socket = subscriber.socket
        try:
            message = json.loads(text)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            socket.send(
                json.dumps(
                    {
                        "type": "error",
                        "errors": [{"errorType": "BadRequestException", "message": "a JSON message with a type"}],
                    }
                )
            )
            return
        identifier = message.get("id")
        if kind == "connection_init":
            socket.send(json.dumps({"type": "connection_ack", "connectionTimeoutMs": CONNECTION_TIMEOUT_MS}))
        elif kind == "subscribe":
            channel = message.get("channel")
            authorization = message.get("authorization") or {}
            problem = None
            if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel.removesuffix("/*")):
                problem = ("BadRequestException", f"invalid channel {channel!r}")
            elif not self._connect_allowed(authorization):
                problem = ("UnauthorizedException", "You are not authorized to make this call.")
            if problem is not None:
                socket.send(
                    json.dumps(
                        {
                            "type": "subscribe_error",
                            "id": identifier,
                            "errors": [{"errorType": problem[0], "message": problem[1]}],
                        }
                    )
                )
                return
            with self._state:
                subscriber.subscriptions[str(identifier)] = channel
            socket.send(json.dumps({"type": "subscribe_success", "id": identifier}))
        elif kind == "unsubscribe":
            with self._state:
                found = subscriber.subscriptions.pop(str(identifier), None)
            answer = "unsubscribe_success" if found is not None else "unsubscribe_error"
            socket.send(json.dumps({"type": answer, "id": identifier}))
        elif kind == "publish":
            channel, events = message.get("channel"), message.get("events")
            refused = self._publish_problem(channel, events)
            if refused is not None:
                socket.send(
                    json.dumps(
                        {
                            "type": "publish_error",
                            "id": identifier,
                            "errors": [{"errorType": "BadRequestException", "message": refused}],
                        }
                    )
                )
                return
            successful, failed = self._deliver(channel, events)
            socket.send(
                json.dumps({"type": "publish_success", "id": identifier, "successful": successful, "failed": failed})
            )


def _header_protocol(offered: list[str]) -> dict[str, Any] | None:
    for protocol in offered:
        if protocol.startswith("header-"):
            encoded = protocol.removeprefix("header-")
            try:
                value = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def _refuse(handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
    payload = json.dumps({"errors": [{"message": message}]}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def _errors(status: int, error_type: str, message: str) -> Reply:
    return Reply(status=status, body={"errors": [{"errorType": error_type, "message": message}]})
