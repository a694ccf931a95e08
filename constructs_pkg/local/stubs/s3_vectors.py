"""Amazon S3 Vectors' PutVectors and DeleteVectors on 127.0.0.1, for boto3's ``s3vectors`` client given its URL.

The wire format is botocore's service model for s3vectors 2025-07-15 (rest-json): ``POST /PutVectors`` with
``{vectorBucketName, indexName, vectors: [{key, data: {float32}, metadata}]}`` and ``POST /DeleteVectors`` with
``{vectorBucketName, indexName, keys}``, both answering ``{}``; errors are named by the ``x-amzn-ErrorType`` header
with ``{"message"}`` as the body. It enforces the documented limits
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-limitations.html): 500 vectors and 20 MiB a call,
keys of 1 to 1,024 characters, one dimension per index. ``indexes[(bucket, index)][key]`` is what it holds.
"""

from __future__ import annotations

from typing import Any

from constructs_pkg.local.stubs.server import Reply, Request, StubServer

__all__ = ["S3VectorsStub", "s3_vectors_error"]

_MAX_REQUEST_BYTES = 20 * 1024 * 1024


def s3_vectors_error(status: int, error_type: str, message: str, **headers: str) -> Reply:
    return Reply(status=status, body={"message": message}, headers={"x-amzn-ErrorType": error_type, **headers})


class S3VectorsStub(StubServer):
    """Vector indexes, each created with ``create_index(bucket, index, dimension)``."""

    PUT = r"^/PutVectors$"
    DELETE = r"^/DeleteVectors$"

    def __init__(self) -> None:
        super().__init__()
        self.indexes: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._dimensions: dict[tuple[str, str], int | None] = {}
        self.route("POST", self.PUT, self._put)
        self.route("POST", self.DELETE, self._delete)

    def create_index(self, bucket: str, index: str, dimension: int | None) -> None:
        """A new empty index; ``dimension`` None: the first vector put sets it."""
        self.indexes[(bucket, index)] = {}
        self._dimensions[(bucket, index)] = dimension

    def _index(self, body: dict[str, Any]) -> tuple[str, str] | None:
        name = (body.get("vectorBucketName"), body.get("indexName"))
        return name if name in self.indexes else None

    def _put(self, request: Request) -> Reply:
        body = request.json()
        index = self._index(body)
        if index is None:
            return s3_vectors_error(404, "NotFoundException", "The specified index could not be found")
        vectors = body.get("vectors")
        if len(request.body) > _MAX_REQUEST_BYTES:
            return s3_vectors_error(413, "ValidationException", "The request payload exceeds 20 MiB")
        if not isinstance(vectors, list) or not 1 <= len(vectors) <= 500:
            return s3_vectors_error(400, "ValidationException", "vectors must hold 1 to 500 vectors")
        dimension = self._dimensions[index]
        for vector in vectors:
            key, values = vector.get("key"), vector.get("data", {}).get("float32")
            if not isinstance(key, str) or not 1 <= len(key) <= 1_024:
                return s3_vectors_error(400, "ValidationException", "key must be 1 to 1024 characters")
            if not isinstance(values, list):
                return s3_vectors_error(400, "ValidationException", "data must hold float32 values")
            dimension = dimension or len(values)
            if len(values) != dimension:
                return s3_vectors_error(400, "ValidationException", "The vector's dimension does not match the index")
        self._dimensions[index] = dimension
        for vector in vectors:
            self.indexes[index][vector["key"]] = {
                "float32": vector["data"]["float32"],
                "metadata": vector.get("metadata", {}),
            }
        return Reply(body={})

    def _delete(self, request: Request) -> Reply:
        body = request.json()
        index = self._index(body)
        if index is None:
            return s3_vectors_error(404, "NotFoundException", "The specified index could not be found")
        keys = body.get("keys")
        if not isinstance(keys, list) or not 1 <= len(keys) <= 500:
            return s3_vectors_error(400, "ValidationException", "keys must hold 1 to 500 keys")
        for key in keys:
            self.indexes[index].pop(key, None)
        return Reply(body={})
