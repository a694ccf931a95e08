"""Seed 000's AI pipelines on one content table, as the seed writes them and as AWS alone would run them.

- ``SeedAiPipelinesStack``: Voyage AI embeddings into Pinecone, and one-sentence summaries from the Anthropic API
  (claude-haiku-4-5, 150 tokens). API keys live in Secrets Manager secrets the stack creates: fill them in after
  deploying. The Pinecone index host comes from the context key ``pineconeIndexHost``.
- ``AwsNativeAiPipelinesStack``: Amazon Titan Text Embeddings V2 into an S3 Vectors index the stack creates, and
  summaries from Claude on Amazon Bedrock through a US inference profile. No keys at all.

Both embed and summarize only ``CONTENT#`` items: other records never invoke the functions.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from constructs_pkg import EmbeddingModel, EmbeddingPipeline, StreamFilter, SummaryEnricher, SummaryModel, VectorStore

__all__ = ["AwsNativeAiPipelinesStack", "SeedAiPipelinesStack"]

CONTENT_ITEMS = StreamFilter.key_prefix("SK", "CONTENT#")
# A placeholder in Pinecone's host format; pass your index's host with `cdk deploy -c pineconeIndexHost=...`.
PLACEHOLDER_INDEX_HOST = "content-0000000.svc.aped-4627-b74a.pinecone.io"


def content_table(scope: Construct) -> dynamodb.TableV2:
    """The seed's single-table design: PK/SK, a NEW_AND_OLD_IMAGES stream."""
    return dynamodb.TableV2(
        scope,
        "MyApp",
        partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
        dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=RemovalPolicy.DESTROY,
    )


class SeedAiPipelinesStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="dynamodb-stream-constructs example: Voyage, Pinecone, Anthropic")
        table = content_table(self)
        self.embeddings = EmbeddingPipeline(
            self,
            "Embeddings",
            table=table,
            embedding=EmbeddingModel.voyage(model="voyage-3.5"),
            vector_store=VectorStore.pinecone(
                index_host=self.node.try_get_context("pineconeIndexHost") or PLACEHOLDER_INDEX_HOST,
                namespace="content",
            ),
            metadata_attributes=["title", "createdAt"],
            item_filter=CONTENT_ITEMS,
        )
        self.summaries = SummaryEnricher(
            self, "Summaries", table=table, model=SummaryModel.anthropic(), item_filter=CONTENT_ITEMS
        )


class AwsNativeAiPipelinesStack(Stack):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, description="dynamodb-stream-constructs example: Titan, S3 Vectors, Bedrock")
        table = content_table(self)
        self.embeddings = EmbeddingPipeline(
            self,
            "Embeddings",
            table=table,
            embedding=EmbeddingModel.titan(dimensions=1024),
            vector_store=VectorStore.s3_vectors(),
            metadata_attributes=["title", "createdAt"],
            item_filter=CONTENT_ITEMS,
        )
        self.summaries = SummaryEnricher(
            self,
            "Summaries",
            table=table,
            model=SummaryModel.bedrock(model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0"),
            item_filter=CONTENT_ITEMS,
        )
