"""Seed 000's real-time feed: AI answers written token-chunk by token-chunk into DynamoDB, pushed to browsers.

A ``Conversations`` table (PK ``CHAT#<id>``, SK ``MSG#<n>``) streams to a ``RealtimeFeed`` on channel ``/chats/{PK}``:
each chunk of an answer that ``answer_writer.stream_answer`` writes while the model streams reaches every subscriber of
the conversation. ``page/index.html`` is a browser client with no build step: open it with the API's realtime and HTTP
domains and the API key (stack outputs) in its query string; the key lasts AppSync's 7 days (``api_key_expires`` for
up to a year, left out here so that the template stays the same from one synth to the next). The ``userId`` attribute
is private: never published.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from constructs_pkg import RealtimeFeed

__all__ = ["CHANNEL", "RealtimeFeedStack"]

CHANNEL = "/chats/{PK}"


class RealtimeFeedStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="dynamodb-stream-constructs example: AppSync Events real-time feed")
        table = dynamodb.TableV2(
            self,
            "Conversations",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.feed = RealtimeFeed(self, "Feed", table=table, channel=CHANNEL, private_attributes=["userId"])
        CfnOutput(self, "HttpDomain", value=self.feed.api.http_dns)
        CfnOutput(self, "RealtimeDomain", value=self.feed.api.realtime_dns)
        CfnOutput(self, "SubscriptionChannel", value=self.feed.subscription_channel)
        if self.feed.api_key is not None:
            CfnOutput(self, "ApiKey", value=self.feed.api_key.attr_api_key)
