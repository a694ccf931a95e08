"""Typed DynamoDB stream records, partial batch responses and JSON logs for Lambda handlers.

Usage::

    from lambda_src.stream_runtime import StreamRecord, get_logger, process_stream_batch
    logger = get_logger(__name__)
    def handle(record: StreamRecord) -> None: ...
    def handler(event, context):
        return process_stream_batch(event, context, handle)

Standard library only, so it adds nothing to a function's bundle or cold start.
"""

from __future__ import annotations

from .batch import partial_batch_response, process_stream_batch
from .errors import MalformedRecordError, PermanentError, RetryableError, StreamRuntimeError
from .log import get_logger
from .metrics import put_metric
from .record import EventName, StreamRecord, deserialize_attribute, deserialize_image

__all__ = [
    "EventName",
    "MalformedRecordError",
    "PermanentError",
    "RetryableError",
    "StreamRecord",
    "StreamRuntimeError",
    "deserialize_attribute",
    "deserialize_image",
    "get_logger",
    "partial_batch_response",
    "process_stream_batch",
    "put_metric",
]
