"""SummaryEnricher: writes an AI summary of an attribute back onto the item, without ever triggering itself."""

from __future__ import annotations

from typing import ClassVar, Unpack

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambda_src.contract import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_PROMPT,
    DEFAULT_SOURCE_ATTRIBUTE,
    DEFAULT_SUMMARY_ATTRIBUTE,
    DEFAULT_SUMMARY_MAX_CONCURRENCY,
    PROMPT_PLACEHOLDER,
    PipelineEnv,
    SummaryEnv,
)

from .limits import MAX_TOKENS_RANGE, documented
from .stream_filter import StreamFilter
from .stream_pipeline import StreamPipeline
from .stream_trigger import StreamTriggerOptions
from .stream_triggered_table import StreamTriggeredTable
from .summary_models import SummaryModel

__all__ = ["SummaryEnricher"]


@documented
class SummaryEnricher(StreamPipeline):
    """Summarizes ``source_attribute`` of inserted items, and of updated ones whose source text changed, and writes
    the summary to ``summary_attribute`` of the same item.

    Loop-safe by construction: the write-back changes only the summary, and a MODIFY whose source text did not
    change is never summarized. The write-back is a conditional UpdateItem that succeeds only while the item
    still holds the text that was summarized, so a stale summary never overwrites a newer text; a failed condition
    counts as done. Summaries of a batch run concurrently; a failure fails only its record.

    - ``table``: an ``ITable`` with a NEW_AND_OLD_IMAGES stream, or a ``StreamTriggeredTable``.
    - ``model``: ``SummaryModel.anthropic(...)``, ``.bedrock(...)`` or ``.plugin(...)``.
    - ``source_attribute``: Default: $DEFAULT_SOURCE_ATTRIBUTE.
    - ``summary_attribute``: must differ from the source. Default: $DEFAULT_SUMMARY_ATTRIBUTE.
    - ``prompt``: a template holding ``{text}``. Default: $DEFAULT_PROMPT
    - ``max_tokens``: $MAX_TOKENS_RANGE_MIN..$MAX_TOKENS_RANGE_MAX. Default: $DEFAULT_MAX_TOKENS.
    - ``item_filter``: which items are summarized; other records never invoke the function. Default: - every item.
    - ``max_concurrency``: summaries in flight at once; lower it for a low provider rate limit.
      Default: $DEFAULT_SUMMARY_MAX_CONCURRENCY.
    - Every ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``, as
      ``StreamPipeline`` takes them.

    Attributes: those of ``StreamPipeline``, and ``model``.
    """

    HANDLER: ClassVar[str] = "lambda_src.summary_enricher.app.handler"
    STREAM_VIEW_TYPES = (dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,)
    STREAM_VIEW_REASON = "the pipeline reads both images to tell what changed"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        table: dynamodb.ITable | StreamTriggeredTable,
        model: SummaryModel,
        source_attribute: str | None = None,
        summary_attribute: str | None = None,
        prompt: str | None = None,
        max_tokens: int | None = None,
        item_filter: StreamFilter | None = None,
        max_concurrency: int | None = None,
        **options: Unpack[StreamTriggerOptions],
    ) -> None:
        super().__init__(scope, id, table=table, item_filter=item_filter, **options)
        source_attribute = DEFAULT_SOURCE_ATTRIBUTE if source_attribute is None else source_attribute
        summary_attribute = DEFAULT_SUMMARY_ATTRIBUTE if summary_attribute is None else summary_attribute
        prompt = DEFAULT_PROMPT if prompt is None else prompt
        max_tokens = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
        max_concurrency = DEFAULT_SUMMARY_MAX_CONCURRENCY if max_concurrency is None else max_concurrency
        problems = []
        if source_attribute == summary_attribute:
            problems.append(f"summary_attribute must differ from source_attribute ({source_attribute!r}): writing the "
                            "summary over its source would summarize every summary")  # fmt: skip
        if PROMPT_PLACEHOLDER not in prompt:
            problems.append(f"prompt must hold {PROMPT_PLACEHOLDER} where the source text goes, got {prompt!r}")
        low, high = MAX_TOKENS_RANGE
        if not low <= max_tokens <= high:
            problems.append(f"max_tokens must be between {low} and {high} inclusive, got {max_tokens}")
        self.refuse(problems + self.max_concurrency_problems(max_concurrency))
        self.model = model
        self.attach_handler(
            environment={
                PipelineEnv.TABLE_NAME: self.table.table_name,
                SummaryEnv.SOURCE_ATTRIBUTE: source_attribute,
                SummaryEnv.SUMMARY_ATTRIBUTE: summary_attribute,
                SummaryEnv.PROMPT: prompt,
                SummaryEnv.MAX_TOKENS: str(max_tokens),
                PipelineEnv.MAX_CONCURRENCY: str(max_concurrency),
            },
            bindings=[model.bind(self, self._options.get("architecture"))],
            filters=[StreamFilter.inserts(), StreamFilter.modifies()],
        )
        # The write-back only: no PutItem or DeleteItem.
        self.table.grant(self.function, "dynamodb:UpdateItem")
