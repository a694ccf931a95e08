"""An OpenSearch domain on 127.0.0.1, as far as the SearchIndexer and its reindex use one, driven by the indexer's own
client (``lambda_src.search_indexer.opensearch``) with SigV4 checked for ``es`` (or ``aoss``).

Endpoints, with the semantics of https://docs.opensearch.org/latest/api-reference/: ``PUT /<index>`` (create, with
``mappings.properties``; 400 ``resource_already_exists_exception`` when it exists), ``POST /_bulk`` (NDJSON ``index``,
``create``, ``update`` and ``delete`` actions, ``errors`` and one item per action with its own ``status`` and
``error``), ``GET`` and ``DELETE /<index>/_doc/<id>``, ``PUT /<index>/_doc/<id>`` (with ``version`` and
``version_type=external``: 409 unless the version is higher), ``POST /<index>/_search`` (``match_all``, ``term``,
``terms``, ``match`` on a whole value, ``bool`` with ``must``, ``filter``, ``should`` and ``must_not``).

Updates: a partial ``doc`` (with ``doc_as_upsert``), ``upsert``, and scripts as far as the indexer relies on them: the
version fence (``lambda_src.search_indexer.documents.FENCE_SCRIPT``) runs as its Painless source would, with
``scripted_upsert``; any other script is refused with 400. Mappings: fields are typed from the index's mappings, else
from the first value seen (dynamic mapping); a value that does not fit its field's type fails its item with 400
``mapper_parsing_exception``, as a mapping conflict does. Documents are searchable at once (no refresh interval).

Not emulated: analyzers and relevance (``match`` compares whole values, case-folded), aggregations, sorting, paging
past ``size``, aliases, refresh, shards and replicas, ``index.gc_deletes``, Painless beyond the fence, the
``_update`` and ``_delete_by_query`` endpoints, and payload size limits (``max_content_length`` is set per test).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lambda_src.search_indexer.documents import FENCE_SCRIPT

from .server import Reply, Request, StubServer
from .sigv4 import SigV4Verifier

__all__ = ["OpenSearchStub"]


def _number_like(value: Any, parse: Any) -> bool:
    # OpenSearch coerces numeric strings into numeric fields by default (the "coerce" mapping parameter).
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        parse(value)
    except (TypeError, ValueError):
        return False
    return True


# What a field of each type accepts, as OpenSearch's default coercion does; anything else is a mapping conflict.
_TYPE_CHECKS: dict[str, Any] = {
    "keyword": lambda value: isinstance(value, str | int | float | bool),
    "text": lambda value: isinstance(value, str | int | float | bool),
    "boolean": lambda value: isinstance(value, bool) or value in ("true", "false"),
    "long": lambda value: _number_like(value, int) and float(value) == int(float(value)),
    "integer": lambda value: _number_like(value, int) and abs(float(value)) < 2**31,
    "float": lambda value: _number_like(value, float),
    "double": lambda value: _number_like(value, float),
    "date": lambda value: isinstance(value, str | int) and not isinstance(value, bool),
    "object": lambda value: isinstance(value, dict),
}


def _dynamic_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "object"
    return "text"


class _Index:
    def __init__(self, properties: Mapping[str, Any]) -> None:
        self.fields: dict[str, str] = {name: spec.get("type", "object") for name, spec in properties.items()}
        self.documents: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}

    def check(self, source: Mapping[str, Any]) -> str | None:
        """Why ``source`` does not fit the mappings (a mapping conflict), or None; maps new fields dynamically."""
        for name, value in source.items():
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            field_type = self.fields.get(name)
            for member in values:
                if field_type is None:
                    field_type = self.fields[name] = _dynamic_type(member)
                check = _TYPE_CHECKS.get(field_type, lambda _value: True)
                if not check(member):
                    return f"failed to parse field [{name}] of type [{field_type}]: {json.dumps(member)[:80]}"
        return None


class OpenSearchStub(StubServer):
    """An OpenSearch endpoint at ``url``; ``indexes`` by name, ``documents(index)`` the stored sources."""

    BULK = r"^/_bulk"

    def __init__(self, *, service: str = "es", latency: float = 0.0, max_content_length: int | None = None) -> None:
        super().__init__(latency=latency)
        self.signatures = SigV4Verifier(service)
        self.max_content_length = max_content_length
        self.indexes: dict[str, _Index] = {}
        self._item_faults: list[tuple[str, int, str]] = []
        self._data = threading.Lock()
        self.route("POST", self.BULK, self._bulk)
        self.route("PUT", r"^/[^/_][^/]*/_doc/", self._put_document)
        self.route("PUT", r"^/[^/_][^/]*/?(\?|$)", self._create_index)
        self.route("GET", r"^/[^/_][^/]*/_doc/", self._get_document)
        self.route("DELETE", r"^/[^/_][^/]*/_doc/", self._delete_document)
        self.route("POST", r"^/[^/_][^/]*/_search", self._search)

    def documents(self, index: str) -> dict[str, dict[str, Any]]:
        with self._data:
            found = self.indexes.get(index)
            return {} if found is None else {key: dict(value) for key, value in found.documents.items()}

    def fail_items_when(
        self, marker: str, *, status: int = 429, error_type: str = "es_rejected_execution_exception", times: int = 1
    ) -> None:
        """Fail the next ``times`` bulk items whose action holds ``marker`` with ``status`` and ``error_type``."""
        with self._data:
            self._item_faults.extend([(marker, status, error_type)] * times)

    def _answer(self, request: Request) -> Reply:
        refusal = self.signatures.refusal(request)
        if refusal is not None:
            return refusal
        if self.max_content_length is not None and len(request.body) > self.max_content_length:
            return _error(413, "content_too_long_exception", f"request body larger than {self.max_content_length}")
        return super()._answer(request)

    # --- indexes and documents ------------------------------------------------------------------------------------

    def _create_index(self, request: Request) -> Reply:
        name = unquote(urlsplit(request.path).path.strip("/"))
        body = request.json() if request.body else {}
        with self._data:
            if name in self.indexes:
                return _error(400, "resource_already_exists_exception", f"index [{name}] already exists")
            self.indexes[name] = _Index(body.get("mappings", {}).get("properties", {}))
        return Reply(body={"acknowledged": True, "shards_acknowledged": True, "index": name})

    def _document_path(self, request: Request) -> tuple[str, str, dict[str, list[str]]]:
        parts = urlsplit(request.path)
        index, _, document_id = parts.path.lstrip("/").partition("/_doc/")
        return unquote(index), unquote(document_id), parse_qs(parts.query)

    def _get_document(self, request: Request) -> Reply:
        index, document_id, _ = self._document_path(request)
        with self._data:
            found = self.indexes.get(index)
            source = None if found is None else found.documents.get(document_id)
            version = None if found is None else found.versions.get(document_id)
        if found is None:
            return _error(404, "index_not_found_exception", f"no such index [{index}]")
        if source is None:
            return Reply(status=404, body={"_index": index, "_id": document_id, "found": False})
        return Reply(body={"_index": index, "_id": document_id, "_version": version, "found": True, "_source": source})

    def _put_document(self, request: Request) -> Reply:
        index, document_id, query = self._document_path(request)
        action: dict[str, Any] = {"_index": index, "_id": document_id}
        if "version" in query:
            action["version"] = int(query["version"][0])
            action["version_type"] = query.get("version_type", ["internal"])[0]
        with self._data:
            result = self._apply("index", action, request.json())
        status = result.pop("status")
        return Reply(status=status, body=result)

    def _delete_document(self, request: Request) -> Reply:
        index, document_id, _ = self._document_path(request)
        with self._data:
            result = self._apply("delete", {"_index": index, "_id": document_id}, None)
        status = result.pop("status")
        return Reply(status=status, body=result)

    def _search(self, request: Request) -> Reply:
        index = unquote(urlsplit(request.path).path.strip("/").partition("/")[0])
        body = request.json() if request.body else {}
        query, size = body.get("query", {"match_all": {}}), int(body.get("size", 10))
        with self._data:
            found = self.indexes.get(index)
            if found is None:
                return _error(404, "index_not_found_exception", f"no such index [{index}]")
            try:
                hits = [
                    {"_index": index, "_id": key, "_score": 1.0, "_source": dict(source)}
                    for key, source in found.documents.items()
                    if _matches(query, source)
                ]
            except ValueError as error:
                return _error(400, "parsing_exception", str(error))
        return Reply(
            body={
                "took": 1,
                "timed_out": False,
                "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits[:size]},
            }
        )

    # --- _bulk ----------------------------------------------------------------------------------------------------

    def _bulk(self, request: Request) -> Reply:
        lines = [line for line in request.body.decode().split("\n") if line.strip()]
        items: list[dict[str, Any]] = []
        position = 0
        try:
            while position < len(lines):
                header = json.loads(lines[position])
                ((kind, action),) = header.items()
                body = None
                if kind != "delete":
                    body = json.loads(lines[position + 1])
                    position += 1
                position += 1
                fault = self._item_fault(lines[position - 1])
                if fault is not None:
                    items.append(
                        {
                            kind: {
                                "_index": action.get("_index"),
                                "_id": action.get("_id"),
                                "status": fault[0],
                                "error": {"type": fault[1], "reason": "scripted by the test"},
                            }
                        }
                    )
                    continue
                with self._data:
                    items.append({kind: self._apply(kind, action, body)})
        except (ValueError, IndexError, KeyError, TypeError, AttributeError) as error:
            return _error(400, "illegal_argument_exception", f"malformed bulk request: {error}")
        errors = any(item[next(iter(item))]["status"] >= 300 for item in items)
        return Reply(body={"took": 1, "errors": errors, "items": items})

    def _item_fault(self, line: str) -> tuple[int, str] | None:
        with self._data:
            for position, (marker, status, error_type) in enumerate(self._item_faults):
                if marker in line:
                    del self._item_faults[position]
                    return status, error_type
        return None

    def _apply(self, kind: str, action: Mapping[str, Any], body: Any) -> dict[str, Any]:
        """One action on the stored documents; the bulk item's answer (with ``status``). Holds ``_data``."""
        index_name, document_id = action["_index"], str(action["_id"])
        index = self.indexes.setdefault(index_name, _Index({}))  # indexes are created on first write
        answer: dict[str, Any] = {"_index": index_name, "_id": document_id}
        stored = index.documents.get(document_id)
        if kind == "delete":
            if stored is None:
                return {**answer, "result": "not_found", "status": 404}
            del index.documents[document_id]
            index.versions[document_id] += 1
            return {**answer, "result": "deleted", "status": 200, "_version": index.versions[document_id]}
        if kind in ("index", "create"):
            if kind == "create" and stored is not None:
                return {
                    **answer,
                    "status": 409,
                    "error": _reason("version_conflict_engine_exception", "document already exists"),
                }
            version = None
            if action.get("version_type") == "external":
                version = int(action["version"])
                if version <= index.versions.get(document_id, -1):
                    return {
                        **answer,
                        "status": 409,
                        "error": _reason(
                            "version_conflict_engine_exception",
                            f"current version [{index.versions[document_id]}] is higher or equal to [{version}]",
                        ),
                    }
            return self._store(index, answer, document_id, body, version)
        if kind == "update":
            return self._update(index, answer, document_id, stored, body)
        return {**answer, "status": 400, "error": _reason("illegal_argument_exception", f"unknown action {kind}")}

    def _update(
        self,
        index: _Index,
        answer: dict[str, Any],
        document_id: str,
        stored: dict[str, Any] | None,
        body: Mapping[str, Any],
    ) -> dict[str, Any]:
        script = body.get("script")
        if script is None:
            if stored is None and not body.get("doc_as_upsert") and "upsert" not in body:
                return {**answer, "status": 404, "error": _reason("document_missing_exception", "document missing")}
            base = dict(stored) if stored is not None else dict(body.get("upsert") or {})
            return self._store(index, answer, document_id, {**base, **(body.get("doc") or {})}, None)
        if script.get("source") != FENCE_SCRIPT:
            return {
                **answer,
                "status": 400,
                "error": _reason("illegal_argument_exception", "the stub runs only the SearchIndexer's fence script"),
            }
        if stored is None and not body.get("scripted_upsert"):
            if "upsert" in body:
                return self._store(index, answer, document_id, dict(body["upsert"]), None)
            return {**answer, "status": 404, "error": _reason("document_missing_exception", "document missing")}
        params = script.get("params") or {}
        source = dict(stored) if stored is not None else dict(body.get("upsert") or {})
        current = source.get(params["field"])
        if current is not None and str(current) >= str(params["sequence"]):
            return {**answer, "result": "noop", "status": 200, "_version": index.versions.get(document_id, 0)}
        return self._store(index, answer, document_id, dict(params["doc"]), None)

    def _store(
        self, index: _Index, answer: dict[str, Any], document_id: str, source: Any, version: int | None
    ) -> dict[str, Any]:
        if not isinstance(source, dict):
            return {
                **answer,
                "status": 400,
                "error": _reason("mapper_parsing_exception", "the document is not an object"),
            }
        problem = index.check(source)
        if problem is not None:
            return {**answer, "status": 400, "error": _reason("mapper_parsing_exception", problem)}
        created = document_id not in index.documents
        index.documents[document_id] = source
        index.versions[document_id] = version if version is not None else index.versions.get(document_id, 0) + 1
        return {
            **answer,
            "result": "created" if created else "updated",
            "status": 201 if created else 200,
            "_version": index.versions[document_id],
        }


def _matches(query: Mapping[str, Any], source: Mapping[str, Any]) -> bool:
    ((kind, spec),) = query.items()
    if kind == "match_all":
        return True
    if kind in ("term", "match"):
        ((field, wanted),) = spec.items()
        if isinstance(wanted, dict):
            wanted = wanted.get("value", wanted.get("query"))
        value = source.get(field)
        values = value if isinstance(value, list) else [value]
        if kind == "match" and isinstance(wanted, str):
            return any(isinstance(member, str) and member.casefold() == wanted.casefold() for member in values)
        return wanted in values
    if kind == "terms":
        ((field, wanted),) = spec.items()
        value = source.get(field)
        return any(member in wanted for member in (value if isinstance(value, list) else [value]))
    if kind == "bool":
        must = [*_clauses(spec.get("must")), *_clauses(spec.get("filter"))]
        should = _clauses(spec.get("should"))
        return (
            all(_matches(clause, source) for clause in must)
            and not any(_matches(clause, source) for clause in _clauses(spec.get("must_not")))
            and (not should or any(_matches(clause, source) for clause in should))
        )
    raise ValueError(f"the stub does not run {kind} queries")


def _clauses(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _reason(error_type: str, reason: str) -> dict[str, str]:
    return {"type": error_type, "reason": reason}


def _error(status: int, error_type: str, reason: str) -> Reply:
    return Reply(
        status=status,
        body={"error": {"root_cause": [_reason(error_type, reason)], **_reason(error_type, reason)}, "status": status},
    )
