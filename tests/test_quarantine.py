"""Quarantine of final failures: the runtime sends a record that can never succeed to the on-failure destination at
once, whole, with the reason, and the batch moves on. Real SQS, SNS and S3 on moto in server mode, driven by boto3."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from test_stream_runtime_changes import Context, event_of, wire_record

from constructs_pkg.local.runner import running_moto_server
from lambda_src.stream_runtime import (
    ChangeFailure,
    PermanentError,
    StreamRecord,
    process_item_changes,
    process_stream_batch,
)
from lambda_src.stream_runtime import quarantine as quarantine_module
from lambda_src.stream_runtime.quarantine import MAX_MESSAGE_BYTES


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto: str) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    quarantine_module._client.cache_clear()
    yield
    quarantine_module._client.cache_clear()


@pytest.fixture
def queue_url(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs").create_queue(QueueName=f"quarantine-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE", "sqs")
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE_TARGET", url)
    return url


def received(queue_url: str) -> list[dict[str, Any]]:
    answer = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def poisoned(poison: int) -> Any:
    def handle(record: StreamRecord) -> None:
        if record.sequence_number == poison:
            raise PermanentError("the order has no customer")

    return handle


def test_a_permanent_failure_goes_to_the_queue_whole_and_the_batch_moves_on(queue_url: str) -> None:
    records = [wire_record(number, f"ORDER#{number}", "INSERT", None, 1) for number in range(1, 101)]

    response = process_stream_batch(event_of(*records), Context(), poisoned(42))

    assert response == {"batchItemFailures": []}
    (message,) = received(queue_url)
    assert message["requestContext"]["condition"] == "Quarantined"
    assert message["requestContext"]["functionArn"] == Context.invoked_function_arn
    assert message["quarantine"]["reason"] == "PermanentError: the order has no customer"
    assert message["quarantine"]["imagesOmitted"] is False
    assert message["payload"] == {"Records": [records[41]]}
    batch = message["DDBStreamBatchInfo"]
    assert batch["startSequenceNumber"] == batch["endSequenceNumber"] == records[41]["dynamodb"]["SequenceNumber"]
    assert batch["streamArn"] == records[41]["eventSourceARN"] and batch["batchSize"] == 1
    assert "shardId" not in batch


def test_a_retryable_failure_still_goes_through_the_mappings_retries(queue_url: str) -> None:
    def throttled(record: StreamRecord) -> None:
        if record.sequence_number == 2:
            raise RuntimeError("throttled")

    records = [wire_record(number, f"ORDER#{number}", "INSERT", None, 1) for number in range(1, 4)]

    assert process_stream_batch(event_of(*records), Context(), throttled) == {
        "batchItemFailures": [{"itemIdentifier": "2"}]
    }
    assert received(queue_url) == []


def test_a_malformed_record_is_quarantined(queue_url: str) -> None:
    malformed = wire_record(7, "ORDER#7", "INSERT", None, 1)
    malformed["dynamodb"]["NewImage"]["total"] = {"N": "twelve"}

    response = process_stream_batch(
        event_of(wire_record(6, "ORDER#6", "INSERT", None, 1), malformed), Context(), lambda record: None
    )

    assert response == {"batchItemFailures": []}
    (message,) = received(queue_url)
    assert message["quarantine"]["errorType"] == "MalformedRecordError"
    assert message["payload"]["Records"] == [malformed]


def test_an_items_records_are_quarantined_together_by_the_batch_entry(queue_url: str) -> None:
    records = [
        wire_record(1, "A", "INSERT", None, 1),
        wire_record(2, "B", "INSERT", None, 1),
        wire_record(3, "A", "MODIFY", 1, 2),
    ]

    def refuse_a(changes: Any, deadline: Any) -> list[ChangeFailure]:
        return [ChangeFailure(change, PermanentError("refused")) for change in changes if change.keys["PK"] == "A"]

    assert process_item_changes(event_of(*records), Context(), refuse_a) == {"batchItemFailures": []}
    (message,) = received(queue_url)
    assert message["payload"]["Records"] == [records[0], records[2]]
    assert message["quarantine"]["eventIDs"] == ["event-1", "event-3"]


def test_a_message_over_the_queues_limit_goes_without_its_records(queue_url: str) -> None:
    record = wire_record(1, "BIG", "INSERT", None, 1)
    record["dynamodb"]["NewImage"]["body"] = {"S": "x" * MAX_MESSAGE_BYTES}

    assert process_stream_batch(event_of(record), Context(), poisoned(1)) == {"batchItemFailures": []}
    (message,) = received(queue_url)
    assert "payload" not in message and message["quarantine"]["imagesOmitted"] is True
    assert message["DDBStreamBatchInfo"]["startSequenceNumber"] == record["dynamodb"]["SequenceNumber"]


def test_a_quarantine_that_cannot_send_leaves_the_record_to_the_mapping(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE", "sqs")
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE_TARGET", "http://127.0.0.1:9/000000000000/gone")
    records = [wire_record(number, f"ORDER#{number}", "INSERT", None, 1) for number in range(1, 4)]

    response = process_stream_batch(event_of(*records), Context(), poisoned(2))

    # Nothing is lost silently: the record is reported, so the mapping retries it and finally sends its coordinates.
    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert "Quarantine failed" in capsys.readouterr().out


def test_the_topic_gets_the_message(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic_arn = sns.create_topic(Name="quarantine-topic")["TopicArn"]
    reader = sqs.create_queue(QueueName="quarantine-topic-reader")["QueueUrl"]
    reader_arn = sqs.get_queue_attributes(QueueUrl=reader, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=reader_arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE", "sns")
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE_TARGET", topic_arn)
    record = wire_record(1, "A", "INSERT", None, 1)

    assert process_stream_batch(event_of(record), Context(), poisoned(1)) == {"batchItemFailures": []}
    (message,) = received(reader)
    assert message["payload"]["Records"] == [record]


def test_the_bucket_gets_an_object_under_quarantine(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="quarantine-bucket")
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE", "s3")
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE_TARGET", "quarantine-bucket")
    record = wire_record(1, "A", "INSERT", None, 1)
    record["dynamodb"]["NewImage"]["body"] = {"S": "x" * MAX_MESSAGE_BYTES}  # S3 takes any size

    assert process_stream_batch(event_of(record), Context(), poisoned(1)) == {"batchItemFailures": []}
    (listed,) = s3.list_objects_v2(Bucket="quarantine-bucket")["Contents"]
    assert listed["Key"].startswith("quarantine/items/") and listed["Key"].endswith(".json")
    body = json.loads(s3.get_object(Bucket="quarantine-bucket", Key=listed["Key"])["Body"].read())
    assert body["payload"]["Records"] == [record]


def test_quarantine_can_be_turned_off_per_call(queue_url: str) -> None:
    records = [wire_record(number, f"ORDER#{number}", "INSERT", None, 1) for number in range(1, 4)]

    response = process_stream_batch(event_of(*records), Context(), poisoned(2), quarantine=False)

    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert received(queue_url) == []
