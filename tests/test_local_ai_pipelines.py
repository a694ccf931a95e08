"""End to end: the content AI examples synthesized with bundling, their table in DynamoDB Local, the local stream
runner carrying the stream to the bundled embedding pipeline and summary enricher in-process, each provider served by
its stub on loopback (``constructs_pkg.local.providers``, as ``run`` sets them up) and the API keys by moto's Secrets
Manager: SeedAiPipelines (Voyage, Pinecone, Anthropic) and AwsNativeAiPipelines (Titan, S3 Vectors, Claude on
Bedrock, both behind one Bedrock endpoint)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import synth_like_app
from dynamodb_local import DynamoDBLocal

from constructs_pkg.local.__main__ import main
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.providers import ProviderSetup, local_providers
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, running_moto_server
from constructs_pkg.local.stubs.anthropic import AnthropicStub, summary_of
from constructs_pkg.local.stubs.bedrock_claude import BedrockClaudeStub
from constructs_pkg.local.stubs.bedrock_titan import TitanStub
from constructs_pkg.local.stubs.pinecone import PineconeStub
from constructs_pkg.local.stubs.s3_vectors import S3VectorsStub
from constructs_pkg.local.stubs.voyage import VoyageStub, embedding_of
from examples.content_ai.stack import AwsNativeAiPipelinesStack, SeedAiPipelinesStack

TABLE = "MyApp3CE31C26"
NAMESPACE = "content"
PROMPT = "Summarize in one sentence: {text}"
ARTICLES = {
    "CONTENT#1": ("Streams", "DynamoDB Streams record every item change."),
    "CONTENT#2": ("Lambda", "Lambda polls the stream and calls a function."),
    "CONTENT#3": ("Vectors", "Embeddings place similar texts close together."),
}
PROFILE = {"PK": {"S": "SITE#1"}, "SK": {"S": "PROFILE"}, "body": {"S": "not content"}}


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    # The Anthropic layer is installed by pip, as `cdk synth` would.
    app = synth_like_app(outdir)
    SeedAiPipelinesStack(app, "SeedAiPipelines")
    AwsNativeAiPipelinesStack(app, "AwsNativeAiPipelines")
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


def _runner(app: LocalApp, providers: ProviderSetup, database: DynamoDBLocal, moto: str, prefix: str) -> LocalRunner:
    runner = LocalRunner(
        app,
        LocalEndpoints.with_moto(database.endpoint_url, moto),
        table_prefix=prefix,
        environment_overrides=providers.environment,
        secret_values=providers.secret_values,
    )
    runner.create_tables()
    runner.start()
    return runner


def _write_articles(runner: LocalRunner) -> None:
    for sk, (title, body) in ARTICLES.items():
        runner.dynamodb_client.put_item(TableName=runner.table_names[TABLE], Item=_content(sk, title, body))
    runner.dynamodb_client.put_item(TableName=runner.table_names[TABLE], Item=PROFILE)


def _content(sk: str, title: str, body: str) -> dict[str, Any]:
    return {
        "PK": {"S": "SITE#1"},
        "SK": {"S": sk},
        "title": {"S": title},
        "createdAt": {"S": "2026-11-21T10:00:00Z"},
        "body": {"S": body},
    }


def _items(runner: LocalRunner) -> dict[str, dict[str, Any]]:
    items = runner.dynamodb_client.scan(TableName=runner.table_names[TABLE], ConsistentRead=True)["Items"]
    return {item["SK"]["S"]: item for item in items}


def test_seed_pipelines_embed_and_summarize_content_items_only(
    assembly: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    app = LocalApp.from_assembly(assembly, ["SeedAiPipelines"])
    with local_providers(app) as providers:
        # GIVEN the stack's tables and functions, every provider a stub, the stubs' keys in the stack's secrets
        assert sorted(providers.used) == ["anthropic", "pinecone", "voyage"] and not providers.real
        voyage, pinecone, anthropic = (providers.stubs[name] for name in ("voyage", "pinecone", "anthropic"))
        assert isinstance(voyage, VoyageStub) and isinstance(pinecone, PineconeStub)
        assert isinstance(anthropic, AnthropicStub)
        runner = _runner(app, providers, dynamodb_local, moto_endpoint, "seed-ai-")
        table, client = runner.table_names[TABLE], runner.dynamodb_client
        _write_articles(runner)

        # WHEN the runner carries the stream to both functions until nothing moves
        stats = runner.run_until_idle(timeout=30)

        # THEN each content item has one vector (id PK#SK, its title and createdAt) and a summary written back...
        vectors = pinecone.vectors(NAMESPACE)
        assert sorted(vectors) == [f"SITE#1#{sk}" for sk in ARTICLES]
        for sk, (title, body) in ARTICLES.items():
            stored = vectors[f"SITE#1#{sk}"]
            assert stored["metadata"] == {"title": title, "createdAt": "2026-11-21T10:00:00Z"}
            assert stored["values"] == pytest.approx(embedding_of(body, 1024), abs=1e-6)
        items = _items(runner)
        for sk, (_, body) in ARTICLES.items():
            assert items[sk]["aiSummary"] == {"S": summary_of(PROMPT.format(text=body))}
        # ... the other item is untouched and reached no provider...
        assert items["PROFILE"] == PROFILE
        sent = [text for texts in voyage.inputs() for text in texts] + anthropic.prompts()
        assert not any("not content" in text for text in sent)
        assert not any("PROFILE" in key for invocation in stats.invocations for key in invocation.keys)
        # ... and the summaries' own write-backs (MODIFY records) asked for no further summary or embedding
        assert sorted(anthropic.prompts()) == sorted(PROMPT.format(text=body) for _, body in ARTICLES.values())
        assert sorted(text for texts in voyage.inputs() for text in texts) == sorted(b for _, b in ARTICLES.values())
        assert stats.on_failure_messages == [] and stats.failed_invocations == 0

        # WHEN one body is rewritten, another item's title alone changes and a third item is deleted
        new_body = "DynamoDB Streams keep every change for 24 hours."
        client.update_item(
            TableName=table,
            Key={"PK": {"S": "SITE#1"}, "SK": {"S": "CONTENT#1"}},
            UpdateExpression="SET body = :body",
            ExpressionAttributeValues={":body": {"S": new_body}},
        )
        client.update_item(
            TableName=table,
            Key={"PK": {"S": "SITE#1"}, "SK": {"S": "CONTENT#2"}},
            UpdateExpression="SET title = :title",
            ExpressionAttributeValues={":title": {"S": "AWS Lambda"}},
        )
        client.delete_item(TableName=table, Key={"PK": {"S": "SITE#1"}, "SK": {"S": "CONTENT#3"}})
        prompts_before, embeddings_before = len(anthropic.prompts()), len(voyage.inputs())
        runner.run_until_idle(timeout=30)

        # THEN the rewritten item is embedded and summarized again...
        vectors = pinecone.vectors(NAMESPACE)
        assert vectors["SITE#1#CONTENT#1"]["values"] == pytest.approx(embedding_of(new_body, 1024), abs=1e-6)
        items = _items(runner)
        assert items["CONTENT#1"]["aiSummary"] == {"S": summary_of(PROMPT.format(text=new_body))}
        assert anthropic.prompts()[prompts_before:] == [PROMPT.format(text=new_body)]
        assert [text for texts in voyage.inputs()[embeddings_before:] for text in texts] == [new_body]
        # ... the retitled one only has its metadata updated, its summary kept...
        assert vectors["SITE#1#CONTENT#2"]["metadata"]["title"] == "AWS Lambda"
        assert vectors["SITE#1#CONTENT#2"]["values"] == pytest.approx(embedding_of(ARTICLES["CONTENT#2"][1], 1024))
        assert items["CONTENT#2"]["aiSummary"] == {"S": summary_of(PROMPT.format(text=ARTICLES["CONTENT#2"][1]))}
        assert len(pinecone.requests_to(PineconeStub.UPDATE)) >= 1
        # ... and the deleted one's vector is gone
        assert sorted(vectors) == ["SITE#1#CONTENT#1", "SITE#1#CONTENT#2"]
        assert stats.on_failure_messages == [] and stats.failed_invocations == 0


def test_aws_native_pipelines_embed_with_titan_into_s3_vectors_and_summarize_with_claude_on_bedrock(
    assembly: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    app = LocalApp.from_assembly(assembly, ["AwsNativeAiPipelines"])
    with local_providers(app) as providers:
        # GIVEN the stack's tables and functions, Titan and Claude behind one Bedrock endpoint, S3 Vectors stubbed
        assert sorted(providers.used) == ["bedrock", "s3vectors"] and not providers.secret_values
        (titan,) = (stub for stub in providers.bedrock_models.values() if isinstance(stub, TitanStub))
        (claude,) = (stub for stub in providers.bedrock_models.values() if isinstance(stub, BedrockClaudeStub))
        vectors_stub = providers.stubs["s3vectors"]
        assert isinstance(vectors_stub, S3VectorsStub)
        (index,) = vectors_stub.indexes
        runner = _runner(app, providers, dynamodb_local, moto_endpoint, "aws-native-ai-")
        _write_articles(runner)

        # WHEN the runner carries the stream to both functions until nothing moves
        stats = runner.run_until_idle(timeout=30)

        # THEN each content item has one vector (key PK#SK, its title and createdAt) and a summary written back...
        vectors = vectors_stub.indexes[index]
        assert index[1] == "vectors" and sorted(vectors) == [f"SITE#1#{sk}" for sk in ARTICLES]
        for sk, (title, body) in ARTICLES.items():
            stored = vectors[f"SITE#1#{sk}"]
            assert stored["metadata"] == {"title": title, "createdAt": "2026-11-21T10:00:00Z"}
            assert stored["float32"] == pytest.approx(embedding_of(body, 1024), abs=1e-6)
        items = _items(runner)
        for sk, (_, body) in ARTICLES.items():
            assert items[sk]["aiSummary"] == {"S": summary_of(PROMPT.format(text=body))}
        # ... each model was asked once per content item, through its own model id, and the profile reached none
        assert sorted(titan.texts()) == sorted(body for _, body in ARTICLES.values())
        assert sorted(claude.prompts()) == sorted(PROMPT.format(text=body) for _, body in ARTICLES.values())
        assert set(claude.model_ids()) == {app.functions[_summarizer(app)].environment["MODEL_ID"]}
        assert items["PROFILE"] == PROFILE
        assert stats.on_failure_messages == [] and stats.failed_invocations == 0

        # WHEN an item is deleted
        runner.dynamodb_client.delete_item(
            TableName=runner.table_names[TABLE], Key={"PK": {"S": "SITE#1"}, "SK": {"S": "CONTENT#3"}}
        )
        runner.run_until_idle(timeout=30)

        # THEN its vector is gone and no model was called again
        assert sorted(vectors) == ["SITE#1#CONTENT#1", "SITE#1#CONTENT#2"]
        assert len(titan.texts()) == len(claude.prompts()) == len(ARTICLES)


def _summarizer(app: LocalApp) -> str:
    (logical_id,) = (lid for lid, spec in app.functions.items() if spec.environment.get("SUMMARY_PROVIDER"))
    return logical_id


def test_the_cli_runs_the_seed_pipelines_with_every_provider_stubbed(
    assembly: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the stack's table, made beforehand, holding the articles
    app = LocalApp.from_assembly(assembly, ["SeedAiPipelines"])
    runner = LocalRunner(app, LocalEndpoints(dynamodb_local.endpoint_url), table_prefix="cli-ai-")
    runner.create_tables()
    _write_articles(runner)

    # WHEN `run` carries its stream (from TRIM_HORIZON, as the template says) until quiet, with no --real provider
    status = main(
        ["run", "--app", str(assembly), "--stack", "SeedAiPipelines", "--dynamodb-endpoint",
         dynamodb_local.endpoint_url, "--sqs-endpoint", moto_endpoint, "--no-create-tables", "--table-prefix",
         "cli-ai-", "--until-idle", "0.5"]
    )  # fmt: skip

    # THEN it said where each provider's calls went, and every content item got its summary with no failure
    out = capsys.readouterr().out
    assert status == 0
    for provider in ("anthropic", "pinecone", "voyage"):
        assert f"AI provider {provider}: a stub at http://127.0.0.1:" in out
    items = _items(runner)
    for sk, (_, body) in ARTICLES.items():
        assert items[sk]["aiSummary"] == {"S": summary_of(PROMPT.format(text=body))}
    assert "anthropic stub: 3 requests, 0 answered with an error" in out
    assert re.search(r"voyage stub: [1-3] requests, 0 answered with an error", out)
    assert "0 failed" in out and out.rstrip().endswith("0 sent to on-failure destinations")


def test_both_stacks_run_together_each_pipeline_on_its_own_table_and_providers(
    assembly: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    # GIVEN both stacks read together: the same logical ids, two pipelines of each kind in one process
    app = LocalApp.from_assembly(assembly)
    with local_providers(app) as providers:
        runner = _runner(app, providers, dynamodb_local, moto_endpoint, "both-")
        seed_table, native_table = (
            runner.table_names[f"{stack}/{TABLE}"] for stack in ("SeedAiPipelines", "AwsNativeAiPipelines")
        )
        assert seed_table != native_table

        # WHEN one article is written to each stack's table
        _, body = ARTICLES["CONTENT#1"]
        for table in (seed_table, native_table):
            runner.dynamodb_client.put_item(TableName=table, Item=_content("CONTENT#1", "Streams", body))
        stats = runner.run_until_idle(timeout=30)

        # THEN each stack's pipelines used its own providers and wrote back to its own table
        anthropic = providers.stubs["anthropic"]
        (claude,) = (stub for stub in providers.bedrock_models.values() if isinstance(stub, BedrockClaudeStub))
        assert isinstance(anthropic, AnthropicStub)
        assert anthropic.prompts() == claude.prompts() == [PROMPT.format(text=body)]
        pinecone, vectors = providers.stubs["pinecone"], providers.stubs["s3vectors"]
        assert isinstance(pinecone, PineconeStub) and isinstance(vectors, S3VectorsStub)
        assert list(pinecone.vectors(NAMESPACE)) == ["SITE#1#CONTENT#1"]
        assert [list(index) for index in vectors.indexes.values()] == [["SITE#1#CONTENT#1"]]
        for table in (seed_table, native_table):
            item = runner.dynamodb_client.get_item(
                TableName=table, Key={"PK": {"S": "SITE#1"}, "SK": {"S": "CONTENT#1"}}
            )
            assert item["Item"]["aiSummary"] == {"S": summary_of(PROMPT.format(text=body))}
        assert stats.failed_invocations == 0
