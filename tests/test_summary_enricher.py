"""SummaryEnricher's handler end to end, on loopback: the real ``anthropic`` SDK and boto3 against stub servers that
speak the Messages API and Bedrock's InvokeModel, the API key from Secrets Manager on moto in server mode, and the
write-back into DynamoDB Local, fed with the records its stream really holds."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from dynamodb_local import DynamoDBLocal, StreamReader, lambda_event

from constructs_pkg.local.runner import running_moto_server
from constructs_pkg.local.stubs.anthropic import API_KEY, AnthropicStub, summary_of
from constructs_pkg.local.stubs.bedrock_claude import BedrockClaudeStub
from constructs_pkg.local.stubs.server import Reply
from lambda_src.contract import DEFAULT_PROMPT
from lambda_src.providers import FinalProviderError, ProviderError, RetryableProviderError, secrets
from lambda_src.providers.anthropic_messages import AnthropicMessages
from lambda_src.providers.bedrock_claude import BedrockClaude
from lambda_src.summary_enricher import SummaryEnricherConfig, SummaryProvider, app

ROOT = Path(__file__).resolve().parent.parent
BEDROCK_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
# Short enough that a stub answering late makes the client time out quickly, long enough for every healthy answer.
CALL_SECONDS = 1.0
LATE = 1.5
# Words in every text the tests write: no log line may ever hold them.
CONFIDENTIAL = "Confidential"


def text_for(name: str) -> str:
    return f"{CONFIDENTIAL} notes about {name}, long enough to be worth a summary."


def expected_summary(text: str) -> str:
    return summary_of(DEFAULT_PROMPT.replace("{text}", text))


class LambdaContext:
    """The parts of Lambda's context the handler reads, with a real deadline."""

    aws_request_id = "5a0b7f6e-0c1d-4e2f-9a8b-7c6d5e4f3a2b"

    def __init__(self, seconds: float = 60.0) -> None:
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def log_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def failed_sequence_numbers(output: str) -> set[int]:
    """The sequence numbers the handler reported failed, one log line each."""
    return {int(line["itemIdentifier"]) for line in log_lines(output) if line.get("message") == "Record failed"}


# --- the loopback world ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secrets_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, dynamodb_local: DynamoDBLocal, secrets_endpoint: str) -> Iterator[None]:
    """boto3 everywhere, the handler's included, talks to DynamoDB Local and moto, with dummy credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_endpoint)
    secrets.forget_keys()
    yield
    secrets.forget_keys()


@pytest.fixture
def api_key_secret(aws: None) -> str:
    created = boto3.client("secretsmanager").create_secret(
        Name=f"anthropic-api-key-{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"apiKey": API_KEY})
    )
    arn: str = created["ARN"]
    return arn


# One server per provider for the module, reset for each test: stopping one takes half a second.
@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[AnthropicStub]:
    with AnthropicStub() as stub:
        yield stub


@pytest.fixture(scope="module")
def bedrock_server() -> Iterator[BedrockClaudeStub]:
    with BedrockClaudeStub() as stub:
        yield stub


@pytest.fixture
def anthropic_stub(monkeypatch: pytest.MonkeyPatch, anthropic_server: AnthropicStub) -> AnthropicStub:
    anthropic_server.reset()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url)
    return anthropic_server


@pytest.fixture
def bedrock_stub(monkeypatch: pytest.MonkeyPatch, aws: None, bedrock_server: BedrockClaudeStub) -> BedrockClaudeStub:
    bedrock_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock_server.url)
    return bedrock_server


@dataclass
class Table:
    """A table in DynamoDB Local with a NEW_AND_OLD_IMAGES stream, and a reader of that stream."""

    name: str
    resource: Any
    reader: StreamReader

    def put(self, sk: str, **attributes: Any) -> None:
        self.resource.put_item(Item={"PK": "CONTENT", "SK": sk, **attributes})

    def update(self, sk: str, **attributes: Any) -> None:
        self.resource.update_item(
            Key={"PK": "CONTENT", "SK": sk},
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in attributes),
            ExpressionAttributeNames={f"#{name}": name for name in attributes},
            ExpressionAttributeValues={f":{name}": value for name, value in attributes.items()},
        )

    def item(self, sk: str) -> dict[str, Any]:
        item: dict[str, Any] = self.resource.get_item(Key={"PK": "CONTENT", "SK": sk}, ConsistentRead=True)["Item"]
        return item

    def next_event(self) -> dict[str, Any]:
        """The Lambda event for every stream record written since the last call."""
        return lambda_event(self.reader.read(), self.reader.stream_arn)


@pytest.fixture
def table(aws: None, dynamodb_local: DynamoDBLocal) -> Iterator[Table]:
    client = dynamodb_local.client()
    name = f"summaries-{uuid.uuid4().hex[:12]}"
    created = client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = created["TableDescription"]["LatestStreamArn"]
    resource = boto3.resource("dynamodb", endpoint_url=dynamodb_local.endpoint_url).Table(name)
    yield Table(name, resource, StreamReader(dynamodb_local.streams(), stream_arn))
    client.delete_table(TableName=name)


def sequence_numbers(event: Mapping[str, Any]) -> dict[str, int]:
    """Each record's sequence number, by the item's sort key (for events with one record per item)."""
    return {
        record["dynamodb"]["Keys"]["SK"]["S"]: int(record["dynamodb"]["SequenceNumber"]) for record in event["Records"]
    }


def environment(table: Table, **variables: str) -> dict[str, str]:
    return {"TABLE_NAME": table.name, **variables}


@pytest.fixture
def anthropic_enricher(
    table: Table, api_key_secret: str, anthropic_stub: AnthropicStub
) -> Iterator[app.SummaryEnricherHandler]:
    config = SummaryEnricherConfig.from_env(
        environment(table, SUMMARY_PROVIDER="anthropic", ANTHROPIC_API_KEY_SECRET_ARN=api_key_secret)
    )
    enricher = app.SummaryEnricherHandler(config, max_call_seconds=CALL_SECONDS)
    yield enricher
    enricher.close()


@pytest.fixture
def bedrock_enricher(table: Table, bedrock_stub: BedrockClaudeStub) -> Iterator[app.SummaryEnricherHandler]:
    config = SummaryEnricherConfig.from_env(environment(table, SUMMARY_PROVIDER="bedrock", MODEL_ID=BEDROCK_MODEL))
    enricher = app.SummaryEnricherHandler(config, max_call_seconds=CALL_SECONDS)
    yield enricher
    enricher.close()


# --- the loop cannot start ---------------------------------------------------------------------------------------


def test_the_write_back_never_causes_another_summary(
    monkeypatch: pytest.MonkeyPatch, table: Table, api_key_secret: str, anthropic_stub: AnthropicStub
) -> None:
    # GIVEN the Lambda entry point configured as the construct configures it, and a new item
    for name, value in environment(
        table, SUMMARY_PROVIDER="anthropic", ANTHROPIC_API_KEY_SECRET_ARN=api_key_secret
    ).items():
        monkeypatch.setenv(name, value)
    entry_point = importlib.reload(app)
    table.put("POST#1", body=text_for("the loop"))
    insert = table.next_event()
    assert [record["eventName"] for record in insert["Records"]] == ["INSERT"]

    # WHEN the handler gets the INSERT DynamoDB streamed
    assert entry_point.handler(insert, LambdaContext()) == {"batchItemFailures": []}

    # THEN its write-back streamed exactly one MODIFY, which changed the summary and nothing else
    assert table.item("POST#1")["aiSummary"] == expected_summary(text_for("the loop"))
    write_back = table.next_event()
    assert [record["eventName"] for record in write_back["Records"]] == ["MODIFY"]
    images = write_back["Records"][0]["dynamodb"]
    assert images["NewImage"]["body"] == images["OldImage"]["body"]
    assert "aiSummary" not in images["OldImage"]
    assert images["NewImage"]["aiSummary"] == {"S": expected_summary(text_for("the loop"))}

    # WHEN the handler gets that MODIFY
    assert entry_point.handler(write_back, LambdaContext()) == {"batchItemFailures": []}

    # THEN no summary was asked for and nothing more was written: the loop cannot start
    assert len(anthropic_stub.prompts()) == 1
    assert table.next_event() == {"Records": []}


# --- what is summarized ------------------------------------------------------------------------------------------


def test_inserts_are_summarized_concurrently_into_the_item(
    table: Table, anthropic_stub: AnthropicStub, anthropic_enricher: app.SummaryEnricherHandler
) -> None:
    names = [f"POST#{index}" for index in range(12)]
    for name in names:
        table.put(name, body=text_for(name), title=f"Title {name}")

    with anthropic_stub.latency_of(0.2):
        response = anthropic_enricher(table.next_event(), LambdaContext())

    assert response == {"batchItemFailures": []}
    for name in names:
        assert table.item(name)["aiSummary"] == expected_summary(text_for(name))
    requests = anthropic_stub.requests_to(AnthropicStub.MESSAGES)
    assert {request.json()["model"] for request in requests} == {"claude-haiku-4-5"}
    assert {request.json()["max_tokens"] for request in requests} == {150}
    # 12 requests of 0.2 s on 8 threads arrive in two waves, 0.2 s apart; one after another they would span 2.2 s.
    arrivals = anthropic_stub.arrival_times(CONFIDENTIAL)
    assert max(arrivals) - min(arrivals) < 1.0


def test_a_changed_source_is_summarized_again(
    table: Table, anthropic_stub: AnthropicStub, anthropic_enricher: app.SummaryEnricherHandler
) -> None:
    table.put("POST#1", body=text_for("the first draft"))
    anthropic_enricher(table.next_event(), LambdaContext())
    table.update("POST#1", body=text_for("the second draft"))

    # The batch holds the first write-back and the edit: the item's net change is a new text.
    event = table.next_event()
    assert [record["eventName"] for record in event["Records"]] == ["MODIFY", "MODIFY"]
    assert anthropic_enricher(event, LambdaContext()) == {"batchItemFailures": []}

    assert table.item("POST#1")["aiSummary"] == expected_summary(text_for("the second draft"))
    assert anthropic_stub.prompts() == [
        DEFAULT_PROMPT.replace("{text}", text_for("the first draft")),
        DEFAULT_PROMPT.replace("{text}", text_for("the second draft")),
    ]


@pytest.mark.parametrize("attribute", ["aiSummary", "title"])
def test_an_update_that_leaves_the_source_alone_is_not_summarized(
    attribute: str, table: Table, anthropic_stub: AnthropicStub, anthropic_enricher: app.SummaryEnricherHandler
) -> None:
    table.put("POST#1", body=text_for("an old post"), aiSummary="Written by hand.", title="Old")
    table.next_event()
    table.update("POST#1", **{attribute: "Changed"})

    assert anthropic_enricher(table.next_event(), LambdaContext()) == {"batchItemFailures": []}

    assert anthropic_stub.requests == []
    assert table.item("POST#1")[attribute] == "Changed"


def test_an_insert_then_an_update_of_another_attribute_in_one_batch_is_summarized(
    table: Table, anthropic_stub: AnthropicStub, anthropic_enricher: app.SummaryEnricherHandler
) -> None:
    # Judging the last record alone (a MODIFY of the title) would never summarize this item.
    table.put("POST#1", body=text_for("a new post"), title="Draft")
    table.update("POST#1", title="Final")

    assert anthropic_enricher(table.next_event(), LambdaContext()) == {"batchItemFailures": []}

    assert table.item("POST#1")["aiSummary"] == expected_summary(text_for("a new post"))
    assert len(anthropic_stub.prompts()) == 1


def test_only_the_last_text_of_an_item_in_a_batch_is_summarized(
    table: Table, anthropic_stub: AnthropicStub, anthropic_enricher: app.SummaryEnricherHandler
) -> None:
    table.put("POST#1", body=text_for("version 1"))
    table.update("POST#1", body=text_for("version 2"))
    table.update("POST#1", body=text_for("version 3"))
    table.put("POST#2", body=text_for("a post deleted at once"))
    table.resource.delete_item(Key={"PK": "CONTENT", "SK": "POST#2"})

    assert anthropic_enricher(table.next_event(), LambdaContext()) == {"batchItemFailures": []}

    assert anthropic_stub.prompts() == [DEFAULT_PROMPT.replace("{text}", text_for("version 3"))]
    assert table.item("POST#1")["aiSummary"] == expected_summary(text_for("version 3"))


def test_missing_blank_or_non_string_sources_are_skipped_with_a_metric(
    capsys: pytest.CaptureFixture[str],
    table: Table,
    anthropic_stub: AnthropicStub,
    anthropic_enricher: app.SummaryEnricherHandler,
) -> None:
    table.put("POST#missing", title="No body")
    table.put("POST#blank", body="   ")
    table.put("POST#number", body=42)
    table.put("POST#fine", body=text_for("a fine post"))

    assert anthropic_enricher(table.next_event(), LambdaContext()) == {"batchItemFailures": []}

    assert anthropic_stub.prompts() == [DEFAULT_PROMPT.replace("{text}", text_for("a fine post"))]
    lines = log_lines(capsys.readouterr().out)
    assert sorted(line["reason"] for line in lines if line.get("message") == "Skipped: nothing to summarize") == [
        "Decimal",
        "blank",
        "missing",
    ]
    assert [line["SkippedRecords"] for line in lines if "SkippedRecords" in line] == [3]


def test_a_stale_summary_never_overwrites_a_newer_text(
    capsys: pytest.CaptureFixture[str],
    table: Table,
    anthropic_stub: AnthropicStub,
    anthropic_enricher: app.SummaryEnricherHandler,
) -> None:
    # GIVEN the INSERT record of a text that was edited before the handler got to it
    table.put("POST#1", body=text_for("the old text"))
    insert = table.next_event()
    table.update("POST#1", body=text_for("the new text"))

    # WHEN the handler summarizes the old text
    response = anthropic_enricher(insert, LambdaContext())

    # THEN the record is done, and the newer text stands without the old text's summary
    assert response == {"batchItemFailures": []}
    assert anthropic_stub.prompts() == [DEFAULT_PROMPT.replace("{text}", text_for("the old text"))]
    assert table.item("POST#1") == {"PK": "CONTENT", "SK": "POST#1", "body": text_for("the new text")}
    finished = [line for line in log_lines(capsys.readouterr().out) if line.get("message") == "Summaries done"]
    assert finished[0]["staleSummariesDropped"] == 1


def test_a_malformed_record_fails_alone(
    capsys: pytest.CaptureFixture[str], table: Table, anthropic_enricher: app.SummaryEnricherHandler
) -> None:
    for name in ("POST#1", "POST#2", "POST#3"):
        table.put(name, body=text_for(name))
    event = table.next_event()
    event["Records"][1]["eventName"] = "UPSERT"
    sequences = sequence_numbers(event)

    response = anthropic_enricher(event, LambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": str(sequences["POST#2"])}]}
    assert failed_sequence_numbers(capsys.readouterr().out) == {sequences["POST#2"]}
    assert "aiSummary" in table.item("POST#1")
    assert "aiSummary" in table.item("POST#3")


def test_no_call_is_started_without_the_time_to_finish_it(
    capsys: pytest.CaptureFixture[str],
    table: Table,
    anthropic_stub: AnthropicStub,
    anthropic_enricher: app.SummaryEnricherHandler,
) -> None:
    for name in ("POST#1", "POST#2"):
        table.put(name, body=text_for(name))
    event = table.next_event()

    # Half a second before the deadline margin (Default: 5 s) runs out.
    response = anthropic_enricher(event, LambdaContext(seconds=5.5))

    assert anthropic_stub.requests == []
    assert failed_sequence_numbers(capsys.readouterr().out) == set(sequence_numbers(event).values())
    assert response == {"batchItemFailures": [{"itemIdentifier": str(min(sequence_numbers(event).values()))}]}


# --- faults ------------------------------------------------------------------------------------------------------

# By item: the replies its first requests get, how many requests it takes, whether it finally fails.
ANTHROPIC_FAULTS: dict[str, tuple[tuple[Reply, ...], int, bool]] = {
    "rate-limited": ((AnthropicStub.rate_limited(retry_after_ms="1200"),), 2, False),
    "server-error": ((AnthropicStub.server_error(),), 2, False),
    "overloaded": ((AnthropicStub.overloaded(), AnthropicStub.overloaded()), 3, False),
    "timed-out": ((AnthropicStub.delayed(LATE),), 2, False),
    "malformed": ((AnthropicStub.malformed(),), 2, False),
    "unauthorized": ((AnthropicStub.unauthorized(),), 1, True),
    "spend-limit": ((AnthropicStub.spend_limit(),), 1, True),
    "healthy": ((), 1, False),
}
BEDROCK_FAULTS: dict[str, tuple[tuple[Reply, ...], int, bool]] = {
    "throttled": ((BedrockClaudeStub.throttled(),), 2, False),
    "internal-error": ((BedrockClaudeStub.internal_error(),), 2, False),
    "unavailable": ((BedrockClaudeStub.unavailable(),), 2, False),
    "model-timeout": ((BedrockClaudeStub.model_timeout(),), 2, False),
    "timed-out": ((BedrockClaudeStub.delayed(LATE),), 2, False),
    "malformed": ((BedrockClaudeStub.malformed(),), 2, False),
    "access-denied": ((BedrockClaudeStub.access_denied(),), 1, True),
    "invalid": ((BedrockClaudeStub.validation_error(),), 1, True),
    "healthy": ((), 1, False),
}


def run_fault_matrix(
    faults: dict[str, tuple[tuple[Reply, ...], int, bool]],
    stub: AnthropicStub | BedrockClaudeStub,
    enricher: app.SummaryEnricherHandler,
    table: Table,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN one item per fault, its text naming it, in one batch
    for name, (replies, _, _) in faults.items():
        table.put(name, body=text_for(name))
        stub.fail_when(name, *replies)
    event = table.next_event()
    sequences = sequence_numbers(event)

    # WHEN the handler runs the batch
    response = enricher(event, LambdaContext())

    # THEN exactly the items with final errors fail, each after as many requests as its faults allow
    output = capsys.readouterr().out
    failing = {name for name, (_, _, fails) in faults.items() if fails}
    assert failed_sequence_numbers(output) == {sequences[name] for name in failing}
    assert response == {"batchItemFailures": [{"itemIdentifier": str(min(sequences[name] for name in failing))}]}
    prompts = stub.prompts()
    assert {name: sum(name in prompt for prompt in prompts) for name in faults} == {
        name: requests for name, (_, requests, _) in faults.items()
    }
    # AND every other summary is in the table; nothing of a text reached a log line
    for name in faults:
        item = table.item(name)
        if name in failing:
            assert "aiSummary" not in item
        else:
            assert item["aiSummary"] == expected_summary(text_for(name))
    assert CONFIDENTIAL not in output


def test_anthropic_faults_fail_only_their_records(
    capsys: pytest.CaptureFixture[str],
    table: Table,
    anthropic_stub: AnthropicStub,
    anthropic_enricher: app.SummaryEnricherHandler,
) -> None:
    run_fault_matrix(ANTHROPIC_FAULTS, anthropic_stub, anthropic_enricher, table, capsys)

    # The rate-limited request was retried after the 1.2 s the API asked for, not the backoff's 0.5 s at most.
    first, second = anthropic_stub.arrival_times("rate-limited")
    assert second - first >= 1.2


def test_bedrock_faults_fail_only_their_records(
    capsys: pytest.CaptureFixture[str],
    table: Table,
    bedrock_stub: BedrockClaudeStub,
    bedrock_enricher: app.SummaryEnricherHandler,
) -> None:
    run_fault_matrix(BEDROCK_FAULTS, bedrock_stub, bedrock_enricher, table, capsys)

    assert set(bedrock_stub.model_ids()) == {BEDROCK_MODEL}


# --- the providers on their own ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error_type", "status", "code", "retry_after"),
    [
        (AnthropicStub.rate_limited(retry_after="3"), RetryableProviderError, 429, "rate_limit_error", 3.0),
        (AnthropicStub.rate_limited(retry_after_ms="250"), RetryableProviderError, 429, "rate_limit_error", 0.25),
        (AnthropicStub.spend_limit(), FinalProviderError, 429, "enforced_spend_limit_reached", None),
        (AnthropicStub.overloaded(), RetryableProviderError, 529, "overloaded_error", None),
        (AnthropicStub.server_error(), RetryableProviderError, 500, "api_error", None),
        (AnthropicStub.unauthorized(), FinalProviderError, 401, "authentication_error", None),
        (AnthropicStub.malformed(), RetryableProviderError, None, None, None),
        (AnthropicStub.delayed(LATE), RetryableProviderError, None, None, None),
    ],
)
def test_anthropic_errors_are_classified(
    reply: Reply,
    error_type: type[ProviderError],
    status: int | None,
    code: str | None,
    retry_after: float | None,
    api_key_secret: str,
    anthropic_stub: AnthropicStub,
) -> None:
    summarizer = AnthropicMessages(
        model="claude-haiku-4-5", max_tokens=150, prompt=DEFAULT_PROMPT, api_key_secret_id=api_key_secret
    )
    anthropic_stub.fail_when("fault", reply)

    with pytest.raises(error_type) as raised:
        summarizer.summarize("fault", timeout=CALL_SECONDS)

    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (status, code, retry_after)


@pytest.mark.parametrize(
    ("reply", "error_type", "status", "code"),
    [
        (BedrockClaudeStub.throttled(), RetryableProviderError, 429, "ThrottlingException"),
        (BedrockClaudeStub.model_timeout(), RetryableProviderError, 408, "ModelTimeoutException"),
        (BedrockClaudeStub.internal_error(), RetryableProviderError, 500, "InternalServerException"),
        (BedrockClaudeStub.unavailable(), RetryableProviderError, 503, "ServiceUnavailableException"),
        (BedrockClaudeStub.access_denied(), FinalProviderError, 403, "AccessDeniedException"),
        (BedrockClaudeStub.validation_error(), FinalProviderError, 400, "ValidationException"),
        (BedrockClaudeStub.malformed(), RetryableProviderError, None, None),
        (BedrockClaudeStub.delayed(LATE), RetryableProviderError, None, None),
    ],
)
def test_bedrock_errors_are_classified(
    reply: Reply, error_type: type[ProviderError], status: int | None, code: str | None, bedrock_stub: BedrockClaudeStub
) -> None:
    summarizer = BedrockClaude(model_id=BEDROCK_MODEL, max_tokens=150, prompt=DEFAULT_PROMPT, max_connections=1)
    bedrock_stub.fail_when("fault", reply)

    with pytest.raises(error_type) as raised:
        summarizer.summarize("fault", timeout=CALL_SECONDS)

    assert (raised.value.status, raised.value.code) == (status, code)


def test_bedrock_sends_the_messages_body_bedrock_expects(bedrock_stub: BedrockClaudeStub) -> None:
    summarizer = BedrockClaude(model_id=BEDROCK_MODEL, max_tokens=99, prompt="TL;DR: {text}", max_connections=1)

    assert summarizer.summarize("a text", timeout=CALL_SECONDS) == summary_of("TL;DR: a text")
    assert bedrock_stub.model_ids() == [BEDROCK_MODEL]
    assert bedrock_stub.requests[0].json() == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 99,
        "messages": [{"role": "user", "content": "TL;DR: a text"}],
    }


class ShoutingSummarizer:
    """A plug-in, as a user would write one."""

    def summarize(self, text: str, *, timeout: float) -> str:
        return text.upper()


def test_a_plugin_summarizer_is_used(table: Table) -> None:
    config = SummaryEnricherConfig.from_env(
        environment(table, SUMMARY_PROVIDER="plugin", SUMMARIZER_PLUGIN=f"{__name__}:ShoutingSummarizer")
    )
    enricher = app.SummaryEnricherHandler(config)
    table.put("POST#1", body="quiet words")

    try:
        assert enricher(table.next_event(), LambdaContext()) == {"batchItemFailures": []}
    finally:
        enricher.close()

    assert table.item("POST#1")["aiSummary"] == "QUIET WORDS"


def test_a_bedrock_function_never_imports_anthropic() -> None:
    script = (
        "import sys\n"
        "from lambda_src.summary_enricher import app\n"
        "app.handler({'Records': []}, None)\n"
        "print(sorted(name for name in ('anthropic', 'boto3') if name in sys.modules))\n"
    )
    variables = {"TABLE_NAME": "Content", "SUMMARY_PROVIDER": "bedrock", "MODEL_ID": BEDROCK_MODEL}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**os.environ, **variables}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


# --- configuration -----------------------------------------------------------------------------------------------


def test_configuration_defaults_are_the_seeds() -> None:
    config = SummaryEnricherConfig.from_env(
        {"TABLE_NAME": "Content", "SUMMARY_PROVIDER": "anthropic", "ANTHROPIC_API_KEY_SECRET_ARN": "arn:secret"}
    )

    assert (config.source_attribute, config.summary_attribute, config.max_tokens) == ("body", "aiSummary", 150)
    assert (config.prompt, config.model_id, config.max_concurrency) == (DEFAULT_PROMPT, "claude-haiku-4-5", 16)
    assert config.provider is SummaryProvider.ANTHROPIC


BEDROCK = {"SUMMARY_PROVIDER": "bedrock", "MODEL_ID": BEDROCK_MODEL}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, r"TABLE_NAME is required; SUMMARY_PROVIDER is required: one of anthropic, bedrock, plugin$"),
        ({"SUMMARY_PROVIDER": "openai"}, r"SUMMARY_PROVIDER must be one of anthropic, bedrock, plugin, got 'openai'"),
        ({"SUMMARY_PROVIDER": "anthropic"}, r"ANTHROPIC_API_KEY_SECRET_ARN is required"),
        ({"SUMMARY_PROVIDER": "bedrock"}, r"MODEL_ID is required"),
        ({**BEDROCK, "MODEL_ID": " "}, r"MODEL_ID is required and must not be blank"),
        ({"SUMMARY_PROVIDER": "plugin"}, r"SUMMARIZER_PLUGIN is required"),
        (
            {"SUMMARY_PROVIDER": "plugin", "SUMMARIZER_PLUGIN": "mine"},
            r"SUMMARIZER_PLUGIN must be 'module:Class', got 'mine'",
        ),
        ({**BEDROCK, "SUMMARY_ATTRIBUTE": "body"}, r"SUMMARY_ATTRIBUTE must differ from SOURCE_ATTRIBUTE \('body'\)"),
        ({**BEDROCK, "PROMPT": "Summarize:"}, r"PROMPT must hold \{text\} where the source text goes, got 'Summ"),
        ({**BEDROCK, "MAX_TOKENS": "0"}, r"MAX_TOKENS must be a whole number of at least 1, got '0'"),
        ({**BEDROCK, "MAX_CONCURRENCY": "eight"}, r"MAX_CONCURRENCY must be a whole number of at least 1, got 'eight'"),
        ({**BEDROCK, "STREAM_RUNTIME_DEADLINE_MARGIN_MS": "-1"}, r"STREAM_RUNTIME_DEADLINE_MARGIN_MS must be a whole"),
    ],
)
def test_configuration_errors_name_the_variable(variables: dict[str, str], message: str) -> None:
    environ = {"TABLE_NAME": "Content", **variables} if variables else {}

    with pytest.raises(ValueError, match=message):
        SummaryEnricherConfig.from_env(environ)
