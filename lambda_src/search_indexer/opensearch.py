"""The OpenSearch calls the SearchIndexer makes, signed with SigV4: create the index with its mappings, ``_bulk`` with
every item's result read, and the reads a reindex or a test needs (get, search).

``_bulk`` answers 200 even when items fail: ``errors`` is then true and each failed item has its ``status`` and
``error`` (https://docs.opensearch.org/latest/api-reference/document-apis/bulk/). Each item's outcome is classified on
its own: 429 (a full write queue), 409 (a conflict left after ``retry_on_conflict``) and 5xx retryable, any other 4xx
(a mapping conflict, a malformed document) final.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from lambda_src.contract import SearchService
from lambda_src.providers import ProviderError, classify_status
from lambda_src.providers.signed_http import SignedHttpClient, error_of

from .documents import index_body

__all__ = ["BulkAction", "OpenSearchIndex"]

PROVIDER = "opensearch"
_ALREADY_EXISTS = ("resource_already_exists_exception", "index_already_exists_exception")


@dataclass(frozen=True)
class BulkAction:
    """One ``_bulk`` action: its two lines, encoded, and what it is for (an ItemChange, a scanned item)."""

    lines: bytes
    subject: Any

    @classmethod
    def of(cls, action: Mapping[str, Any], body: Mapping[str, Any], subject: Any) -> BulkAction:
        encoded = [json.dumps(line, separators=(",", ":"), ensure_ascii=False) for line in (action, body)]
        return cls(("\n".join(encoded) + "\n").encode(), subject)


class OpenSearchIndex:
    """One index at ``endpoint`` (a domain's or a collection's, with or without https://), signed for ``service``."""

    def __init__(
        self,
        endpoint: str,
        index: str,
        *,
        service: SearchService = SearchService.DOMAIN,
        region: str | None = None,
    ) -> None:
        self.index = index
        self._client = SignedHttpClient(PROVIDER, endpoint, service=str(service), region=region)
        self.requests = 0

    def create(self, properties: Mapping[str, Any], *, timeout: float) -> bool:
        """Create the index with ``properties`` (field mappings); False when it already exists."""
        self.requests += 1
        body = json.dumps(index_body(properties)).encode()
        answer = self._client.request("PUT", f"/{quote(self.index)}", body, timeout=timeout)
        if answer.status < 300:
            return True
        error = error_of(PROVIDER, answer)
        if answer.status == 400 and error.code in _ALREADY_EXISTS:
            return False
        raise error

    def bulk(self, actions: Sequence[BulkAction], *, timeout: float) -> list[ProviderError | None]:
        """Send ``actions`` in one ``_bulk`` request; one outcome per action (None: applied, or a no-op the fence
        chose). Raises a ProviderError when the request as a whole failed."""
        self.requests += 1
        payload = b"".join(action.lines for action in actions)
        answer = self._client.request("POST", "/_bulk", payload, timeout=timeout, content_type="application/x-ndjson")
        if answer.status >= 400:
            raise error_of(PROVIDER, answer)
        try:
            items = answer.json()["items"]
        except (ValueError, KeyError, TypeError) as error:
            raise classify_status(PROVIDER, 502, "a _bulk answer without items") from error
        if not isinstance(items, list) or len(items) != len(actions):
            raise classify_status(PROVIDER, 502, f"a _bulk answer with {len(items)} items for {len(actions)} actions")
        return [_item_outcome(item) for item in items]

    def get(self, document_id: str, *, timeout: float = 10.0) -> dict[str, Any] | None:
        """The stored source of ``document_id``, or None."""
        self.requests += 1
        answer = self._client.request(
            "GET", f"/{quote(self.index)}/_doc/{quote(document_id, safe='')}", timeout=timeout
        )
        if answer.status == 404:
            return None
        if answer.status >= 400:
            raise error_of(PROVIDER, answer)
        source: dict[str, Any] = answer.json()["_source"]
        return source

    def search(self, query: Mapping[str, Any], *, size: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The hits (``_id`` and ``_source``) of ``query``."""
        self.requests += 1
        body = json.dumps({"query": query, "size": size}).encode()
        answer = self._client.request("POST", f"/{quote(self.index)}/_search", body, timeout=timeout)
        if answer.status >= 400:
            raise error_of(PROVIDER, answer)
        hits: list[dict[str, Any]] = answer.json()["hits"]["hits"]
        return hits


def _item_outcome(item: Mapping[str, Any]) -> ProviderError | None:
    (result,) = item.values() if isinstance(item, Mapping) and len(item) == 1 else ({},)
    status = result.get("status") if isinstance(result, Mapping) else None
    if not isinstance(status, int):
        return classify_status(PROVIDER, 502, "a _bulk item without a status")
    if status < 300:
        return None
    error = result.get("error") if isinstance(result.get("error"), Mapping) else {}
    message = str(error.get("reason") or error.get("type") or "the item failed")[:500]
    return classify_status(PROVIDER, status, message, code=error.get("type"))
