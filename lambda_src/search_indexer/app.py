"""SearchIndexer's handler: keeps an OpenSearch index in step with the table, one fenced write per item and batch.

Each item's net change of the batch becomes one scripted upsert in ``_bulk`` requests sized to the configured limits:
the item's document, or a tombstone for a REMOVE, applied only when its stream sequence is newer than the stored one
(``documents``). The index and its mappings are created on first use. Every item's result is checked: 429, 409 and
5xx are retried within the deadline, then reported for the mapping's retries; a refusal (a mapping conflict, a
malformed document, access denied) is final and quarantined with the record.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_src.providers import ProviderError, RetryPolicy, call_with_retries
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

from .bulk import BulkWriter
from .config import SearchIndexerConfig
from .documents import document_id, fenced_write, item_document, sequence_text, tombstone
from .opensearch import BulkAction, OpenSearchIndex

__all__ = ["INDEXED_DOCUMENTS_METRIC", "SearchIndexerHandler", "cold_start", "handler"]

INDEXED_DOCUMENTS_METRIC = "IndexedDocuments"
_CREATE_SECONDS = 10.0

_logger = get_logger(__name__)


class SearchIndexerHandler:
    """The handler for one cold start: call it with the Lambda event and context. ``index`` Default: - an
    ``OpenSearchIndex`` on the configured endpoint. ``policy`` Default: - ``RetryPolicy()``."""

    def __init__(
        self, config: SearchIndexerConfig, *, index: OpenSearchIndex | None = None, policy: RetryPolicy | None = None
    ) -> None:
        self.config = config
        self.index = (
            index if index is not None else OpenSearchIndex(config.endpoint, config.index, service=config.service)
        )
        self._policy = policy or RetryPolicy()
        self.writer = BulkWriter(
            self.index, max_bytes=config.max_bulk_bytes, max_actions=config.max_bulk_actions, policy=self._policy
        )
        self._index_ready = False

    def __call__(self, event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        return process_item_changes(event, context, self.apply, deadline_margin=self.config.deadline_margin)

    def apply(self, changes: Sequence[ItemChange], deadline: Deadline) -> list[ChangeFailure]:
        """Write one fenced document per change; the changes that failed, and why."""
        failed: list[ChangeFailure] = []
        actions: list[BulkAction] = []
        for change in changes:
            with record_context(change.records[-1].raw):
                try:
                    actions.append(self._action(change))
                except Exception as error:
                    _logger.exception("Record failed", extra={"itemIdentifier": str(change.sequence_number)})
                    failed.append(ChangeFailure(change, error))
        if actions:
            try:
                self._ensure_index(deadline)
            except ProviderError as error:
                _logger.error("The index could not be created", extra={"error": str(error)})
                return failed + [ChangeFailure(action.subject, error) for action in actions]
        outcomes = self.writer.write(actions, deadline.remaining_seconds)
        written = 0
        for action, outcome in zip(actions, outcomes, strict=True):
            if outcome is None:
                written += 1
                continue
            change = action.subject
            with record_context(change.records[-1].raw):
                _logger.error(
                    "Record failed: not indexed",
                    extra={"itemIdentifier": str(change.sequence_number), "error": str(outcome)},
                )
            failed.append(ChangeFailure(change, outcome))
        if written:
            put_metric(INDEXED_DOCUMENTS_METRIC, written)
        _logger.info("Index updated", extra={"items": len(changes), "written": written, "failed": len(failed)})
        return failed

    def _action(self, change: ItemChange) -> BulkAction:
        sequence = sequence_text(change.records[-1].sequence_number)
        if change.event_name is EventName.REMOVE:
            document = tombstone(change.keys, sequence)
        else:
            assert change.new_image is not None
            document = item_document(change.keys, change.new_image, self.config.attributes, sequence)
        action, body = fenced_write(self.config.index, document_id(change.keys), document)
        return BulkAction.of(action, body, change)

    def _ensure_index(self, deadline: Deadline) -> None:
        if self._index_ready:
            return
        call_with_retries(
            lambda: self.index.create(
                self.config.mappings, timeout=max(1.0, min(_CREATE_SECONDS, deadline.remaining_seconds()))
            ),
            policy=self._policy,
            remaining_seconds=deadline.remaining_seconds,
        )
        self._index_ready = True


@functools.cache
def cold_start() -> SearchIndexerHandler:
    """The function's handler, configured from its environment once."""
    return SearchIndexerHandler(SearchIndexerConfig.from_env())


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """The Lambda entry point, ``lambda_src.search_indexer.app.handler``."""
    return cold_start()(event, context)
