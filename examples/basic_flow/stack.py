"""Seed 004's basic flow: a change in the Orders table is filtered, transformed and written to a second table."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from constructs_pkg import StreamFilter, StreamTriggeredTable

__all__ = ["BasicFlowStack"]


class BasicFlowStack(Stack):
    """Orders (PK=CUSTOMER#id, SK=ORDER#id) -> stream -> handler -> OrderSummaries, one row per order."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="dynamodb-stream-constructs example: filter, transform, write")
        summaries = dynamodb.Table(
            self,
            "OrderSummaries",
            partition_key=dynamodb.Attribute(name="customerId", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="orderId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.orders = StreamTriggeredTable(
            self,
            "Orders",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            removal_policy=RemovalPolicy.DESTROY,
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "handler")),
            handler="app.handler",
            environment={"SUMMARY_TABLE_NAME": summaries.table_name},
            # Only order items reach the function; customer profiles and the like never invoke it.
            filters=[StreamFilter.key_prefix("SK", "ORDER#")],
        )
        summaries.grant_write_data(self.orders.function)
