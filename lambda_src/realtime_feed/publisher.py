"""Publishing to an AppSync Events API over HTTP: ``POST https://<HTTP domain>/event``, signed with SigV4 for the
``appsync`` service, at most five events per request, and every event's outcome read from the answer.

The answer is ``{"successful": [{"identifier", "index"}], "failed": [{"identifier", "index", "code", "message"}]}``
(https://docs.aws.amazon.com/appsync/latest/eventapi/publish-http.html); an event that is in neither list, or an answer
that holds ``errors``, counts as failed: nothing is taken for published unless the API said so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lambda_src.contract import FEED_MAX_EVENTS_PER_PUBLISH
from lambda_src.providers import FinalProviderError, ProviderError, RetryableProviderError, classify_status
from lambda_src.providers.signed_http import SignedHttpClient

__all__ = ["EventsPublisher", "PublishOutcome"]

PROVIDER = "appsync-events"
PublishOutcome = list[ProviderError | None]


class EventsPublisher:
    """Publishes events to the API at ``http_endpoint`` (``https://<HTTP domain>``; http for a local stub)."""

    def __init__(self, http_endpoint: str, *, region: str | None = None) -> None:
        self._client = SignedHttpClient(PROVIDER, http_endpoint, service="appsync", region=region)
        self.requests = 0

    def publish(self, channel: str, events: Sequence[str], *, timeout: float) -> PublishOutcome:
        """Publish ``events`` (stringified JSON, at most five) to ``channel``; one outcome per event, None when it
        was published. Raises a ProviderError when the whole request failed."""
        if not 1 <= len(events) <= FEED_MAX_EVENTS_PER_PUBLISH:
            raise ValueError(f"a publish carries 1 to {FEED_MAX_EVENTS_PER_PUBLISH} events, got {len(events)}")
        self.requests += 1
        answer = self._client.json("POST", "/event", {"channel": channel, "events": list(events)}, timeout=timeout)
        return outcomes(answer, len(events))


def outcomes(answer: Any, count: int) -> PublishOutcome:
    """Each event's outcome in a publish answer for ``count`` events."""
    if not isinstance(answer, dict):
        return [RetryableProviderError(PROVIDER, "the publish answer is not a JSON object")] * count
    if answer.get("errors"):
        errors = answer["errors"]
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        message = str(first.get("message") or "the API answered with errors")[:500]
        error_type = str(first.get("errorType") or "")
        retryable = "Throttl" in error_type or "Internal" in error_type
        kind = RetryableProviderError if retryable else FinalProviderError
        return [kind(PROVIDER, message, code=error_type or None)] * count
    result: PublishOutcome = [
        RetryableProviderError(PROVIDER, "the publish answer did not list this event as successful")
    ] * count
    for entry in answer.get("successful") or ():
        index = entry.get("index") if isinstance(entry, dict) else None
        if isinstance(index, int) and 0 <= index < count:
            result[index] = None
    for entry in answer.get("failed") or ():
        index = entry.get("index") if isinstance(entry, dict) else None
        if isinstance(index, int) and 0 <= index < count:
            result[index] = _event_error(entry)
    return result


def _event_error(entry: dict[str, Any]) -> ProviderError:
    """A failed event's error: its numeric code read as an HTTP status (throttling and server errors retryable)."""
    code = entry.get("code")
    message = str(entry.get("message") or "the API refused this event")[:500]
    try:
        status = int(str(code))
    except ValueError:
        return RetryableProviderError(PROVIDER, message, code=None if code is None else str(code))
    return classify_status(PROVIDER, status, message, code=str(code))
