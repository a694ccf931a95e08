"""A Pinecone index's data plane on 127.0.0.1, for the pipeline's plain-HTTP client given its URL as the index host.

Answers ``POST /vectors/upsert`` (``{upsertedCount}``), ``/vectors/delete`` and ``/vectors/update`` (``{}``) as the
2025-10 API does (https://docs.pinecone.io/reference/api/2025-10/data-plane/upsert), with an ``Api-Key`` and the
``X-Pinecone-Api-Version`` header, and keeps what it is sent in ``namespaces``. It enforces the documented limits
(https://docs.pinecone.io/reference/api/database-limits): 1,000 vectors and 2 MB an upsert, 1,000 ids a delete, ids of
at most 512 characters, flat metadata without nulls and at most 40 KB a record, a non-zero dense vector of one
dimension. Errors are ``{code, message, details}`` with the gRPC code, as Pinecone sends them.
"""

from __future__ import annotations

import json
from typing import Any

from constructs_pkg.local.stubs.server import Reply, Request, StubServer

__all__ = ["API_KEY", "API_VERSION", "PineconeStub", "pinecone_error"]

API_KEY = "pcsk_pinecone_stub_key"
API_VERSION = "2025-10"
_MAX_UPSERT_BYTES = 2_000_000
_MAX_METADATA_BYTES = 40 * 1024
_GRPC_CODES = {400: 3, 401: 16, 404: 5, 429: 8, 500: 13, 503: 14}


def pinecone_error(status: int, message: str, **headers: str) -> Reply:
    return Reply(status=status, body={"code": _GRPC_CODES.get(status, 2), "message": message, "details": []},
                 headers=headers)  # fmt: skip


class PineconeStub(StubServer):
    """One index; ``namespaces[namespace][id]`` is ``{"values": [...], "metadata": {...}}``."""

    UPSERT = r"^/vectors/upsert$"
    DELETE = r"^/vectors/delete$"
    UPDATE = r"^/vectors/update$"

    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.namespaces: dict[str, dict[str, dict[str, Any]]] = {}
        self.dimension: int | None = None
        self.route("POST", self.UPSERT, self._guarded(self._upsert))
        self.route("POST", self.DELETE, self._guarded(self._delete))
        self.route("POST", self.UPDATE, self._guarded(self._update))

    def vectors(self, namespace: str = "") -> dict[str, dict[str, Any]]:
        return self.namespaces.get(namespace, {})

    # The errors the API documents, as it sends them.
    @staticmethod
    def rate_limited(retry_after: str) -> Reply:
        return pinecone_error(429, "Request rate limit exceeded.", **{"Retry-After": retry_after})

    @staticmethod
    def server_error() -> Reply:
        return pinecone_error(500, "Internal error.")

    @staticmethod
    def delayed(seconds: float) -> Reply:
        """An answer sent after ``seconds``: longer than the client's timeout, it never arrives."""
        return Reply(body={"upsertedCount": 0}, delay=seconds)

    def _guarded(self, route: Any) -> Any:
        def checked(request: Request) -> Reply:
            if request.headers.get("api-key") != API_KEY:
                return pinecone_error(401, "Invalid API Key")
            if request.headers.get("x-pinecone-api-version") != API_VERSION:
                return pinecone_error(400, f"X-Pinecone-Api-Version must be {API_VERSION} for this stub")
            return route(request.json(), request)

        return checked

    def _upsert(self, body: dict[str, Any], request: Request) -> Reply:
        vectors, namespace = body.get("vectors"), body.get("namespace", "")
        if len(request.body) > _MAX_UPSERT_BYTES:
            return pinecone_error(400, f"Request size {len(request.body)} bytes exceeds the maximum of 2MB.")
        if not isinstance(vectors, list) or not 1 <= len(vectors) <= 1_000:
            return pinecone_error(400, "vectors must hold 1 to 1000 records.")
        for vector in vectors:
            problem = self._problem(vector)
            if problem:
                return pinecone_error(400, problem)
        store = self.namespaces.setdefault(namespace, {})
        for vector in vectors:
            store[vector["id"]] = {"values": vector["values"], "metadata": vector.get("metadata", {})}
        return Reply(body={"upsertedCount": len(vectors)})

    def _delete(self, body: dict[str, Any], request: Request) -> Reply:
        ids = body.get("ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 1_000:
            return pinecone_error(400, "ids must hold 1 to 1000 ids.")
        store = self.namespaces.get(body.get("namespace", ""), {})
        for vector_id in ids:
            store.pop(vector_id, None)
        return Reply(body={})

    def _update(self, body: dict[str, Any], request: Request) -> Reply:
        metadata = body.get("setMetadata", {})
        if not _flat(metadata):
            return pinecone_error(400, "Metadata values must be strings, numbers, booleans or lists of strings.")
        stored = self.namespaces.get(body.get("namespace", ""), {}).get(str(body.get("id", "")))
        if stored is not None:
            # setMetadata sets the fields it names and keeps the others.
            stored["metadata"] = {**stored["metadata"], **metadata}
        return Reply(body={})

    def _problem(self, vector: Any) -> str | None:
        vector_id, values, metadata = vector.get("id"), vector.get("values"), vector.get("metadata", {})
        if not isinstance(vector_id, str) or not 1 <= len(vector_id) <= 512:
            return "Vector ID must be 1 to 512 characters."
        if not isinstance(values, list) or not values or not any(values):
            return f"Dense vector {vector_id!r} must have at least one non-zero value."
        if self.dimension is not None and len(values) != self.dimension:
            return f"Vector dimension {len(values)} does not match the dimension of the index {self.dimension}."
        self.dimension = len(values)
        if not _flat(metadata):
            return "Metadata values must be strings, numbers, booleans or lists of strings."
        if len(json.dumps(metadata).encode()) > _MAX_METADATA_BYTES:
            return f"Metadata size exceeds the limit of {_MAX_METADATA_BYTES} bytes per vector."
        return None


def _flat(metadata: Any) -> bool:
    return isinstance(metadata, dict) and all(
        isinstance(value, str | bool | int | float)
        or (isinstance(value, list) and all(isinstance(element, str) for element in value))
        for value in metadata.values()
    )
