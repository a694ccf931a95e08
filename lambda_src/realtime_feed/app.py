"""RealtimeFeed's handler: publishes each item's net change of a batch to an AppSync Events API channel, in order.

Per batch, one message per item (its net change: ``lambda_src.stream_runtime.process_item_changes``), so a burst of
writes to one item, e.g. an answer streamed token by token, reaches subscribers as its latest state with the newest
sequence number. Messages are grouped by channel and published five to a request; channels are published concurrently
(``MAX_CONCURRENCY``), one channel's requests one after another. Every event's outcome is checked: a failed event
fails its item (final refusals are quarantined, the rest retried by the mapping), never a silent drop. Order per item
holds because an item's changes of the next batch are published only after this batch returned, and a retried batch
republishes with the same or a higher sequence, which clients drop or apply (``messages``).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambda_src.contract import FEED_MAX_EVENTS_PER_PUBLISH
from lambda_src.providers import ProviderError, RetryableProviderError, RetryPolicy, call_with_retries
from lambda_src.stream_runtime import (
    ChangeFailure,
    Deadline,
    ItemChange,
    get_logger,
    process_item_changes,
    put_metric,
)
from lambda_src.stream_runtime.log import record_context

from .config import RealtimeFeedConfig
from .messages import FeedMessage, message_for
from .publisher import EventsPublisher

__all__ = [
    "MAX_PUBLISH_SECONDS",
    "OVERSIZED_ITEMS_METRIC",
    "PUBLISHED_EVENTS_METRIC",
    "RealtimeFeedHandler",
    "cold_start",
    "handler",
]

# A publish is acknowledged in milliseconds; past this a fresh attempt is likelier to succeed than more waiting.
MAX_PUBLISH_SECONDS = 10.0
_MIN_CALL_SECONDS = 1.0
PUBLISHED_EVENTS_METRIC = "PublishedEvents"
OVERSIZED_ITEMS_METRIC = "OversizedItems"

_logger = get_logger(__name__)


class RealtimeFeedHandler:
    """The handler for one cold start: call it with the Lambda event and context. ``publisher`` Default: - an
    ``EventsPublisher`` on the configured endpoint. ``policy`` Default: - ``RetryPolicy()``."""

    def __init__(
        self,
        config: RealtimeFeedConfig,
        *,
        publisher: EventsPublisher | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.publisher = publisher if publisher is not None else EventsPublisher(config.http_endpoint)
        self._policy = policy or RetryPolicy()
        self._pool = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="feed")

    def close(self) -> None:
        self._pool.shutdown()

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        return process_item_changes(event, context, self.publish, deadline_margin=self.config.deadline_margin)

    def publish(self, changes: Sequence[ItemChange], deadline: Deadline) -> list[ChangeFailure]:
        """Publish one message per change; the changes whose message was not published, and why."""
        failed: list[ChangeFailure] = []
        by_channel: dict[str, list[FeedMessage]] = {}
        oversized = 0
        for change in changes:
            with record_context(change.records[-1].raw):
                try:
                    message = message_for(
                        change,
                        self.config.channel,
                        attributes=self.config.attributes,
                        private_attributes=self.config.private_attributes,
                    )
                except Exception as error:
                    _logger.exception("Record failed", extra={"itemIdentifier": str(change.sequence_number)})
                    failed.append(ChangeFailure(change, error))
                    continue
            if message.oversized:
                oversized += 1
                _logger.warning(
                    "Item too large to publish: a 'changed' notice goes instead",
                    extra={"itemIdentifier": str(change.sequence_number)},
                )
            by_channel.setdefault(message.channel, []).append(message)
        futures = []
        for channel, messages in by_channel.items():
            work = functools.partial(self._publish_channel, channel, messages, deadline.remaining_seconds)
            futures.append(self._pool.submit(contextvars.copy_context().run, work))
        published = 0
        for future in futures:
            channel_failures, channel_published = future.result()
            failed.extend(channel_failures)
            published += channel_published
        if published:
            put_metric(PUBLISHED_EVENTS_METRIC, published)
        if oversized:
            put_metric(OVERSIZED_ITEMS_METRIC, oversized)
        _logger.info(
            "Feed published",
            extra={
                "items": len(changes),
                "channels": len(by_channel),
                "published": published,
                "oversized": oversized,
                "failed": len(failed),
            },
        )
        return failed

    def _publish_channel(
        self, channel: str, messages: Sequence[FeedMessage], remaining: Callable[[], float]
    ) -> tuple[list[ChangeFailure], int]:
        failures: list[ChangeFailure] = []
        published = 0
        for start in range(0, len(messages), FEED_MAX_EVENTS_PER_PUBLISH):
            chunk = messages[start : start + FEED_MAX_EVENTS_PER_PUBLISH]
            errors = self._publish_chunk(channel, chunk, remaining)
            for message, error in zip(chunk, errors, strict=True):
                if error is None:
                    published += 1
                    continue
                with record_context(message.change.records[-1].raw):
                    _logger.error(
                        "Record failed: not published",
                        extra={
                            "itemIdentifier": str(message.change.sequence_number),
                            "channel": channel,
                            "error": str(error),
                        },
                    )
                failures.append(ChangeFailure(message.change, error))
        return failures, published

    def _publish_chunk(
        self, channel: str, chunk: Sequence[FeedMessage], remaining: Callable[[], float]
    ) -> list[BaseException | None]:
        """Publish ``chunk``, retrying the events whose failure is retryable, within the time left."""
        outcome: list[BaseException | None] = [None] * len(chunk)
        pending = list(range(len(chunk)))

        def attempt() -> None:
            nonlocal pending
            timeout = min(MAX_PUBLISH_SECONDS, remaining())
            if timeout < _MIN_CALL_SECONDS:
                raise RetryableProviderError("appsync-events", "too little time left before the function times out")
            results = self.publisher.publish(channel, [chunk[index].event for index in pending], timeout=timeout)
            still = []
            for index, error in zip(pending, results, strict=True):
                outcome[index] = error
                if isinstance(error, RetryableProviderError):
                    still.append(index)
            pending = still
            if pending:
                raise outcome[pending[0]]  # type: ignore[misc]

        try:
            call_with_retries(attempt, policy=self._policy, remaining_seconds=remaining)
        except ProviderError as error:
            for index in pending:
                outcome[index] = outcome[index] or error
        except Exception as error:  # an unexpected failure still fails the events, never drops them
            for index in pending:
                outcome[index] = error
        return outcome


@functools.cache
def cold_start() -> RealtimeFeedHandler:
    """The function's handler, configured from its environment once."""
    return RealtimeFeedHandler(RealtimeFeedConfig.from_env())


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """The Lambda entry point, ``lambda_src.realtime_feed.app.handler``."""
    return cold_start()(event, context)
