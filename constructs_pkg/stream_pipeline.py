"""StreamPipeline: the base of every construct whose stream handler this library bundles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Unpack, cast

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .limits import MAX_CONCURRENCY_RANGE, PIPELINE_MEMORY_MB, PIPELINE_TIMEOUT_SECONDS, documented
from .provider_binding import Binding
from .stream_filter import StreamFilter
from .stream_trigger import StreamTrigger, StreamTriggerOptions, check_options
from .stream_triggered_table import StreamTriggeredTable
from .table_facts import stream_view_type_of

__all__ = ["StreamPipeline", "resolve_table"]

# Set by the pipeline itself: its function runs the bundled handler, and item_filter narrows the records.
_OWNED_OPTIONS = ("function", "code", "handler", "filters")
_ALL_VIEW_TYPES = (
    dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    dynamodb.StreamViewType.NEW_IMAGE,
    dynamodb.StreamViewType.OLD_IMAGE,
    dynamodb.StreamViewType.KEYS_ONLY,
)
_PIPELINE_TIMEOUT = Duration.seconds(PIPELINE_TIMEOUT_SECONDS)


def resolve_table(table: dynamodb.ITable | StreamTriggeredTable) -> dynamodb.ITable:
    """The ITable of ``table``, which may be a StreamTriggeredTable."""
    return table.table if isinstance(table, StreamTriggeredTable) else table


@documented
class StreamPipeline(Construct):
    """The base of every construct whose handler this library bundles: one ``StreamTrigger`` running the handler
    ``HANDLER`` from the stream runtime layer, with the environment, layers and grants the subclass's providers need.

    Options common to every pipeline:

    - ``table``: an ``ITable`` with a stream of one of the view types the handler needs, or a
      ``StreamTriggeredTable``.
    - ``item_filter``: which items the pipeline handles, e.g. ``StreamFilter.key_prefix("SK", "CONTENT#")``; other
      records never invoke the function. Default: - every item.
    - Every ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``, checked once,
      with two defaults of their own for the function, whose provider calls wait on the network:
    - ``memory_size``: Default: $PIPELINE_MEMORY_MB.
    - ``timeout``: Default: $PIPELINE_TIMEOUT_SECONDS seconds.

    Attributes: ``table``, ``trigger``, ``function``, ``dead_letter_queue``, ``alarms``, ``secrets`` (the API key
    secrets its providers read, created or given).

    A new pipeline is one subclass, one handler package under ``lambda_src`` and its variables in
    ``lambda_src.contract``. The subclass sets ``HANDLER``, and ``STREAM_VIEW_TYPES`` with ``STREAM_VIEW_REASON``
    when its handler needs particular images; its ``__init__`` calls ``super().__init__`` with the common options,
    checks its own, binds its providers under ``self`` and calls ``attach_handler``.
    """

    #: The handler as ``module.function``, found in the stream runtime layer (or a layer a binding adds).
    HANDLER: ClassVar[str]
    #: The stream view types the handler works with; a table streaming another is refused at synth.
    STREAM_VIEW_TYPES: ClassVar[tuple[dynamodb.StreamViewType, ...]] = _ALL_VIEW_TYPES
    #: Why the handler needs ``STREAM_VIEW_TYPES``, for the error message.
    STREAM_VIEW_REASON: ClassVar[str] = ""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        table: dynamodb.ITable | StreamTriggeredTable,
        item_filter: StreamFilter | None = None,
        **options: Unpack[StreamTriggerOptions],
    ) -> None:
        super().__init__(scope, id)
        owner = type(self).__name__
        check_options(options, StreamTriggerOptions.__optional_keys__, owner)
        self._path = self.node.path
        owned = [name for name in _OWNED_OPTIONS if name in options]
        if owned:
            self.refuse([f"{', '.join(owned)} are set by the pipeline itself; narrow the records with item_filter"])
        self.table = resolve_table(table)
        view_type = stream_view_type_of(self.table)
        needed = [needed.value for needed in self.STREAM_VIEW_TYPES]
        if view_type is not None and view_type not in needed:
            self.refuse(
                [f"table {self.table.node.path} streams {view_type}; {self.STREAM_VIEW_REASON}, so it needs "
                 f"{' or '.join(needed)}"]
            )  # fmt: skip
        self.item_filter = item_filter
        self.secrets: tuple[secretsmanager.ISecret, ...] = ()
        self._options = options
        self._trigger: StreamTrigger | None = None

    def refuse(self, problems: Sequence[str]) -> None:
        """Raise one ValueError naming the pipeline and every problem with its arguments, if there is any."""
        if problems:
            raise ValueError(f"{type(self).__name__} {self._path}: " + "; ".join(problems))

    def max_concurrency_problems(self, max_concurrency: int) -> list[str]:
        """What is wrong with a ``max_concurrency`` argument: provider requests in flight."""
        low, high = MAX_CONCURRENCY_RANGE
        if low <= max_concurrency <= high:
            return []
        return [f"max_concurrency must be between {low} and {high} inclusive, got {max_concurrency}"]

    def attach_handler(
        self,
        *,
        environment: Mapping[str, str],
        bindings: Sequence[Binding] = (),
        filters: Sequence[StreamFilter] = (),
        option_defaults: Mapping[str, Any] | None = None,
    ) -> StreamTrigger:
        """Create the trigger running ``HANDLER`` with ``environment`` (the contract's variables) and the
        ``bindings``' variables, layers and grants.

        - ``filters``: the records the handler needs, ORed, each ANDed with ``item_filter``.
          Default: - the ``item_filter`` alone.
        - ``option_defaults``: trigger options the user did not set that the pipeline could only make under itself,
          e.g. a destination it created. Default: - none.
        """
        options = {**(option_defaults or {}), **self._options}
        # The user's variables first, then what the pipeline needs to work, which they cannot override by accident.
        merged_environment = dict(options.get("environment") or {})
        for binding in bindings:
            merged_environment.update(binding.environment)
        merged_environment.update(environment)
        item_filter = self.item_filter
        if filters:
            mapping_filters = [item_filter & each for each in filters] if item_filter is not None else list(filters)
        else:
            mapping_filters = [item_filter] if item_filter is not None else []
        module = self.HANDLER.rpartition(".")[0]
        trigger_options: dict[str, Any] = {
            "memory_size": PIPELINE_MEMORY_MB,
            "timeout": _PIPELINE_TIMEOUT,
            **options,
            "environment": merged_environment,
            "layers": [*(layer for binding in bindings for layer in binding.layers), *(options.get("layers") or ())],
            "code": lambda_.Code.from_inline(f"# The handler is {module} in the runtime layer.\n"),
            "handler": self.HANDLER,
            "filters": mapping_filters,
        }
        self._trigger = StreamTrigger(self, "Trigger", table=self.table, **cast(StreamTriggerOptions, trigger_options))
        for binding in bindings:
            binding.grant(self._trigger.function)
        self.secrets = tuple(secret for binding in bindings for secret in binding.secrets)
        return self._trigger

    @property
    def trigger(self) -> StreamTrigger:
        if self._trigger is None:
            raise RuntimeError(f"{type(self).__name__} {self._path}: attach_handler() has not been called")
        return self._trigger

    @property
    def function(self) -> lambda_.IFunction:
        return self.trigger.function

    @property
    def dead_letter_queue(self) -> sqs.IQueue | None:
        return self.trigger.dead_letter_queue

    @property
    def alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        return self.trigger.alarms
