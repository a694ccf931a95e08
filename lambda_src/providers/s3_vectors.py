"""An Amazon S3 Vectors index through boto3's s3vectors client (PutVectors, DeleteVectors).

Limits: https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-limitations.html
boto3 is imported on the first call, so a pipeline on another store never loads it for vectors. The s3vectors client
needs a boto3 from July 2025 or later, newer than some Lambda runtimes ship.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .aws import AwsClient
from .interfaces import Vector
from .retry import FinalProviderError

__all__ = [
    "S3_VECTORS_MAX_KEY_LENGTH",
    "S3_VECTORS_MAX_REQUEST_BYTES",
    "S3_VECTORS_MAX_VECTORS_PER_CALL",
    "S3_VECTORS_NAME_LENGTHS",
    "S3_VECTORS_RETRYABLE_CODES",
    "S3VectorsIndex",
]

# From the limits page above: PutVectors and DeleteVectors take at most 500 vectors and 20 MiB, and a key is 1 to
# 1,024 characters; bucket and index names are 3 to 63 characters (the s3vectors service model).
S3_VECTORS_MAX_VECTORS_PER_CALL = 500
S3_VECTORS_MAX_REQUEST_BYTES = 20 * 1024 * 1024
S3_VECTORS_MAX_KEY_LENGTH = 1_024
S3_VECTORS_NAME_LENGTHS = range(3, 64)
# The PutVectors and DeleteVectors errors worth a retry:
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_S3VectorBuckets_PutVectors.html
S3_VECTORS_RETRYABLE_CODES = frozenset(
    {"TooManyRequestsException", "ServiceUnavailableException", "InternalServerException", "RequestTimeoutException"}
)
# Room in the 20 MiB for the request's own keys and names, and for each vector's "key"/"data"/"float32" wrapping,
# beyond what the pipeline measures of a vector.
_ENVELOPE_BYTES = 4_096
_WRAPPING_BYTES_PER_VECTOR = 32


class S3VectorsIndex:
    """Puts and deletes vectors in one vector index; implements ``VectorStore``.

    S3 Vectors has no call that changes metadata alone, so ``supports_metadata_update`` is False and the pipeline
    re-embeds and puts the whole vector instead. ``max_connections``: the most calls made at once.
    """

    max_batch_vectors = S3_VECTORS_MAX_VECTORS_PER_CALL
    max_batch_bytes = (
        S3_VECTORS_MAX_REQUEST_BYTES - _ENVELOPE_BYTES - S3_VECTORS_MAX_VECTORS_PER_CALL * _WRAPPING_BYTES_PER_VECTOR
    )
    max_id_length = S3_VECTORS_MAX_KEY_LENGTH
    supports_metadata_update = False

    def __init__(self, *, bucket: str, index: str, max_connections: int) -> None:
        self._target = {"vectorBucketName": bucket, "indexName": index}
        self._s3vectors = AwsClient(
            "s3vectors", retryable_codes=S3_VECTORS_RETRYABLE_CODES, max_connections=max_connections
        )

    def upsert(self, vectors: Sequence[Vector], *, timeout: float) -> None:
        entries: list[dict[str, Any]] = []
        for vector in vectors:
            entry: dict[str, Any] = {"key": vector.id, "data": {"float32": list(vector.values)}}
            if vector.metadata:
                entry["metadata"] = dict(vector.metadata)
            entries.append(entry)
        self._s3vectors.call(timeout, lambda client: client.put_vectors(**self._target, vectors=entries))

    def delete(self, ids: Sequence[str], *, timeout: float) -> None:
        self._s3vectors.call(timeout, lambda client: client.delete_vectors(**self._target, keys=list(ids)))

    def update_metadata(self, vector_id: str, metadata: Mapping[str, Any], *, timeout: float) -> None:
        raise FinalProviderError("s3vectors", "S3 Vectors cannot update metadata alone: put the whole vector")
