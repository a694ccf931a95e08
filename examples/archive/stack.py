"""Sessions (PK ``SESSION#<id>``, expiring at ``expiresAt``, epoch seconds) -> a TtlArchiver writing each expired
session to S3, partitioned by the day it expired."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from constructs_pkg import TtlArchiver

__all__ = ["ArchiveStack"]


class ArchiveStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="dynamodb-stream-constructs example: expired sessions archived to S3")
        sessions = dynamodb.TableV2(
            self,
            "Sessions",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            dynamo_stream=dynamodb.StreamViewType.OLD_IMAGE,
            time_to_live_attribute="expiresAt",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.archiver = TtlArchiver(self, "ExpiredSessions", table=sessions, dashboard=True)
        CfnOutput(self, "ArchiveBucket", value=self.archiver.bucket.bucket_name)
