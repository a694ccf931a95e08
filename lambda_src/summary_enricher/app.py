"""SummaryEnricher's handler: summarizes the source text of changed items and writes the summary back, without ever
summarizing its own write-back.

Per item, only the net change of the batch counts: an insert, or an update that changed the source text. The
write-back is a conditional UpdateItem that changes only the summary attribute, so the MODIFY record it causes has
an unchanged source and is passed over: the loop cannot start. Summaries run concurrently on a bounded pool; a
failure fails its item's records only: quarantined when final (a refused request), else reported in the partial batch
response for the mapping to retry.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from enum import Enum
from typing import Any

from lambda_src.providers import (
    FinalProviderError,
    RetryableProviderError,
    RetryPolicy,
    Summarizer,
    call_with_retries,
    load_plugin,
)
from lambda_src.providers.anthropic_messages import AnthropicMessages
from lambda_src.providers.aws import AwsClient
from lambda_src.providers.bedrock_claude import BedrockClaude
from lambda_src.stream_runtime import (
    ChangeFailure,
    Deadline,
    EventName,
    ItemChange,
    get_logger,
    process_item_changes,
    put_metric,
)
from lambda_src.stream_runtime.log import record_context

from .config import SummaryEnricherConfig, SummaryProvider

__all__ = [
    "DYNAMODB_RETRYABLE_CODES",
    "MAX_CALL_SECONDS",
    "MAX_WRITE_SECONDS",
    "MIN_CALL_SECONDS",
    "SKIPPED_RECORDS_METRIC",
    "SummaryEnricherHandler",
    "build_summarizer",
    "cold_start",
    "handler",
]

# A one-sentence summary takes a few seconds; past this, a fresh attempt is likelier to succeed than more waiting.
# (The anthropic SDK's own default is 600 s: https://github.com/anthropics/anthropic-sdk-python#timeouts)
MAX_CALL_SECONDS = 30.0
# DynamoDB answers a single-item write in milliseconds: https://aws.amazon.com/dynamodb/features/
MAX_WRITE_SECONDS = 5.0
# botocore's timeouts come in whole seconds here (AwsClient): with less left, a call is not started.
MIN_CALL_SECONDS = 1.0
# The write-back's transient errors; any other (validation, access denied, a missing table) recurs on every attempt:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
DYNAMODB_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "TransactionConflictException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_CONDITION_FAILED = "ConditionalCheckFailedException"
SKIPPED_RECORDS_METRIC = "SkippedRecords"

_logger = get_logger(__name__)


def build_summarizer(config: SummaryEnricherConfig) -> Summarizer:
    """The configured provider's ``Summarizer``; the anthropic SDK is only imported by the anthropic one, on use."""
    match config.provider:
        case SummaryProvider.ANTHROPIC:
            assert config.model_id is not None and config.anthropic_api_key_secret_arn is not None
            return AnthropicMessages(
                model=config.model_id,
                max_tokens=config.max_tokens,
                prompt=config.prompt,
                api_key_secret_id=config.anthropic_api_key_secret_arn,
            )
        case SummaryProvider.BEDROCK:
            assert config.model_id is not None
            return BedrockClaude(
                model_id=config.model_id,
                max_tokens=config.max_tokens,
                prompt=config.prompt,
                max_connections=config.max_concurrency,
            )
        case SummaryProvider.PLUGIN:
            assert config.summarizer_plugin is not None
            summarizer: Summarizer = load_plugin(config.summarizer_plugin, Summarizer)
            return summarizer


class _NoSummary(Enum):
    UNCHANGED = "unchanged"  # a remove, or an update that left the source alone (the write-back's own)
    SKIPPED = "skipped"  # the source is missing, blank or not a string


class _Outcome(Enum):
    WRITTEN = "written"
    STALE = "stale"
    FAILED = "failed"


class SummaryEnricherHandler:
    """The handler for one cold start: call it with the Lambda event and context.

    ``summarizer`` Default: - the provider ``config`` names. ``max_call_seconds``: the longest one provider request
    may take, always cut to the time left. Default: 30.
    """

    def __init__(
        self,
        config: SummaryEnricherConfig,
        *,
        summarizer: Summarizer | None = None,
        max_call_seconds: float = MAX_CALL_SECONDS,
    ) -> None:
        self.config = config
        self.summarizer = summarizer if summarizer is not None else build_summarizer(config)
        self.max_call_seconds = max_call_seconds
        self._table = AwsClient(
            "dynamodb", retryable_codes=DYNAMODB_RETRYABLE_CODES, max_connections=config.max_concurrency
        )
        self._policy = RetryPolicy()
        self._pool = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="summary")

    def close(self) -> None:
        """Stop the pool's threads (a Lambda environment never needs to; tests do)."""
        self._pool.shutdown()

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        """Summarize the batch; return the partial batch response naming the lowest failed sequence number.

        The batch-level runtime (``process_item_changes``) checks the envelope, folds the batch into one change per
        item and quarantines final failures; a malformed record fails alone.
        """
        return process_item_changes(event, context, self.summarize, deadline_margin=self.config.deadline_margin)

    def summarize(self, items: Sequence[ItemChange], deadline: Deadline) -> list[ChangeFailure]:
        """Summarize and write back the items whose source text is new; the items that failed, and why."""
        failed: list[ChangeFailure] = []
        outcomes: list[tuple[ItemChange, Future[tuple[_Outcome, BaseException | None]]]] = []
        skipped = 0
        for item in items:
            with record_context(item.records[-1].raw):
                try:
                    text = self._text_to_summarize(item)
                except Exception as error:
                    _logger.exception("Record failed", extra={"itemIdentifier": str(item.sequence_number)})
                    failed.append(ChangeFailure(item, error))
                    continue
                if text is _NoSummary.SKIPPED:
                    skipped += 1
                elif isinstance(text, str):
                    # The worker thread logs under this record's ids and this invocation's request id.
                    run_in_context = contextvars.copy_context().run
                    work = functools.partial(self._summarize_and_write, item, text, deadline.remaining_seconds)
                    outcomes.append((item, self._pool.submit(run_in_context, work)))
        counts = dict.fromkeys(_Outcome, 0)
        for item, future in outcomes:
            outcome, failure = future.result()
            counts[outcome] += 1
            if failure is not None:
                failed.append(ChangeFailure(item, failure))
        if skipped:
            put_metric(SKIPPED_RECORDS_METRIC, skipped)
        _logger.info(
            "Summaries done",
            extra={
                "items": len(items),
                "summariesWritten": counts[_Outcome.WRITTEN],
                "staleSummariesDropped": counts[_Outcome.STALE],
                "skipped": skipped,
                "failed": len(failed),
            },
        )
        return failed

    def _text_to_summarize(self, item: ItemChange) -> str | _NoSummary:
        """The source text to summarize, or why there is none.

        An item created in the batch is summarized; an update only when it changed the source: the write-back's own
        MODIFY changed only the summary, so it ends here. Raises StreamRuntimeError when the stream lacks an image to
        tell.
        """
        source = self.config.source_attribute
        if item.event_name is EventName.REMOVE:
            return _NoSummary.UNCHANGED
        # An item created again in the batch lost its summary with its old self, whether or not its text changed.
        if not item.recreated and not item.attribute_changed(source):
            return _NoSummary.UNCHANGED
        value = (item.new_image or {}).get(source)
        if isinstance(value, str) and value.strip():
            return value
        reason = "missing" if value is None else "blank" if isinstance(value, str) else type(value).__name__
        # The text itself is never logged: items may hold personal data.
        _logger.warning("Skipped: nothing to summarize", extra={"attribute": source, "reason": reason})
        return _NoSummary.SKIPPED

    def _summarize_and_write(
        self, item: ItemChange, text: str, remaining: Callable[[], float]
    ) -> tuple[_Outcome, BaseException | None]:
        try:
            summary = call_with_retries(
                lambda: self.summarizer.summarize(text, timeout=self._timeout(remaining, self.max_call_seconds)),
                policy=self._policy,
                remaining_seconds=remaining,
            )
            written = call_with_retries(
                lambda: self._write(item, text, summary, timeout=self._timeout(remaining, MAX_WRITE_SECONDS)),
                policy=self._policy,
                remaining_seconds=remaining,
            )
        except Exception as error:
            _logger.exception("Record failed", extra={"itemIdentifier": str(item.sequence_number)})
            return _Outcome.FAILED, error
        if not written:
            _logger.info("Summary dropped: the item's text changed after this record, or the item is gone")
            return _Outcome.STALE, None
        return _Outcome.WRITTEN, None

    def _write(self, item: ItemChange, text: str, summary: str, *, timeout: float) -> bool:
        """Set the summary while the item still holds ``text``; False when it no longer does."""
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        try:
            self._table.call(
                timeout,
                lambda client: client.update_item(
                    TableName=self.config.table_name,
                    Key={name: serializer.serialize(value) for name, value in item.keys.items()},
                    UpdateExpression="SET #summary = :summary",
                    # A stale summary never overwrites a newer text, and a deleted item is not brought back.
                    ConditionExpression="#source = :text",
                    ExpressionAttributeNames={
                        "#summary": self.config.summary_attribute,
                        "#source": self.config.source_attribute,
                    },
                    ExpressionAttributeValues={":summary": {"S": summary}, ":text": {"S": text}},
                ),
            )
        except FinalProviderError as error:
            if error.code != _CONDITION_FAILED:
                raise
            return False
        return True

    @staticmethod
    def _timeout(remaining: Callable[[], float], ceiling: float) -> float:
        left = min(ceiling, remaining())
        if left < MIN_CALL_SECONDS:
            raise RetryableProviderError("summary-enricher", "too little time left before the function times out")
        return left


@functools.cache
def cold_start() -> SummaryEnricherHandler:
    """The function's handler, configured from its environment once."""
    return SummaryEnricherHandler(SummaryEnricherConfig.from_env())


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """The Lambda entry point, ``lambda_src.summary_enricher.app.handler``; configured from the environment once."""
    return cold_start()(event, context)
