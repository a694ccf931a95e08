"""Seed 000's notifications: a welcome message when a user signs up, a notice when an order ships.

The table is the application's own (a TableV2 defined elsewhere in the app); two StreamTriggers read its stream,
each with filters, so neither function runs for changes it does not care about.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_pkg import StreamFilter, StreamTrigger

__all__ = ["NotificationsStack"]


class NotificationsStack(Stack):
    """App table (TableV2) -> Welcome (new USER# items) and ShippingNotice (ORDER# status changed to SHIPPED)."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="dynamodb-stream-constructs example: notifications on changes")
        table = dynamodb.TableV2(
            self,
            "AppTable",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        notices = sns.Topic(self, "Notices", enforce_ssl=True)
        code = lambda_.Code.from_asset(str(Path(__file__).parent / "handler"))
        environment = {"NOTICE_TOPIC_ARN": notices.topic_arn}
        self.welcome = StreamTrigger(
            self,
            "Welcome",
            table=table,
            code=code,
            handler="app.welcome",
            environment=environment,
            filters=[StreamFilter.inserts() & StreamFilter.key_prefix("PK", "USER#")],
        )
        self.shipping_notice = StreamTrigger(
            self,
            "ShippingNotice",
            table=table,
            code=code,
            handler="app.shipping_notice",
            environment=environment,
            filters=[StreamFilter.key_prefix("SK", "ORDER#") & StreamFilter.changed_to("status", "SHIPPED")],
            least_privilege=True,
        )
        for trigger in (self.welcome, self.shipping_notice):
            notices.grant_publish(trigger.function)
