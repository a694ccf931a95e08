"""SummaryEnricher: writes an AI summary of an attribute back onto the item, without ever triggering itself."""

from __future__ import annotations

from typing import Unpack

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambda_src.summary_enricher.config import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_TOKENS,
    DEFAULT_PROMPT,
    DEFAULT_SOURCE_ATTRIBUTE,
    DEFAULT_SUMMARY_ATTRIBUTE,
)

from .pipeline_trigger import create_pipeline_trigger, resolve_table
from .stream_filter import StreamFilter
from .stream_trigger import StreamTriggerOptions, check_options
from .stream_triggered_table import StreamTriggeredTable
from .summary_models import SummaryModel

__all__ = ["DEFAULT_PROMPT", "SummaryEnricher"]

MAX_TOKENS_RANGE = (1, 64_000)


class SummaryEnricher(Construct):
    """Summarizes ``source_attribute`` of inserted items, and of updated ones whose source text changed, and writes
    the summary to ``summary_attribute`` of the same item.

    Loop-safe by construction: the write-back changes only the summary, and a MODIFY whose source text did not
    change is never summarized. The write-back is a conditional UpdateItem that succeeds only while the item
    still holds the text that was summarized, so a stale summary never overwrites a newer text; a failed condition
    counts as done. Summaries of a batch run concurrently; a failure fails only its record.

    - ``table``: an ``ITable`` with a NEW_AND_OLD_IMAGES stream, or a ``StreamTriggeredTable``.
    - ``model``: ``SummaryModel.anthropic(...)``, ``.bedrock(...)`` or ``.plugin(...)``.
    - ``source_attribute``: Default: body. ``summary_attribute``: Default: aiSummary.
    - ``prompt``: a template holding ``{text}``. Default: the seed's "Summarize in one sentence: {text}".
    - ``max_tokens``: Default: 150 (1..64000).
    - ``item_filter``: which items are summarized; other records never invoke the function. Default: - every item.
    - ``max_concurrency``: summaries in flight at once. Default: 16 (lower it for a low provider rate limit).
    - Every ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``; the function
      defaults to 512 MB and 120 s.

    Attributes: ``trigger``, ``function``, ``dead_letter_queue``, ``model``.
    """

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
        super().__init__(scope, id)
        check_options(options, StreamTriggerOptions.__optional_keys__, "SummaryEnricher")
        stream_table = resolve_table(table)
        source_attribute = DEFAULT_SOURCE_ATTRIBUTE if source_attribute is None else source_attribute
        summary_attribute = DEFAULT_SUMMARY_ATTRIBUTE if summary_attribute is None else summary_attribute
        prompt = DEFAULT_PROMPT if prompt is None else prompt
        max_tokens = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
        problems = []
        if source_attribute == summary_attribute:
            problems.append(f"summary_attribute must differ from source_attribute ({source_attribute!r}): writing the "
                            "summary over its source would summarize every summary")  # fmt: skip
        if "{text}" not in prompt:
            problems.append(f"prompt must hold {{text}} where the source text goes, got {prompt!r}")
        low, high = MAX_TOKENS_RANGE
        if not low <= max_tokens <= high:
            problems.append(f"max_tokens must be between {low} and {high} inclusive, got {max_tokens}")
        if problems:
            raise ValueError(f"SummaryEnricher {self.node.path}: " + "; ".join(problems))
        self.model = model
        changes = [StreamFilter.inserts(), StreamFilter.modifies()]
        filters = [item_filter & change for change in changes] if item_filter is not None else changes
        self.trigger = create_pipeline_trigger(
            self,
            owner="SummaryEnricher",
            table=stream_table,
            handler_module="summary_enricher",
            environment={
                "TABLE_NAME": stream_table.table_name,
                "SOURCE_ATTRIBUTE": source_attribute,
                "SUMMARY_ATTRIBUTE": summary_attribute,
                "PROMPT": prompt,
                "MAX_TOKENS": str(max_tokens),
            },
            bindings=[model.bind(self, options.get("architecture"))],
            filters=filters,
            max_concurrency=DEFAULT_MAX_CONCURRENCY if max_concurrency is None else max_concurrency,
            options=options,
        )
        self.function = self.trigger.function
        self.dead_letter_queue = self.trigger.dead_letter_queue
        # The write-back only: no PutItem or DeleteItem.
        stream_table.grant(self.function, "dynamodb:UpdateItem")
