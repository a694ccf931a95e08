"""The StreamAggregator function's configuration: its environment variables, read and checked once per cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from lambda_src.contract import (
    DEFAULT_AGGREGATOR_MARK_RETENTION_SECONDS,
    DEFAULT_AGGREGATOR_MAX_CONCURRENCY,
    DEFAULT_DEADLINE_MARGIN_MS,
    AggregatorEnv,
    RuntimeEnv,
)
from lambda_src.stream_runtime.config import EnvironmentReader

from .spec import AggregationSpec

__all__ = ["AggregatorConfig", "parse_spec"]


@dataclass(frozen=True)
class AggregatorConfig:
    """What the StreamAggregator construct tells its function; build it with ``from_env``."""

    target_table: str
    spec: AggregationSpec
    mark_retention_seconds: int
    max_concurrency: int
    deadline_margin: timedelta
    flush_per_window: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AggregatorConfig:
        """Read the variables (Default: ``os.environ``); raise one ConfigError naming every variable that is wrong.

        AGGREGATOR_TARGET_TABLE and AGGREGATOR_SPEC (the spec's JSON) are required.
        AGGREGATOR_MARK_RETENTION_SECONDS Default: 15 days. AGGREGATOR_MAX_CONCURRENCY Default: 8.
        AGGREGATOR_FLUSH_PER_WINDOW (true or false) Default: false.
        """
        reader = EnvironmentReader(os.environ if environ is None else environ, "StreamAggregator")
        target_table = reader.text(AggregatorEnv.TARGET_TABLE)
        spec = reader.parsed(AggregatorEnv.SPEC, parse_spec, "the JSON of an AggregationSpec")
        retention = reader.whole_number(
            AggregatorEnv.MARK_RETENTION_SECONDS, DEFAULT_AGGREGATOR_MARK_RETENTION_SECONDS, minimum=1
        )
        concurrency = reader.whole_number(AggregatorEnv.MAX_CONCURRENCY, DEFAULT_AGGREGATOR_MAX_CONCURRENCY, minimum=1)
        deadline_margin = reader.milliseconds(RuntimeEnv.DEADLINE_MARGIN_MS, DEFAULT_DEADLINE_MARGIN_MS)
        flush_per_window = reader.one_of(AggregatorEnv.FLUSH_PER_WINDOW, ("true", "false"), "false") == "true"
        reader.finish()
        return cls(target_table, spec, retention, concurrency, deadline_margin, flush_per_window)


def parse_spec(text: str) -> AggregationSpec:
    """The spec of ``text``; ValueError for anything else, as the reader expects."""
    try:
        return AggregationSpec.from_json(text)
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(text) from error
