"""What the SearchIndexer writes: one document per item, its id from the item's key, and the version fence.

The fence. A stream sequence number has 21 to 40 digits, and OpenSearch's external versions are signed 64-bit longs
(at most 19 digits), so a sequence number cannot be a version. Each document carries instead the sequence number of
the change it holds, as 40 zero-padded digits (``stream_sequence``, a keyword: text order is number order), and every
write is a scripted upsert that does nothing unless its sequence is higher than the stored one. Per item the sequence
numbers only grow: DynamoDB writes an item's changes to its stream in order, into one shard at a time, and a child
shard's sequence numbers follow its parent's (``SequenceNumberRange``). So a duplicate, a retried batch, a redrive of
an old batch or a late quarantine redrive is a no-op against any newer state, on any shard and at any later time.

Deletes are tombstones: a REMOVE writes ``stream_deleted: true`` with its sequence instead of deleting the document. A
real delete would forget its version after ``index.gc_deletes`` (60 s), and a late older write would then bring the
item back, as zero-ETL's deleted documents came back. Searches leave tombstones out with ``must_not`` on
``stream_deleted`` (``search_filter()``). A reindex from a table scan writes sequence 0: it fills what is missing and
never overwrites a document the stream wrote, so the stream always wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_src.contract import SEARCH_DELETED_FIELD, SEARCH_SEQUENCE_FIELD
from lambda_src.realtime_feed.messages import SEQUENCE_DIGITS, to_json_value

__all__ = [
    "FENCE_SCRIPT",
    "MAX_ID_BYTES",
    "REINDEX_SEQUENCE",
    "document_id",
    "fenced_write",
    "index_body",
    "item_document",
    "search_filter",
    "sequence_text",
    "tombstone",
]

# OpenSearch refuses longer ids from 2.9 on: https://docs.opensearch.org/latest/api-reference/document-apis/bulk/
MAX_ID_BYTES = 512
REINDEX_SEQUENCE = "0" * SEQUENCE_DIGITS
# A scripted upsert runs on the stored document, or on the empty ``upsert`` when there is none: it replaces the source
# only with a newer sequence. https://docs.opensearch.org/latest/api-reference/document-apis/update-document/
FENCE_SCRIPT = (
    "def stored = ctx._source[params.field]; "
    "if (stored != null && stored.compareTo(params.sequence) >= 0) { ctx.op = 'none' } "
    "else { ctx._source.clear(); ctx._source.putAll(params.doc) }"
)


def sequence_text(sequence_number: int) -> str:
    return str(sequence_number).zfill(SEQUENCE_DIGITS)


def document_id(keys: Mapping[str, Any]) -> str:
    """The item's key values in key-name order, ``|``-joined (``|`` and ``%`` escaped, so no two keys share an id);
    a hash of that when it exceeds OpenSearch's 512 bytes."""
    parts = []
    for name in sorted(keys):
        value = to_json_value(keys[name])
        parts.append(str(value).replace("%", "%25").replace("|", "%7C"))
    text = "|".join(parts)
    if len(text.encode()) <= MAX_ID_BYTES:
        return text
    return "sha256-" + hashlib.sha256(text.encode()).hexdigest()


def item_document(
    keys: Mapping[str, Any], image: Mapping[str, Any], attributes: Sequence[str], sequence: str
) -> dict[str, Any]:
    """The document of an item: its key attributes, ``attributes`` (Default: - every attribute) and the fence."""
    chosen = image if not attributes else {name: image[name] for name in attributes if name in image}
    document = to_json_value({**chosen, **keys})
    document[SEARCH_SEQUENCE_FIELD] = sequence
    document[SEARCH_DELETED_FIELD] = False
    return document


def tombstone(keys: Mapping[str, Any], sequence: str) -> dict[str, Any]:
    """The document of a deleted item: its key, the delete's sequence, ``stream_deleted``."""
    document = to_json_value(dict(keys))
    document[SEARCH_SEQUENCE_FIELD] = sequence
    document[SEARCH_DELETED_FIELD] = True
    return document


def fenced_write(index: str, document_id: str, document: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two ``_bulk`` lines of a fenced write of ``document``."""
    action = {"update": {"_index": index, "_id": document_id, "retry_on_conflict": 3}}
    body = {
        "script": {
            "source": FENCE_SCRIPT,
            "lang": "painless",
            "params": {"field": SEARCH_SEQUENCE_FIELD, "sequence": document[SEARCH_SEQUENCE_FIELD], "doc": document},
        },
        "scripted_upsert": True,
        "upsert": {},
    }
    return action, body


def index_body(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The create-index body: the user's field mappings and the fence's two fields."""
    return {
        "mappings": {
            "properties": {
                **properties,
                SEARCH_SEQUENCE_FIELD: {"type": "keyword"},
                SEARCH_DELETED_FIELD: {"type": "boolean"},
            }
        }
    }


def search_filter() -> dict[str, Any]:
    """The ``bool`` clause that leaves deleted items (tombstones) out of a search."""
    return {"must_not": [{"term": {SEARCH_DELETED_FIELD: True}}]}
