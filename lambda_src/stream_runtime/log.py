"""JSON log lines on stdout, tagged with the invocation's request id and the current record's ids."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from lambda_src.contract import DEFAULT_LOG_LEVEL, RuntimeEnv

from .config import EnvironmentReader

__all__ = ["get_logger", "invocation_context", "record_context"]

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Whatever else a LogRecord carries came from the caller's `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, None, None, None))) | {"message", "asctime"}

_request_id: ContextVar[str | None] = ContextVar("stream_runtime_request_id", default=None)
_record_ids: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("stream_runtime_record_ids", default=())


@contextmanager
def invocation_context(request_id: str | None) -> Iterator[None]:
    """Tag the log lines written inside with the Lambda invocation's ``requestId``."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


@contextmanager
def record_context(raw_record: Mapping[str, Any]) -> Iterator[None]:
    """Tag the log lines written inside with the record's eventID, eventName and sequenceNumber.

    Takes the wire record rather than a StreamRecord so that a record which fails to parse is still named.
    Only ids are read: images may hold personal data.
    """
    stream = raw_record.get("dynamodb")
    ids = {
        "eventID": raw_record.get("eventID"),
        "eventName": raw_record.get("eventName"),
        "sequenceNumber": stream.get("SequenceNumber") if isinstance(stream, Mapping) else None,
    }
    token = _record_ids.set(tuple((name, value) for name, value in ids.items() if isinstance(value, str)))
    try:
        yield
    finally:
        _record_ids.reset(token)


def get_logger(name: str) -> logging.Logger:
    """A logger that writes one JSON object per line to stdout, at the level named by LOG_LEVEL (Default: INFO).

    Each line carries timestamp, level, logger and message, the requestId and record ids of the current context,
    the caller's ``extra=`` fields, and ``exception`` when there is one. A name is configured on first use only.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(handler, _JsonStdoutHandler) for handler in logger.handlers):
        handler = _JsonStdoutHandler(sys.stdout)
        handler.setFormatter(_JsonFormatter())
        logger.addHandler(handler)
        # Lambda's Python runtime puts its own handler on the root logger: propagating would print each line twice.
        logger.propagate = False
        logger.setLevel(_level_from_env())
    return logger


def _level_from_env() -> str:
    reader = EnvironmentReader(os.environ, "stream runtime")
    level: str = reader.parsed(RuntimeEnv.LOG_LEVEL, _level, f"one of {', '.join(_LEVELS)}", DEFAULT_LOG_LEVEL)
    reader.finish()
    return level


def _level(text: str) -> str:
    if text.strip().upper() not in _LEVELS:
        raise ValueError(text)
    return text.strip().upper()


class _JsonStdoutHandler(logging.StreamHandler[TextIO]):
    def emit(self, record: logging.LogRecord) -> None:
        # Looked up per line: test runners and runtime wrappers replace sys.stdout after this handler exists.
        self.stream = sys.stdout
        super().emit(record)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES)
        # Applied after the caller's fields so that no `extra=` can mislabel which invocation or record a line is about.
        if (request_id := _request_id.get()) is not None:
            entry["requestId"] = request_id
        entry.update(_record_ids.get())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
