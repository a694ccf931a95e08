"""StreamTriggeredTable: a DynamoDB table with a stream and its first StreamTrigger."""

from __future__ import annotations

from typing import Any, Unpack, cast

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .limits import documented
from .stream_trigger import StreamTrigger, StreamTriggerOptions, check_options
from .table_facts import remember_stream_view_type

__all__ = ["StreamTriggeredTable", "StreamTriggeredTableOptions"]


@documented
class StreamTriggeredTableOptions(StreamTriggerOptions, total=False):
    """The table's options, named as ``aws_dynamodb.Table``'s, plus the first trigger's (``StreamTriggerOptions``).

    Either ``table``: an existing ``ITable`` with a stream (a ``TableV2``, or an imported table with its
    ``table_stream_arn``), or the options of a new table:

    - ``partition_key``: required for a new table.
    - ``sort_key``: Default: - none.
    - ``table_name``: Default: - generated.
    - ``stream``: any ``StreamViewType``. Default: NEW_AND_OLD_IMAGES.
    - ``billing_mode``: ``read_capacity`` / ``write_capacity`` for PROVISIONED. Default: PAY_PER_REQUEST.
    - ``point_in_time_recovery``: Default: True.
    - ``encryption``: AWS_MANAGED is a KMS key in your account, visible in CloudTrail; ``encryption_key`` for
      CUSTOMER_MANAGED. Default: AWS_MANAGED.
    - ``time_to_live_attribute``: Default: - no TTL.
    - ``removal_policy``: CDK's default for tables: ``cdk destroy`` leaves the table and its data behind. Pass
      ``RemovalPolicy.DESTROY`` for throwaway stacks only. Default: RETAIN.
    - ``deletion_protection``: Default: False.
    - ``table_class``: Default: STANDARD.
    """

    table: dynamodb.ITable
    partition_key: dynamodb.Attribute
    sort_key: dynamodb.Attribute
    table_name: str
    stream: dynamodb.StreamViewType
    billing_mode: dynamodb.BillingMode
    read_capacity: int
    write_capacity: int
    point_in_time_recovery: bool
    encryption: dynamodb.TableEncryption
    encryption_key: kms.IKey
    time_to_live_attribute: str
    removal_policy: RemovalPolicy
    deletion_protection: bool
    table_class: dynamodb.TableClass


_TABLE_OPTIONS = StreamTriggeredTableOptions.__optional_keys__ - StreamTriggerOptions.__optional_keys__ - {"table"}


class StreamTriggeredTable(Construct):
    """A table with a stream plus its first ``StreamTrigger``; ``add_trigger`` attaches the stream's second reader.

    See ``StreamTriggeredTableOptions`` for the table's options and ``StreamTriggerOptions`` for the trigger's.
    Attributes: ``table``, ``function``, ``trigger``, ``dead_letter_queue`` (None when another destination, or
    none, was chosen).
    """

    def __init__(self, scope: Construct, id: str, **options: Unpack[StreamTriggeredTableOptions]) -> None:
        super().__init__(scope, id)
        check_options(options, StreamTriggeredTableOptions.__optional_keys__, "StreamTriggeredTable")
        existing = options.get("table")
        table_options = {name: value for name, value in options.items() if name in _TABLE_OPTIONS}
        trigger_options = cast(
            StreamTriggerOptions,
            {name: value for name, value in options.items() if name in StreamTriggerOptions.__optional_keys__},
        )
        if existing is not None and table_options:
            raise ValueError(
                f"StreamTriggeredTable {self.node.path}: give either table= (an existing table) or the options of "
                f"a new table, not both; got table= and {', '.join(sorted(table_options))}"
            )
        self.table: dynamodb.ITable = existing if existing is not None else self._create_table(table_options)
        self.trigger = StreamTrigger(self, "Trigger", table=self.table, **trigger_options)

    @property
    def function(self) -> lambda_.IFunction:
        """The first trigger's function."""
        return self.trigger.function

    @property
    def dead_letter_queue(self) -> sqs.IQueue | None:
        """The first trigger's on-failure queue, None when another destination, or none, was chosen."""
        return self.trigger.dead_letter_queue

    def add_trigger(self, id: str, **options: Unpack[StreamTriggerOptions]) -> StreamTrigger:
        """Attach another function to this table's stream (at most two readers in all, one for a global table)."""
        return StreamTrigger(self, id, table=self.table, **options)

    def _create_table(self, options: dict[str, Any]) -> dynamodb.Table:
        if options.get("partition_key") is None:
            raise ValueError(
                f"StreamTriggeredTable {self.node.path}: give partition_key= for a new table, or table= for an "
                "existing one"
            )
        point_in_time_recovery = options.pop("point_in_time_recovery", True)
        view_type = options.pop("stream", dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
        table = dynamodb.Table(
            self,
            "Table",
            **{
                "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
                "encryption": dynamodb.TableEncryption.AWS_MANAGED,
                **options,
            },
            stream=view_type,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery
            ),
        )
        remember_stream_view_type(table, view_type)
        return table
