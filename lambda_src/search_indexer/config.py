"""The SearchIndexer function's configuration: its environment variables, read and checked once per cold start."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lambda_src.contract import (
    DEFAULT_DEADLINE_MARGIN_MS,
    DEFAULT_SEARCH_MAX_BULK_ACTIONS,
    DEFAULT_SEARCH_MAX_BULK_BYTES,
    RuntimeEnv,
    SearchEnv,
    SearchService,
)
from lambda_src.stream_runtime.config import EnvironmentReader

__all__ = ["SearchIndexerConfig"]


@dataclass(frozen=True)
class SearchIndexerConfig:
    """What the SearchIndexer construct tells its function; build it with ``from_env``."""

    endpoint: str
    index: str
    attributes: tuple[str, ...]
    service: SearchService
    max_bulk_bytes: int
    max_bulk_actions: int
    deadline_margin: timedelta
    mappings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SearchIndexerConfig:
        """Read the variables (Default: ``os.environ``); raise one ConfigError naming every variable that is wrong.

        SEARCH_ENDPOINT (a host or an http(s) URL) and SEARCH_INDEX are required. SEARCH_ATTRIBUTES Default: - every
        attribute. SEARCH_MAPPINGS: a JSON object of field mappings (Default: {}). SEARCH_SERVICE es or aoss
        (Default: es). SEARCH_MAX_BULK_BYTES Default: 5 MiB. SEARCH_MAX_BULK_ACTIONS Default: 1000.
        """
        reader = EnvironmentReader(os.environ if environ is None else environ, "SearchIndexer")
        endpoint = reader.http_url(SearchEnv.ENDPOINT, scheme_implied="https")
        index = reader.text(SearchEnv.INDEX)
        attributes = reader.names(SearchEnv.ATTRIBUTES)
        mappings = reader.parsed(SearchEnv.MAPPINGS, _json_object, "a JSON object of field mappings", {})
        service = reader.choice(SearchEnv.SERVICE, SearchService, SearchService.DOMAIN)
        max_bulk_bytes = reader.whole_number(SearchEnv.MAX_BULK_BYTES, DEFAULT_SEARCH_MAX_BULK_BYTES, minimum=1024)
        max_bulk_actions = reader.whole_number(SearchEnv.MAX_BULK_ACTIONS, DEFAULT_SEARCH_MAX_BULK_ACTIONS, minimum=1)
        deadline_margin = reader.milliseconds(RuntimeEnv.DEADLINE_MARGIN_MS, DEFAULT_DEADLINE_MARGIN_MS)
        reader.finish()
        return cls(
            endpoint=endpoint,
            index=index,
            attributes=attributes,
            service=service,
            max_bulk_bytes=max_bulk_bytes,
            max_bulk_actions=max_bulk_actions,
            deadline_margin=deadline_margin,
            mappings=mappings,
        )


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(text)
    return value
