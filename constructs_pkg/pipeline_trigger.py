"""What EmbeddingPipeline and SummaryEnricher share: a StreamTrigger running a handler bundled in lambda_src."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .provider_binding import Binding
from .stream_filter import StreamFilter
from .stream_trigger import StreamTrigger, StreamTriggerOptions, stream_view_type_of
from .stream_triggered_table import StreamTriggeredTable

__all__ = ["PIPELINE_MEMORY_MB", "PIPELINE_TIMEOUT_SECONDS", "create_pipeline_trigger", "resolve_table"]

MAX_CONCURRENCY_RANGE = (1, 64)
# Provider calls wait on the network; more memory buys more CPU for the JSON and TLS work around them.
PIPELINE_MEMORY_MB = 512
# Room for a batch's provider calls with retries; the runtime stops before the deadline either way.
PIPELINE_TIMEOUT_SECONDS = 120
_OWNED_OPTIONS = ("function", "code", "handler", "filters")
_PIPELINE_TIMEOUT = Duration.seconds(PIPELINE_TIMEOUT_SECONDS)


def resolve_table(table: dynamodb.ITable | StreamTriggeredTable) -> dynamodb.ITable:
    """The ITable of ``table``, which may be a StreamTriggeredTable."""
    return table.table if isinstance(table, StreamTriggeredTable) else table


def create_pipeline_trigger(
    scope: Construct,
    *,
    owner: str,
    table: dynamodb.ITable,
    handler_module: str,
    environment: Mapping[str, str],
    bindings: Sequence[Binding],
    filters: Sequence[StreamFilter],
    max_concurrency: int,
    options: StreamTriggerOptions,
) -> StreamTrigger:
    """A trigger whose function runs ``lambda_src.<handler_module>.app.handler`` from the stream runtime layer.

    The function's own code is a one-line placeholder: its handler lives in the layer every library function gets,
    so one asset serves them all and the handler cannot drift from the runtime it imports.
    """
    owned = [name for name in _OWNED_OPTIONS if name in options]
    if owned:
        raise ValueError(f"{owner} {scope.node.path}: {', '.join(owned)} are set by the pipeline itself; narrow the "
                         "records with item_filter")  # fmt: skip
    low, high = MAX_CONCURRENCY_RANGE
    if not low <= max_concurrency <= high:
        raise ValueError(f"{owner} {scope.node.path}: max_concurrency must be between {low} and {high} inclusive, "
                         f"got {max_concurrency}")  # fmt: skip
    view_type = stream_view_type_of(table)
    if view_type not in (None, "NEW_AND_OLD_IMAGES"):
        raise ValueError(f"{owner} {scope.node.path}: table {table.node.path} streams {view_type}; the pipeline reads "
                         "both images to tell what changed, so it needs NEW_AND_OLD_IMAGES")  # fmt: skip
    # The user's variables first, then what the pipeline needs to work, which they cannot override by accident.
    merged_environment = dict(options.get("environment") or {})
    for binding in bindings:
        merged_environment.update(binding.environment)
    merged_environment.update(environment)
    merged_environment["MAX_CONCURRENCY"] = str(max_concurrency)
    trigger_options: dict[str, Any] = {
        "memory_size": PIPELINE_MEMORY_MB,
        "timeout": _PIPELINE_TIMEOUT,
        **options,
        "environment": merged_environment,
        "layers": [*(layer for binding in bindings for layer in binding.layers), *(options.get("layers") or ())],
        "code": lambda_.Code.from_inline(f"# The handler is lambda_src.{handler_module}.app in the runtime layer.\n"),
        "handler": f"lambda_src.{handler_module}.app.handler",
        "filters": list(filters),
    }
    trigger = StreamTrigger(scope, "Trigger", table=table, **cast(StreamTriggerOptions, trigger_options))
    for binding in bindings:
        binding.grant(trigger.function)
    return trigger
