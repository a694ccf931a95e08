"""A Pinecone index's data plane over plain HTTPS, without the Pinecone SDK.

API reference: https://docs.pinecone.io/reference/api/2025-10/data-plane/upsert
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .float32 import Float32Values
from .http import JsonHttpClient
from .interfaces import Vector
from .retry import RetryableProviderError

__all__ = [
    "PINECONE_API_VERSION",
    "PINECONE_MAX_DELETE_IDS",
    "PINECONE_MAX_ID_LENGTH",
    "PINECONE_MAX_UPSERT_BYTES",
    "PINECONE_MAX_UPSERT_VECTORS",
    "PineconeIndex",
]

# Without the header Pinecone answers with its oldest supported version:
# https://docs.pinecone.io/reference/api/versioning
PINECONE_API_VERSION = "2025-10"
# https://docs.pinecone.io/reference/api/database-limits: an upsert carries at most 1,000 records and 2 MB, a
# delete at most 1,000 ids, and a record id at most 512 characters.
PINECONE_MAX_UPSERT_VECTORS = 1_000
PINECONE_MAX_UPSERT_BYTES = 2_000_000
PINECONE_MAX_DELETE_IDS = 1_000
PINECONE_MAX_ID_LENGTH = 512
# Room in the 2 MB for the request's own keys and the namespace, beyond the vectors the pipeline measures.
_ENVELOPE_BYTES = 4_096


class PineconeIndex:
    """Upserts, deletes and updates the metadata of vectors in one index namespace; implements ``VectorStore``.

    ``index_url`` is the index's own host as a URL (``https://my-index-abc.svc.pinecone.io``), from the control
    plane's describe_index; ``namespace=""`` is the index's default namespace.
    """

    max_batch_vectors = min(PINECONE_MAX_UPSERT_VECTORS, PINECONE_MAX_DELETE_IDS)
    max_batch_bytes = PINECONE_MAX_UPSERT_BYTES - _ENVELOPE_BYTES
    max_id_length = PINECONE_MAX_ID_LENGTH
    # update's setMetadata sets the fields it names and keeps the others:
    # https://docs.pinecone.io/reference/api/2025-10/data-plane/update
    supports_metadata_update = True

    def __init__(self, *, index_url: str, namespace: str, api_key: str) -> None:
        self._namespace = namespace
        self._http = JsonHttpClient(
            "pinecone", index_url, {"Api-Key": api_key, "X-Pinecone-Api-Version": PINECONE_API_VERSION}
        )

    def upsert(self, vectors: Sequence[Vector], *, timeout: float) -> None:
        # The compact JSON of {"vectors": [{"id", "values", "metadata"}], "namespace"}, put together here so that
        # values rounded by Float32Values go in as the text they already have.
        records = ",".join(_record_json(vector) for vector in vectors)
        payload = f'{{"vectors":[{records}],"namespace":{json.dumps(self._namespace)}}}'.encode()
        answer = self._http.post_payload("/vectors/upsert", payload, timeout=timeout)
        upserted = answer.get("upsertedCount") if isinstance(answer, dict) else None
        if upserted != len(vectors):
            # Upserts are idempotent, so trying the whole request again is safe.
            raise RetryableProviderError("pinecone", f"upsertedCount {upserted!r} for {len(vectors)} vectors")

    def delete(self, ids: Sequence[str], *, timeout: float) -> None:
        self._http.post("/vectors/delete", {"ids": list(ids), "namespace": self._namespace}, timeout=timeout)

    def update_metadata(self, vector_id: str, metadata: Mapping[str, Any], *, timeout: float) -> None:
        body = {"id": vector_id, "setMetadata": dict(metadata), "namespace": self._namespace}
        self._http.post("/vectors/update", body, timeout=timeout)


def _record_json(vector: Vector) -> str:
    values = vector.values
    values_json = values.json if isinstance(values, Float32Values) else _compact_json(list(values))
    record = f'{{"id":{json.dumps(vector.id)},"values":{values_json}'
    if vector.metadata:
        record += f',"metadata":{_compact_json(dict(vector.metadata))}'
    return record + "}"


def _compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
