"""Typed DynamoDB stream records, partial batch responses, quarantine of final failures and JSON logs for handlers.

Record by record::

    from lambda_src.stream_runtime import StreamRecord, get_logger, process_stream_batch
    logger = get_logger(__name__)
    def handle(record: StreamRecord) -> None: ...
    def handler(event, context):
        return process_stream_batch(event, context, handle)

A whole batch at a time, one net change per item::

    from lambda_src.stream_runtime import ChangeFailure, Deadline, ItemChange, process_item_changes
    def apply(changes: list[ItemChange], deadline: Deadline) -> list[ChangeFailure]: ...
    def handler(event, context):
        return process_item_changes(event, context, apply)

Standard library only, so it adds nothing to a function's bundle or cold start.
"""

from __future__ import annotations

from .batch import partial_batch_response, process_stream_batch
from .changes import BatchHandler, ChangeFailure, ItemChange, fold_changes, process_item_changes
from .config import ConfigError, EnvironmentReader
from .deadline import Deadline
from .errors import MalformedRecordError, PermanentError, RetryableError, StreamRuntimeError, is_final
from .log import get_logger
from .metrics import put_metric
from .quarantine import Quarantine
from .record import EventName, StreamRecord, deserialize_attribute, deserialize_image

__all__ = [
    "BatchHandler",
    "ChangeFailure",
    "ConfigError",
    "Deadline",
    "EnvironmentReader",
    "EventName",
    "ItemChange",
    "MalformedRecordError",
    "PermanentError",
    "Quarantine",
    "RetryableError",
    "StreamRecord",
    "StreamRuntimeError",
    "deserialize_attribute",
    "deserialize_image",
    "fold_changes",
    "get_logger",
    "is_final",
    "partial_batch_response",
    "process_item_changes",
    "process_stream_batch",
    "put_metric",
]
