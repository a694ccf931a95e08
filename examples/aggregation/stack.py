"""Sales (PK ``SALE#<id>``, with ``store``, ``soldAt`` and ``amount``) -> a StreamAggregator keeping the number of
sales and their total per store and day in its own table."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from constructs_pkg import GroupBy, Measure, StreamAggregator

__all__ = ["AggregationStack"]


class AggregationStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="dynamodb-stream-constructs example: sales per store per day")
        sales = dynamodb.TableV2(
            self,
            "Sales",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.aggregator = StreamAggregator(
            self,
            "SalesPerStoreAndDay",
            table=sales,
            group_by=[GroupBy.attribute("store"), GroupBy.time_bucket("soldAt", "day")],
            measures=[Measure.count(name="sales"), Measure.sum("amount", name="total")],
            dashboard=True,
        )
        CfnOutput(self, "AggregatesTable", value=self.aggregator.target.table_name)
