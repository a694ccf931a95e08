"""End to end: the SeedAiPipelines example synthesized with bundling, its content table in DynamoDB Local, the local
stream runner carrying the stream to the bundled embedding pipeline (Voyage -> Pinecone) and summary enricher
(Anthropic) in-process, the providers served by the stubs on loopback and the API keys by moto's Secrets Manager."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import synth_like_app
from dynamodb_local import DynamoDBLocal
from stubs.anthropic import API_KEY as ANTHROPIC_KEY
from stubs.anthropic import AnthropicStub, summary_of
from stubs.pinecone import API_KEY as PINECONE_KEY
from stubs.pinecone import PineconeStub
from stubs.voyage import API_KEY as VOYAGE_KEY
from stubs.voyage import VoyageStub, embedding_of

from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.runner import LocalRunner, running_moto_server
from examples.content_ai.stack import SeedAiPipelinesStack

TABLE = "MyApp3CE31C26"
NAMESPACE = "content"
PROMPT = "Summarize in one sentence: {text}"


@pytest.fixture(scope="module")
def seed_app(tmp_path_factory: pytest.TempPathFactory) -> LocalApp:
    outdir = tmp_path_factory.mktemp("cdk.out")
    # The Anthropic layer is installed by pip, as `cdk synth` would.
    app = synth_like_app(outdir)
    SeedAiPipelinesStack(app, "SeedAiPipelines")
    app.synth()
    return LocalApp.from_assembly(outdir, ["SeedAiPipelines"])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


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


def _fill_in_secrets(runner: LocalRunner) -> None:
    """Put the stubs' keys in the secrets the stack creates, as an operator does after deploying."""
    assert runner.secrets_client is not None
    keys = {"Voyage": VOYAGE_KEY, "Pinecone": PINECONE_KEY, "Anthropic": ANTHROPIC_KEY}
    filled = []
    for logical_id, (_, arn) in runner.resources.items():
        for provider, key in keys.items():
            if provider in logical_id:
                runner.secrets_client.put_secret_value(SecretId=arn, SecretString=key)
                filled.append(provider)
    assert sorted(filled) == sorted(keys)


def test_seed_pipelines_embed_and_summarize_content_items_only(
    seed_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    with VoyageStub() as voyage, PineconeStub() as pinecone, AnthropicStub() as anthropic:
        # GIVEN the stack's tables and functions, the providers pointed at the stubs and the keys filled in
        runner = LocalRunner(
            seed_app,
            dynamodb_local.endpoint_url,
            moto_endpoint,
            secretsmanager_endpoint=moto_endpoint,
            table_prefix="seed-ai-",
            environment_overrides={
                "VOYAGE_BASE_URL": voyage.url,
                "PINECONE_INDEX_HOST": pinecone.url,
                "ANTHROPIC_BASE_URL": anthropic.url,
            },
        )
        runner.create_tables()
        runner.start()
        _fill_in_secrets(runner)
        table, client = runner.table_names[TABLE], runner.dynamodb_client
        articles = {
            "CONTENT#1": ("Streams", "DynamoDB Streams record every item change."),
            "CONTENT#2": ("Lambda", "Lambda polls the stream and calls a function."),
            "CONTENT#3": ("Vectors", "Embeddings place similar texts close together."),
        }
        for sk, (title, body) in articles.items():
            client.put_item(TableName=table, Item=_content(sk, title, body))
        profile = {"PK": {"S": "SITE#1"}, "SK": {"S": "PROFILE"}, "body": {"S": "not content"}}
        client.put_item(TableName=table, Item=profile)

        # WHEN the runner carries the stream to both functions until nothing moves
        stats = runner.run_until_idle(timeout=30)

        # THEN each content item has one vector (id PK#SK, its title and createdAt) and a summary written back...
        vectors = pinecone.vectors(NAMESPACE)
        assert sorted(vectors) == [f"SITE#1#{sk}" for sk in articles]
        for sk, (title, body) in articles.items():
            stored = vectors[f"SITE#1#{sk}"]
            assert stored["metadata"] == {"title": title, "createdAt": "2026-11-21T10:00:00Z"}
            assert stored["values"] == pytest.approx(embedding_of(body, 1024), abs=1e-6)
        items = _items(runner)
        for sk, (_, body) in articles.items():
            assert items[sk]["aiSummary"] == {"S": summary_of(PROMPT.format(text=body))}
        # ... the other item is untouched and reached no provider...
        assert items["PROFILE"] == profile
        sent = [text for texts in voyage.inputs() for text in texts] + anthropic.prompts()
        assert not any("not content" in text for text in sent)
        assert not any("PROFILE" in key for invocation in stats.invocations for key in invocation.keys)
        # ... and the summaries' own write-backs (MODIFY records) asked for no further summary or embedding
        assert sorted(anthropic.prompts()) == sorted(PROMPT.format(text=body) for _, body in articles.values())
        assert sorted(text for texts in voyage.inputs() for text in texts) == sorted(b for _, b in articles.values())
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
        assert vectors["SITE#1#CONTENT#2"]["values"] == pytest.approx(embedding_of(articles["CONTENT#2"][1], 1024))
        assert items["CONTENT#2"]["aiSummary"] == {"S": summary_of(PROMPT.format(text=articles["CONTENT#2"][1]))}
        assert len(pinecone.requests_to(PineconeStub.UPDATE)) >= 1
        # ... and the deleted one's vector is gone
        assert sorted(vectors) == ["SITE#1#CONTENT#1", "SITE#1#CONTENT#2"]
        assert stats.on_failure_messages == [] and stats.failed_invocations == 0
