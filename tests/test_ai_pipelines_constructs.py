"""EmbeddingPipeline, SummaryEnricher and their provider choices: what reaches the template, what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template
from conftest import function_properties, handler_code, new_app, new_stack

from constructs_pkg import (
    EmbeddingModel,
    EmbeddingPipeline,
    StreamFilter,
    StreamPipeline,
    StreamTriggeredTable,
    SummaryEnricher,
    SummaryModel,
    VectorStore,
)

PK = dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING)
SK = dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING)
HOST = "docs-abc123.svc.aped-4627-b74a.pinecone.io"


def content_table(
    stack: Stack, id: str = "Content", view_type: dynamodb.StreamViewType | None = None
) -> dynamodb.TableV2:
    return dynamodb.TableV2(
        stack,
        id,
        partition_key=PK,
        sort_key=SK,
        dynamo_stream=view_type or dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    )


def rendered(value: Any) -> Any:
    """An ARN built with Fn::Join over the partition, as the string it becomes in the aws partition."""
    if isinstance(value, list):
        return [rendered(item) for item in value]
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join("aws" if part == {"Ref": "AWS::Partition"} else part for part in parts)
    return value


def policy_statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


# EmbeddingPipeline


def test_embedding_pipeline_with_voyage_and_pinecone() -> None:
    stack = new_stack()
    pipeline = EmbeddingPipeline(
        stack,
        "Embeddings",
        table=content_table(stack),
        embedding=EmbeddingModel.voyage(model="voyage-3.5-lite", dimensions=512),
        vector_store=VectorStore.pinecone(index_host=HOST, namespace="docs"),
        metadata_attributes=["title", "createdAt"],
        item_filter=StreamFilter.key_prefix("SK", "CONTENT#"),
        batch_size=200,
    )
    template = Template.from_stack(stack)
    properties = function_properties(template)
    assert properties["Handler"] == "lambda_src.embedding_pipeline.app.handler"
    assert properties["MemorySize"] == 512 and properties["Timeout"] == 120
    variables = properties["Environment"]["Variables"]
    assert {key: value for key, value in variables.items() if isinstance(value, str)} == {
        "EMBEDDING_PROVIDER": "voyage",
        "VOYAGE_MODEL": "voyage-3.5-lite",
        "VOYAGE_DIMENSIONS": "512",
        "VOYAGE_INPUT_TYPE": "document",
        "VECTOR_STORE": "pinecone",
        "PINECONE_INDEX_HOST": HOST,
        "PINECONE_NAMESPACE": "docs",
        "TEXT_ATTRIBUTE": "body",
        "METADATA_ATTRIBUTES": "title,createdAt",
        "VECTOR_ID_ATTRIBUTES": "PK,SK",
        "MAX_CONCURRENCY": "8",
        "STREAM_RUNTIME_QUARANTINE": "sqs",
    }
    assert variables["VOYAGE_API_KEY_SECRET_ARN"]["Ref"].startswith("EmbeddingsVoyageApiKey")
    assert variables["PINECONE_API_KEY_SECRET_ARN"]["Ref"].startswith("EmbeddingsPineconeApiKey")
    template.resource_count_is("AWS::SecretsManager::Secret", 2)
    # Each key's read is granted on its own secret only.
    secret_reads = [s for s in policy_statements(template) if "secretsmanager:GetSecretValue" in s["Action"]]
    assert sorted(s["Resource"]["Ref"] for s in secret_reads) == sorted(
        [variables["PINECONE_API_KEY_SECRET_ARN"]["Ref"], variables["VOYAGE_API_KEY_SECRET_ARN"]["Ref"]]
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 200,
            "FilterCriteria": {"Filters": [{"Pattern": '{"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"CONTENT#"}]}}}}'}]},
        },
    )
    assert pipeline.dead_letter_queue is not None
    assert pipeline.function is pipeline.trigger.function
    assert pipeline.alarms == pipeline.trigger.alarms
    assert isinstance(pipeline, StreamPipeline)
    assert [secret.node.path for secret in pipeline.secrets] == [
        "Test/Embeddings/VoyageApiKey",
        "Test/Embeddings/PineconeApiKey",
    ]


def test_one_model_serves_two_pipelines_unchanged() -> None:
    # GIVEN one model and one store object, bound by two pipelines on two tables
    stack = new_stack()
    model = EmbeddingModel.voyage()
    store = VectorStore.s3_vectors()
    before = (dict(vars(model)), dict(vars(store)))
    first = EmbeddingPipeline(stack, "First", table=content_table(stack, "One"), embedding=model, vector_store=store)
    second = EmbeddingPipeline(stack, "Second", table=content_table(stack, "Two"), embedding=model, vector_store=store)

    # THEN each pipeline has its own secret and vector index, and the objects it was given are as they were
    assert (dict(vars(model)), dict(vars(store))) == before
    assert [secret.node.path for secret in first.secrets] == ["Test/First/VoyageApiKey"]
    assert [secret.node.path for secret in second.secrets] == ["Test/Second/VoyageApiKey"]
    assert first.vector_index is not None and second.vector_index is not None
    assert first.vector_index.node.path != second.vector_index.node.path


def test_api_keys_come_from_the_users_secrets() -> None:
    stack = new_stack()
    voyage_key = secretsmanager.Secret.from_secret_name_v2(stack, "VoyageKey", "voyage")
    pinecone_key = secretsmanager.Secret.from_secret_name_v2(stack, "PineconeKey", "pinecone")
    EmbeddingPipeline(
        stack,
        "Embeddings",
        table=content_table(stack),
        embedding=EmbeddingModel.voyage(api_key_secret=voyage_key),
        vector_store=VectorStore.pinecone(index_host=HOST, api_key_secret=pinecone_key),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SecretsManager::Secret", 0)
    rendered = str(function_properties(template)["Environment"])
    assert "secret:voyage" in rendered and "secret:pinecone" in rendered


def test_titan_and_new_s3_vectors_index_sized_to_the_model() -> None:
    stack = Stack(new_app(), "Test", env=Environment(account="111122223333", region="us-east-1"))
    EmbeddingPipeline(
        stack,
        "Embeddings",
        table=content_table(stack),
        embedding=EmbeddingModel.titan(dimensions=512),
        vector_store=VectorStore.s3_vectors(distance_metric="euclidean"),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::S3Vectors::Index",
        {"Dimension": 512, "DistanceMetric": "euclidean", "DataType": "float32", "IndexName": "vectors"},
    )
    template.resource_count_is("AWS::S3Vectors::VectorBucket", 1)
    statements = policy_statements(template)
    (invoke,) = [s for s in statements if s["Action"] == "bedrock:InvokeModel"]
    assert rendered(invoke["Resource"]) == "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
    (vector_grant,) = [s for s in statements if "s3vectors:PutVectors" in s["Action"]]
    assert vector_grant["Action"] == ["s3vectors:PutVectors", "s3vectors:DeleteVectors", "s3vectors:GetVectors"]
    assert vector_grant["Resource"]["Fn::GetAtt"][1] == "IndexArn"
    template.resource_count_is("AWS::SecretsManager::Secret", 0)


def test_existing_s3_vectors_index_is_used_as_is() -> None:
    stack = Stack(new_app(), "Test", env=Environment(account="111122223333", region="eu-west-1"))
    EmbeddingPipeline(
        stack,
        "Embeddings",
        table=content_table(stack),
        embedding=EmbeddingModel.titan(),
        vector_store=VectorStore.s3_vectors(vector_bucket_name="docs", index_name="main"),
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::S3Vectors::Index", 0)
    (vector_grant,) = [s for s in policy_statements(template) if "s3vectors:PutVectors" in s["Action"]]
    assert rendered(vector_grant["Resource"]) == "arn:aws:s3vectors:eu-west-1:111122223333:bucket/docs/index/main"


def test_plugins_bring_their_layer_environment_and_grants() -> None:
    stack = new_stack()
    layer = lambda_.LayerVersion(stack, "Mine", code=handler_code())
    EmbeddingPipeline(
        stack,
        "Embeddings",
        table=content_table(stack),
        embedding=EmbeddingModel.plugin("my_models:Embedder", layer=layer, dimensions=384, environment={"A": "1"}),
        vector_store=VectorStore.plugin(
            "my_stores:Store",
            layer=layer,
            policy_statements=[iam.PolicyStatement(actions=["es:ESHttpPost"], resources=["arn:aws:es:::domain/x/*"])],
        ),
    )
    template = Template.from_stack(stack)
    properties = function_properties(template)
    variables = properties["Environment"]["Variables"]
    assert (
        variables["EMBEDDING_PLUGIN"] == "my_models:Embedder" and variables["VECTOR_STORE_PLUGIN"] == "my_stores:Store"
    )
    assert variables["A"] == "1"
    assert len(properties["Layers"]) == 3  # the runtime, and the user's layer once per plug-in
    assert {"Action": "es:ESHttpPost", "Effect": "Allow", "Resource": "arn:aws:es:::domain/x/*"} in policy_statements(
        template
    )


def test_a_stream_triggered_table_is_accepted() -> None:
    stack = new_stack()
    orders = StreamTriggeredTable(stack, "Orders", partition_key=PK, code=handler_code(), handler="app.handler")
    EmbeddingPipeline(
        stack, "Embeddings", table=orders, embedding=EmbeddingModel.titan(), vector_store=VectorStore.s3_vectors()
    )
    Template.from_stack(stack).resource_count_is("AWS::Lambda::EventSourceMapping", 2)


def test_the_users_environment_cannot_override_what_the_pipeline_needs() -> None:
    stack = new_stack()
    EmbeddingPipeline(
        stack,
        "Embeddings",
        table=content_table(stack),
        embedding=EmbeddingModel.titan(),
        vector_store=VectorStore.s3_vectors(),
        environment={"TEXT_ATTRIBUTE": "oops", "LOG_LEVEL": "DEBUG"},
    )
    variables = function_properties(Template.from_stack(stack))["Environment"]["Variables"]
    assert variables["TEXT_ATTRIBUTE"] == "body" and variables["LOG_LEVEL"] == "DEBUG"


# SummaryEnricher


def test_summary_enricher_with_anthropic() -> None:
    stack = new_stack()
    table = content_table(stack)
    SummaryEnricher(
        stack,
        "Summaries",
        table=table,
        model=SummaryModel.anthropic(),
        item_filter=StreamFilter.key_prefix("SK", "CONTENT#"),
        max_concurrency=4,
    )
    template = Template.from_stack(stack)
    properties = function_properties(template)
    assert properties["Handler"] == "lambda_src.summary_enricher.app.handler"
    variables = properties["Environment"]["Variables"]
    assert variables["SUMMARY_PROVIDER"] == "anthropic" and variables["MODEL_ID"] == "claude-haiku-4-5"
    assert variables["PROMPT"] == "Summarize in one sentence: {text}" and variables["MAX_TOKENS"] == "150"
    assert variables["SOURCE_ATTRIBUTE"] == "body" and variables["SUMMARY_ATTRIBUTE"] == "aiSummary"
    assert variables["MAX_CONCURRENCY"] == "4"
    assert len(properties["Layers"]) == 2  # the runtime and the anthropic SDK
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion", {"CompatibleRuntimes": ["python3.14"], "CompatibleArchitectures": ["x86_64"]}
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FilterCriteria": {
                "Filters": [
                    {"Pattern": '{"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"CONTENT#"}]}}},"eventName":["INSERT"]}'},
                    {"Pattern": '{"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"CONTENT#"}]}}},"eventName":["MODIFY"]}'},
                ]
            }
        },
    )
    statements = policy_statements(template)
    (write_back,) = [s for s in statements if "dynamodb:UpdateItem" in s["Action"]]
    assert write_back["Action"] == "dynamodb:UpdateItem"
    assert not [s for s in statements if "dynamodb:PutItem" in s["Action"]]


def test_arm64_summaries_get_an_arm64_sdk_layer() -> None:
    stack = new_stack()
    SummaryEnricher(
        stack,
        "Summaries",
        table=content_table(stack),
        model=SummaryModel.anthropic(),
        architecture=lambda_.Architecture.ARM_64,
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::LayerVersion", {"CompatibleArchitectures": ["arm64"]}
    )


def test_bedrock_inference_profile_grants_the_profile_and_the_model() -> None:
    stack = Stack(new_app(), "Test", env=Environment(account="111122223333", region="us-east-1"))
    SummaryEnricher(
        stack,
        "Summaries",
        table=content_table(stack),
        model=SummaryModel.bedrock(model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0"),
    )
    template = Template.from_stack(stack)
    (invoke,) = [s for s in policy_statements(template) if s["Action"] == "bedrock:InvokeModel"]
    assert rendered(invoke["Resource"]) == [
        "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
    ]
    assert len(function_properties(template)["Layers"]) == 1  # no anthropic SDK on the Bedrock path


def test_bedrock_model_id_grants_that_model_only() -> None:
    stack = Stack(new_app(), "Test", env=Environment(account="111122223333", region="us-east-1"))
    SummaryEnricher(stack, "Summaries", table=content_table(stack), model=SummaryModel.bedrock())
    (invoke,) = [s for s in policy_statements(Template.from_stack(stack)) if s["Action"] == "bedrock:InvokeModel"]
    assert (
        rendered(invoke["Resource"])
        == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
    )


# Refusals


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: EmbeddingModel.voyage(dimensions=300),
            r"dimensions for voyage-3.5 must be one of \[256, 512, 1024, 2048\], got 300",
        ),
        (
            lambda: EmbeddingModel.voyage(model="voyage-3", dimensions=512),
            r"dimensions for voyage-3 must be one of \[1024\]",
        ),
        (lambda: EmbeddingModel.voyage(model="voyage-9"), r"give dimensions= for the Voyage model 'voyage-9'"),
        (lambda: EmbeddingModel.voyage(input_type="passage"), r"input_type must be one of \['document', 'query'\]"),
        (lambda: EmbeddingModel.titan(dimensions=768), r"Titan Text Embeddings V2 must be one of \[256, 512, 1024\]"),
        (
            lambda: VectorStore.pinecone(index_host="https://x.pinecone.io/vectors"),
            r"index_host must be the index's host",
        ),
        (lambda: VectorStore.s3_vectors(vector_bucket_name="docs"), r"give both vector_bucket_name and index_name"),
        (
            lambda: VectorStore.s3_vectors(distance_metric="dot"),
            r"distance_metric must be one of \['cosine', 'euclidean'\]",
        ),
        (lambda: SummaryModel.plugin("nocolon", layer=None), r"class_path is 'module:Class', got 'nocolon'"),  # type: ignore[arg-type]
    ],
)
def test_bad_provider_choices_are_refused(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"summary_attribute": "body"}, r"summary_attribute must differ from source_attribute \('body'\)"),
        ({"prompt": "Summarize this"}, r"prompt must hold \{text\}"),
        ({"max_tokens": 100_000}, r"max_tokens must be between 1 and 64000 inclusive, got 100000"),
        ({"max_concurrency": 0}, r"max_concurrency must be between 1 and 64 inclusive, got 0"),
        (
            {"filters": [StreamFilter.inserts()]},
            r"filters are set by the pipeline itself; narrow the records with item_filter",
        ),
        ({"handler": "x.y"}, r"handler are set by the pipeline itself"),
        ({"batchsize": 1}, r"unexpected keyword arguments: 'batchsize' \(did you mean 'batch_size'\?\)"),
    ],
)
def test_bad_summary_enricher_arguments_are_refused(options: dict[str, Any], message: str) -> None:
    stack = new_stack()
    with pytest.raises((ValueError, TypeError), match=message):
        SummaryEnricher(stack, "Summaries", table=content_table(stack), model=SummaryModel.bedrock(), **options)


def test_pipelines_need_both_images() -> None:
    stack = new_stack()
    orders = StreamTriggeredTable(
        stack,
        "Orders",
        partition_key=PK,
        stream=dynamodb.StreamViewType.NEW_IMAGE,
        code=handler_code(),
        handler="app.handler",
    )
    with pytest.raises(ValueError, match=r"streams NEW_IMAGE; the pipeline reads both images .* NEW_AND_OLD_IMAGES"):
        SummaryEnricher(stack, "Summaries", table=orders, model=SummaryModel.bedrock())


def test_an_imported_table_needs_id_attributes() -> None:
    stack = new_stack()
    table = dynamodb.Table.from_table_attributes(
        stack, "Imported", table_name="Docs", table_stream_arn="arn:aws:dynamodb:us-east-1:1:table/Docs/stream/x"
    )
    with pytest.raises(ValueError, match=r"give id_attributes= .* for the imported table Test/Imported"):
        EmbeddingPipeline(
            stack, "Embeddings", table=table, embedding=EmbeddingModel.titan(), vector_store=VectorStore.s3_vectors()
        )
    EmbeddingPipeline(
        stack,
        "Named",
        table=table,
        embedding=EmbeddingModel.titan(),
        vector_store=VectorStore.s3_vectors(),
        id_attributes=["docId"],
    )


def test_text_attribute_cannot_be_metadata() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match=r"text_attribute 'body' cannot also be a metadata attribute"):
        EmbeddingPipeline(
            stack,
            "Embeddings",
            table=content_table(stack),
            embedding=EmbeddingModel.titan(),
            vector_store=VectorStore.s3_vectors(),
            metadata_attributes=["body"],
        )
