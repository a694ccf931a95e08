"""Fill a SearchIndexer's index from a scan of its table, safely beside the live stream.

Each scanned item is written with the SearchIndexer's own fenced upsert at sequence 0 (``REINDEX_SEQUENCE``), lower
than any stream sequence: it creates the documents that are missing and leaves alone every document or tombstone the
stream wrote, so a change streamed during the scan always wins, whichever write lands first. To rebuild an index that
lost stream records, reindex into a new index and switch searches to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambda_src.contract import DEFAULT_SEARCH_MAX_BULK_ACTIONS, DEFAULT_SEARCH_MAX_BULK_BYTES, SearchService
from lambda_src.search_indexer.bulk import BulkWriter
from lambda_src.search_indexer.documents import REINDEX_SEQUENCE, document_id, fenced_write, item_document
from lambda_src.search_indexer.opensearch import BulkAction, OpenSearchIndex

__all__ = ["ReindexResult", "reindex", "scanned_items"]


@dataclass
class ReindexResult:
    """What a reindex did: items scanned, documents written (or left to the stream's newer ones), failures by id."""

    scanned: int = 0
    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def scanned_items(dynamodb_client: Any, table_name: str, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every item of ``table_name``, deserialized, page by page."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    arguments: dict[str, Any] = {"TableName": table_name, "Limit": page_size}
    while True:
        page = dynamodb_client.scan(**arguments)
        for item in page["Items"]:
            yield {name: deserializer.deserialize(value) for name, value in item.items()}
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reindex(
    items: Iterator[Mapping[str, Any]],
    *,
    key_names: Sequence[str],
    index: OpenSearchIndex,
    attributes: Sequence[str] = (),
    mappings: Mapping[str, Any] | None = None,
    max_bulk_bytes: int = DEFAULT_SEARCH_MAX_BULK_BYTES,
    max_bulk_actions: int = DEFAULT_SEARCH_MAX_BULK_ACTIONS,
    progress: Callable[[ReindexResult], None] | None = None,
) -> ReindexResult:
    """Write every item of ``items`` to ``index`` as the SearchIndexer would, at sequence 0; create the index with
    ``mappings`` first when it does not exist."""
    index.create(mappings or {}, timeout=30.0)
    writer = BulkWriter(index, max_bytes=max_bulk_bytes, max_actions=max_bulk_actions)
    result = ReindexResult()
    batch: list[BulkAction] = []

    def flush() -> None:
        for action, outcome in zip(batch, writer.write(batch), strict=True):
            if outcome is None:
                result.written += 1
            else:
                result.failed[action.subject] = str(outcome)
        batch.clear()
        if progress is not None:
            progress(result)

    for item in items:
        result.scanned += 1
        keys = {name: item[name] for name in key_names}
        identifier = document_id(keys)
        document = item_document(keys, item, attributes, REINDEX_SEQUENCE)
        batch.append(BulkAction.of(*fenced_write(index.index, identifier, document), identifier))
        if len(batch) >= max_bulk_actions:
            flush()
    if batch:
        flush()
    return result


def open_index(endpoint: str, name: str, service: str) -> OpenSearchIndex:
    return OpenSearchIndex(endpoint, name, service=SearchService(service))
