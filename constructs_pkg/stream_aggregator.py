"""StreamAggregator: counts and sums of a table's items per group, kept exact under retries by per-shard marks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Unpack

from aws_cdk import Duration, RemovalPolicy, Token
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambda_src.contract import (
    DEFAULT_AGGREGATOR_BATCH_SIZE,
    DEFAULT_AGGREGATOR_MARK_RETENTION_SECONDS,
    DEFAULT_AGGREGATOR_MAX_CONCURRENCY,
    AggregatorEnv,
)
from lambda_src.stream_aggregator.spec import AGGREGATE_KEY, AggregateFilter, AggregationSpec, GroupBy, Measure

from .limits import MAX_TUMBLING_WINDOW_SECONDS, documented
from .stream_pipeline import StreamPipeline
from .stream_trigger import StreamTriggerOptions
from .stream_triggered_table import StreamTriggeredTable

__all__ = ["AggregateFilter", "GroupBy", "Measure", "StreamAggregator"]


@documented
class StreamAggregator(StreamPipeline):
    """Keeps counts and exact sums (``Decimal``) of ``table``'s items per group in a target table: an INSERT adds the
    item to its group, a MODIFY subtracts its old image from its old group and adds its new image to its new group, a
    REMOVE subtracts. One conditional UpdateItem per group a batch touches, guarded by a per-shard high-water mark on
    the group's item, so duplicates, retries, bisection and redrives of old batches add every record once.

    - ``table``: an ``ITable`` with a NEW_AND_OLD_IMAGES stream, or a ``StreamTriggeredTable``.
    - ``group_by``: the group, e.g. ``[GroupBy.attribute("store"), GroupBy.time_bucket("soldAt", "day")]``.
    - ``measures``: e.g. ``[Measure.count(), Measure.sum("amount")]``.
    - ``item_filter``: an ``AggregateFilter`` of the items that count, read from both images (a mapping filter would
      drop the MODIFY that takes an item out, and with it the subtraction). Default: - every item.
    - ``target``: the aggregates' table, an ``ITable`` whose partition key is the string ``aggregate``.
      Default: - a new table (on demand, point-in-time recovery, AWS-managed encryption, retained on deletion).
    - ``mark_retention``: how long a closed shard's mark stays on a group's item; longer than any redrive may come.
      Default: $DEFAULT_AGGREGATOR_MARK_RETENTION_SECONDS seconds (15 days).
    - ``max_concurrency``: group updates in flight. Default: $DEFAULT_AGGREGATOR_MAX_CONCURRENCY.
    - ``batch_size``: Default: $DEFAULT_AGGREGATOR_BATCH_SIZE (the writes are per group, so larger batches write less).
    - ``tumbling_window``: the mapping's window: it makes each event name its shard. Default:
      $MAX_TUMBLING_WINDOW_SECONDS seconds.
    - ``flush_per_window``: True sums each window's records per group in the mapping's state and writes each group
      once per window and shard, at the window's end; False writes the groups of every batch. Default: False.
    - Every other ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``, as
      ``StreamPipeline`` takes them; ``parallelization_factor`` must stay 1 (tumbling windows and per-shard marks
      both need one lane per shard).

    Attributes: those of ``StreamPipeline``, ``target`` (created or given) and ``spec``.
    """

    HANDLER: ClassVar[str] = "lambda_src.stream_aggregator.app.handler"
    STREAM_VIEW_TYPES = (dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,)
    STREAM_VIEW_REASON = "a MODIFY applies the new image minus the old one"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        table: dynamodb.ITable | StreamTriggeredTable,
        group_by: Sequence[GroupBy],
        measures: Sequence[Measure],
        item_filter: AggregateFilter | None = None,
        target: dynamodb.ITable | None = None,
        mark_retention: Duration | None = None,
        max_concurrency: int | None = None,
        flush_per_window: bool | None = None,
        **options: Unpack[StreamTriggerOptions],
    ) -> None:
        options.setdefault("batch_size", DEFAULT_AGGREGATOR_BATCH_SIZE)
        options.setdefault("tumbling_window", Duration.seconds(MAX_TUMBLING_WINDOW_SECONDS))
        super().__init__(scope, id, table=table, **options)
        self.spec = AggregationSpec(tuple(group_by), tuple(measures), item_filter or AggregateFilter())
        max_concurrency = DEFAULT_AGGREGATOR_MAX_CONCURRENCY if max_concurrency is None else max_concurrency
        retention = DEFAULT_AGGREGATOR_MARK_RETENTION_SECONDS if mark_retention is None else mark_retention.to_seconds()
        problems = self.spec.problems() + self.max_concurrency_problems(max_concurrency)
        factor = options.get("parallelization_factor", 1)
        if not Token.is_unresolved(factor) and factor != 1:
            problems.append(
                f"parallelization_factor must be 1, got {factor}: the marks that keep the aggregates exact need a "
                "shard's records in one lane, and tumbling windows allow no other"
            )
        window = options["tumbling_window"].to_seconds()
        if not Token.is_unresolved(window) and window < 1:
            problems.append("tumbling_window must be at least 1 second: the window is what names each event's shard")
        if not Token.is_unresolved(retention) and retention < 24 * 3600:
            problems.append(f"mark_retention must be at least 24 hours (the stream's retention), got {retention} s")
        self.refuse(problems)
        self.target = target or self._new_target()
        self.attach_handler(
            environment={
                AggregatorEnv.TARGET_TABLE: self.target.table_name,
                AggregatorEnv.SPEC: self.spec.to_json(),
                AggregatorEnv.MARK_RETENTION_SECONDS: str(int(retention)),
                AggregatorEnv.MAX_CONCURRENCY: str(max_concurrency),
                AggregatorEnv.FLUSH_PER_WINDOW: "true" if flush_per_window else "false",
            }
        )
        self.target.grant_read_write_data(self.function)

    def _new_target(self) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            "Aggregates",
            partition_key=dynamodb.Attribute(name=AGGREGATE_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
