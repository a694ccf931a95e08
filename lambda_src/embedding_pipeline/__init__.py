"""The EmbeddingPipeline's runtime: keeps a vector store in step with a table's text, from the table's stream.

The handler is ``lambda_src.embedding_pipeline.app.handler``; ``config.PipelineConfig.from_env`` lists the
environment variables the construct sets.

Vector id
    The item's key values in VECTOR_ID_ATTRIBUTES order (partition key, then sort key) joined by ``#``: the item
    ``{PK: "CONTENT#42", SK: "v1"}`` is the vector ``CONTENT#42#v1``, as the seed's ``PK + '#' + SK``. Strings are
    used as they are, numbers in DynamoDB's normal form (``1.50`` gives ``1.5``), binary values as standard base64.
    The id depends on the key alone, so it is stable across changes and redeliveries. Keys whose values contain
    ``#`` can meet the same id (``a#b`` + ``c`` and ``a`` + ``b#c``); an id longer than the store allows (Pinecone
    512 characters, S3 Vectors 1,024) fails its record with a message saying so.

Sync semantics
    The stream runtime folds a batch into one net change per item (``lambda_src.stream_runtime.ItemChange``), from
    before its first record to after its last: within a batch, only the last state of an item is applied.

    - The item is gone (its last record is a REMOVE, TTL deletes included): the vector is deleted.
    - The item is new (its first record is an INSERT): its text is embedded and the vector upserted.
    - The item changed: if the text changed, it is re-embedded and upserted; if only METADATA_ATTRIBUTES changed, the
      store's metadata is updated without a new embedding (Pinecone), or the text is re-embedded and the vector put
      again where the store cannot update metadata alone (S3 Vectors) or where a metadata attribute went away (a
      Pinecone update keeps fields it is not given); if neither changed, nothing is sent.
    - Missing, empty (blank) or non-string text: the item is skipped, with a log line (ids only, never text) and
      the ``SkippedRecords`` metric. But when a change removes or empties text the item had, its vector is
      deleted: left in place, it would find the item for words it no longer holds.

    Texts go to the model in as few requests as its limits allow (count and estimated tokens), vectors to the store
    in as few as its limits allow (count and bytes), all requests of a batch in parallel on a bounded pool. Each
    request is retried as ``providers.call_with_retries`` decides, within the function's remaining time. A request
    refused with 400, 413 or 422 has its halves tried, and theirs, so that only the inputs refused on their own
    fail. Every other change is applied all the same. The batch-level runtime (``process_item_changes``) does the
    rest: a change that failed for good (a refused input, a missing key attribute) is quarantined with its records;
    one that may succeed on a retry fails its item's first record in the partial batch response. A malformed record
    fails alone.

Plug-in interface
    EMBEDDING_PROVIDER=plugin or VECTOR_STORE=plugin names a class as ``module:Class`` (EMBEDDING_PLUGIN,
    VECTOR_STORE_PLUGIN) in a module on the function's path, built with no arguments; it implements
    ``providers.EmbeddingModel`` or ``providers.VectorStore`` (see ``providers/interfaces.py``). Two optional
    attributes are used when present: a model's ``estimate_tokens(text) -> int``, an upper estimate for filling
    requests (Default: one token per two UTF-8 bytes), and a store's ``max_id_length`` (Default: no check). The
    pipeline measures a vector for ``max_batch_bytes`` with ``vectors.serialized_size``.
"""

from __future__ import annotations

from .config import ConfigError, PipelineConfig
from .sync import SPLIT_STATUSES, VectorSync
from .vectors import float32_values, serialized_size, vector_id, vector_metadata

__all__ = [
    "SPLIT_STATUSES",
    "ConfigError",
    "PipelineConfig",
    "VectorSync",
    "float32_values",
    "serialized_size",
    "vector_id",
    "vector_metadata",
]
