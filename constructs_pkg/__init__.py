"""AWS CDK constructs for event-driven pipelines on DynamoDB Streams.

- ``StreamTrigger``: attaches a function to a table's stream with safe defaults (bounded retries and record age,
  bisection, partial batch responses, an encrypted on-failure queue, alarms).
- ``StreamTriggeredTable``: a table with a stream plus its first ``StreamTrigger``.
- ``StreamFilter``: a typed, checked builder of event source mapping filter patterns.
"""

from .stream_filter import ItemImage, StreamFilter
from .stream_runtime_layer import StreamRuntimeLayer
from .stream_trigger import DEFAULT_RUNTIME, OnFailure, StreamTrigger, StreamTriggerOptions
from .stream_triggered_table import StreamTriggeredTable, StreamTriggeredTableOptions

__all__ = [
    "DEFAULT_RUNTIME",
    "ItemImage",
    "OnFailure",
    "StreamFilter",
    "StreamRuntimeLayer",
    "StreamTrigger",
    "StreamTriggerOptions",
    "StreamTriggeredTable",
    "StreamTriggeredTableOptions",
]
