"""How long a handler may still spend on a batch: the function's time left, less the runtime's margin."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lambda_src.contract import DEFAULT_DEADLINE_MARGIN_MS, RuntimeEnv

from .config import EnvironmentReader

__all__ = ["DEFAULT_DEADLINE_MARGIN", "Deadline", "deadline_margin_from_env"]

DEFAULT_DEADLINE_MARGIN = timedelta(milliseconds=DEFAULT_DEADLINE_MARGIN_MS)


@dataclass(frozen=True)
class Deadline:
    """The end of the time a handler may use: ``margin`` before Lambda's deadline, read from its ``context``.

    A timeout fails the whole batch, the records already handled included, so work stops before it:
    https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html. Without a context (a test, or a
    redrive in-process) there is no deadline.
    """

    context: Any
    margin: timedelta = DEFAULT_DEADLINE_MARGIN

    @classmethod
    def of(cls, context: Any, margin: timedelta | None = None) -> Deadline:
        """The deadline of the invocation ``context``. ``margin``: Default: STREAM_RUNTIME_DEADLINE_MARGIN_MS, else
        5 seconds."""
        return cls(context, deadline_margin_from_env() if margin is None else margin)

    def remaining_seconds(self) -> float:
        """Seconds left before the deadline (negative once past it); infinite without a context."""
        if self.context is None:
            return math.inf
        return self.context.get_remaining_time_in_millis() / 1000 - self.margin.total_seconds()

    @property
    def passed(self) -> bool:
        return self.remaining_seconds() < 0


def deadline_margin_from_env(environ: Mapping[str, str] | None = None) -> timedelta:
    """STREAM_RUNTIME_DEADLINE_MARGIN_MS (Default: 5000) from ``environ`` (Default: ``os.environ``)."""
    reader = EnvironmentReader(os.environ if environ is None else environ, "stream runtime")
    margin = reader.milliseconds(RuntimeEnv.DEADLINE_MARGIN_MS, DEFAULT_DEADLINE_MARGIN_MS)
    reader.finish()
    return margin
