"""A product catalogue in DynamoDB, searchable in OpenSearch: a ``SearchIndexer`` keeps index ``products`` in step.

``Products`` (PK ``PRODUCT#<sku>``) streams to the indexer, which creates the index with the mappings below on first
use and writes every change fenced by its stream sequence; deleted products become tombstones that searches leave out.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from constructs_pkg import SearchIndexer

__all__ = ["MAPPINGS", "SearchIndexStack"]

MAPPINGS = {
    "name": {"type": "text"},
    "category": {"type": "keyword"},
    "price": {"type": "double"},
    "stock": {"type": "long"},
}


class SearchIndexStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="dynamodb-stream-constructs example: OpenSearch search index")
        table = dynamodb.TableV2(
            self,
            "Products",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.indexer = SearchIndexer(
            self,
            "Search",
            table=table,
            index="products",
            attributes=["name", "category", "price", "stock"],
            mappings=MAPPINGS,
        )
        assert self.indexer.domain is not None
        CfnOutput(self, "DomainEndpoint", value=self.indexer.domain.domain_endpoint)
