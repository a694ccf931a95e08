"""The TtlArchiver function's configuration: its environment variables, read and checked once per cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from lambda_src.contract import DEFAULT_ARCHIVER_PREFIX, DEFAULT_DEADLINE_MARGIN_MS, ArchiverEnv, RuntimeEnv
from lambda_src.stream_runtime.config import EnvironmentReader

__all__ = ["ArchiverConfig"]


@dataclass(frozen=True)
class ArchiverConfig:
    """What the TtlArchiver construct tells its function; build it with ``from_env``."""

    bucket: str
    prefix: str
    ttl_attribute: str
    deadline_margin: timedelta

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ArchiverConfig:
        """Read the variables (Default: ``os.environ``); raise one ConfigError naming every variable that is wrong.

        ARCHIVER_BUCKET and ARCHIVER_TTL_ATTRIBUTE are required. ARCHIVER_PREFIX Default: "archive/".
        """
        reader = EnvironmentReader(os.environ if environ is None else environ, "TtlArchiver")
        bucket = reader.text(ArchiverEnv.BUCKET)
        ttl_attribute = reader.text(ArchiverEnv.TTL_ATTRIBUTE)
        prefix = reader.text(ArchiverEnv.PREFIX, DEFAULT_ARCHIVER_PREFIX)
        deadline_margin = reader.milliseconds(RuntimeEnv.DEADLINE_MARGIN_MS, DEFAULT_DEADLINE_MARGIN_MS)
        reader.finish()
        return cls(bucket, prefix, ttl_attribute, deadline_margin)
