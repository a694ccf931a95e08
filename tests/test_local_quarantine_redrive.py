"""Redrive of the stream runtime's quarantine messages: parsed with and without their records, redriven from their
payload (no stream read) or re-read from the stream after finding their shard, and the command users type, run as a
subprocess against an SQS queue and an S3 bucket on moto and a DynamoDB Local stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from conftest import synth_like_app
from dynamodb_local import DynamoDBLocal, StreamReader

from constructs_pkg import StreamTriggeredTable
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.dynamodb_local import REGION, local_client
from constructs_pkg.local.endpoints import LocalEndpoints, running_moto_server
from constructs_pkg.local.redrive import Quarantine, in_process, parse_failure_message, redrive
from constructs_pkg.local.runner import LocalRunner
from constructs_pkg.local.stream_reread import SequenceRange, locate_shard
from constructs_pkg.local.wire import lambda_event
from lambda_src.stream_runtime import PermanentError
from lambda_src.stream_runtime.quarantine import quarantine_message as runtime_quarantine_message

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:orders-handler"
REASON = "PermanentError: price 'not-a-number' is not a number"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


class Stream:
    """A DynamoDB Local table's stream and the records written to it so far."""

    def __init__(self, database: DynamoDBLocal) -> None:
        client = database.client()
        self.table = f"quarantine-{uuid.uuid4().hex[:8]}"
        created = client.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        self.arn: str = created["TableDescription"]["LatestStreamArn"]
        self.client = client
        self.streams = database.streams()
        self._reader = StreamReader(self.streams, self.arn)

    def write(self, *keys: str) -> list[dict[str, Any]]:
        for key in keys:
            self.client.put_item(TableName=self.table, Item={"pk": {"S": key}, "price": {"S": "not-a-number"}})
        return self._reader.read()


@pytest.fixture
def stream(dynamodb_local: DynamoDBLocal) -> Stream:
    return Stream(dynamodb_local)


class _Context:
    aws_request_id = "f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    invoked_function_arn = FUNCTION_ARN
    function_name = "orders-handler"


def quarantine_message(stream_arn: str, records: list[dict[str, Any]], *, with_records: bool = True) -> dict[str, Any]:
    """The quarantine message the stream runtime itself sends for ``records`` (as GetRecords returned them), with
    their records or, as for records too large for the destination, without them."""
    error = PermanentError(REASON.removeprefix("PermanentError: "))
    return runtime_quarantine_message(
        lambda_event(records, stream_arn)["Records"], error, _Context(), with_records=with_records
    )


def _record(sequence_number: str, key: str) -> dict[str, Any]:
    """A stream record as GetRecords returns it (for messages about a stream that is gone)."""
    return {
        "eventID": f"event-{key}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": 1768349599,
            "Keys": {"pk": {"S": key}},
            "NewImage": {"pk": {"S": key}},
            "SequenceNumber": sequence_number,
            "SizeBytes": 20,
            "StreamViewType": "NEW_IMAGE",
        },
    }


# --- parsing ------------------------------------------------------------------------------------------------------

GONE_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000"
GONE_RECORDS = [_record("100000000000000000001", "a"), _record("100000000000000000002", "b")]


def test_a_quarantine_message_is_parsed_with_its_reason_and_records_and_no_shard() -> None:
    message = quarantine_message(GONE_STREAM, GONE_RECORDS)

    batch = parse_failure_message(json.dumps(message))

    assert batch.shard_id is None and batch.condition == "Quarantined"
    assert (batch.start_sequence_number, batch.end_sequence_number, batch.batch_size) == (
        100000000000000000001,
        100000000000000000002,
        2,
    )
    assert batch.quarantine == Quarantine(REASON, "PermanentError", ("event-a", "event-b"), images_omitted=False)
    assert batch.payload == message["payload"]


def test_a_quarantine_message_without_its_records_says_their_images_were_omitted() -> None:
    notification = {
        "Type": "Notification",
        "Message": json.dumps(quarantine_message(GONE_STREAM, GONE_RECORDS[:1], with_records=False)),
    }

    batch = parse_failure_message(notification)

    assert batch.payload is None and batch.quarantine is not None and batch.quarantine.images_omitted


def test_lambdas_own_records_are_no_quarantine() -> None:
    message = quarantine_message(GONE_STREAM, GONE_RECORDS)
    del message["quarantine"]

    assert (
        parse_failure_message(
            {**message, "DDBStreamBatchInfo": {**message["DDBStreamBatchInfo"], "shardId": "s"}}
        ).quarantine
        is None
    )


def test_a_malformed_quarantine_object_is_named() -> None:
    message = {**quarantine_message(GONE_STREAM, GONE_RECORDS), "quarantine": {"reason": "x", "eventIDs": "event-a"}}

    with pytest.raises(ValueError, match="the quarantine object's eventIDs is not a list but str"):
        parse_failure_message(message)


# --- redriving ----------------------------------------------------------------------------------------------------


def test_a_quarantine_message_with_its_records_is_redriven_from_them_after_the_stream_is_gone() -> None:
    # GIVEN a quarantine message about a stream no longer there (past its 24 hours), holding the records
    batch = parse_failure_message(quarantine_message(GONE_STREAM, GONE_RECORDS))
    events: list[dict[str, Any]] = []

    # WHEN it is redriven with no streams client at all
    result = redrive(batch, in_process(lambda event, _context: events.append(event)))

    # THEN the handler got the records exactly as Lambda had delivered them
    assert events == [lambda_event(GONE_RECORDS, GONE_STREAM)]
    assert (result.from_payload, result.reread, result.delivered, result.succeeded) == (True, 0, 2, True)


def test_a_quarantine_message_without_its_records_is_reread_from_the_shard_that_holds_them(stream: Stream) -> None:
    # GIVEN three records in the stream, the middle one quarantined without its images
    records = stream.write("a", "poison", "c")
    batch = parse_failure_message(quarantine_message(stream.arn, records[1:2], with_records=False))
    (shard,) = stream.streams.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"]
    events: list[dict[str, Any]] = []

    # WHEN it is redriven
    result = redrive(batch, in_process(lambda event, _context: events.append(event)), streams_client=stream.streams)

    # THEN its shard was found by its sequence number and the record re-read from it
    assert locate_shard(stream.streams, stream.arn, batch.start_sequence_number) == shard["ShardId"]
    assert result.batch.shard_id == shard["ShardId"]
    assert events == [json.loads(json.dumps(lambda_event(records[1:2], stream.arn)))]
    assert (result.from_payload, result.reread, result.succeeded) == (False, 1, True)


class _DescribedShards:
    """A streams client that only describes a stream: a closed parent shard (100..200) on the first page, its open
    child (from 300) on the second."""

    def describe_stream(self, StreamArn: str, ExclusiveStartShardId: str | None = None) -> dict[str, Any]:
        if ExclusiveStartShardId is None:
            shard = {
                "ShardId": "parent",
                "SequenceNumberRange": {"StartingSequenceNumber": "100", "EndingSequenceNumber": "200"},
            }
            return {"StreamDescription": {"Shards": [shard], "LastEvaluatedShardId": "parent"}}
        child = {
            "ShardId": "child",
            "ParentShardId": "parent",
            "SequenceNumberRange": {"StartingSequenceNumber": "300"},
        }
        return {"StreamDescription": {"Shards": [child]}}


@pytest.mark.parametrize(
    ("sequence_number", "shard_id"),
    [(150, "parent"), (200, "parent"), (300, "child"), (10**25, "child"), (50, None), (250, None)],
)
def test_the_shard_of_a_sequence_number_is_the_one_whose_range_holds_it(
    sequence_number: int, shard_id: str | None
) -> None:
    assert locate_shard(_DescribedShards(), GONE_STREAM, sequence_number) == shard_id


def test_records_no_shard_holds_any_more_are_reported_as_gone() -> None:
    message = quarantine_message(GONE_STREAM, [_record("00000000000000000050", "trimmed")], with_records=False)

    result = redrive(
        parse_failure_message(message), in_process(lambda event, _context: None), streams_client=_DescribedShards()
    )

    assert (result.delivered, result.trimmed, result.succeeded) == (0, [SequenceRange(50, 50)], False)


# --- the command line, as users type it ----------------------------------------------------------------------------


def _redrive_command(moto_endpoint: str, database: DynamoDBLocal, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m constructs_pkg.local redrive ARGUMENTS`` in a new process, its boto3 clients on moto."""
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_SQS": moto_endpoint,
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
    }
    return subprocess.run(
        [sys.executable, "-m", "constructs_pkg.local", "redrive", *arguments,
         "--dynamodb-endpoint", database.endpoint_url],
        capture_output=True, text=True, env=environment, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip


def _recording_handler(code_dir: Path) -> Path:
    """``app.handler`` in ``code_dir``, which appends each event it gets to events.jsonl beside it."""
    code_dir.mkdir()
    seen = code_dir / "events.jsonl"
    (code_dir / "app.py").write_text(
        "import json, pathlib\n"
        "def handler(event, context):\n"
        f"    with pathlib.Path({str(seen)!r}).open('a') as seen:\n"
        "        seen.write(json.dumps(event) + '\\n')\n"
    )
    return seen


def _delivered_keys(seen: Path) -> list[list[str]]:
    events = [json.loads(line) for line in seen.read_text().splitlines()]
    return [[record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"]] for event in events]


def test_the_cli_redrives_quarantine_messages_from_a_queue_with_and_without_their_records(
    stream: Stream, dynamodb_local: DynamoDBLocal, moto_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN two quarantined records in the runtime's on-failure queue: one with its record, one whose images were
    # omitted
    records = stream.write("kept", "omitted")
    sqs = local_client(moto_endpoint, "sqs")
    queue_url = sqs.create_queue(QueueName=f"quarantine-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for message in (
        quarantine_message(stream.arn, records[:1]),
        quarantine_message(stream.arn, records[1:], with_records=False),
    ):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
    seen = _recording_handler(tmp_path / "handler")

    # WHEN the user runs the redrive command with their fixed handler, deleting what was redriven
    done = _redrive_command(
        moto_endpoint, dynamodb_local, "--queue-url", queue_url, "--handler", "app:handler",
        "--code-dir", str(tmp_path / "handler"), "--delete",
    )  # fmt: skip

    # THEN both records reached the handler, the report says each was quarantined and how it was redriven
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    (kept,) = [line for line in lines if "from payload" in line]
    assert kept.startswith(stream.arn) and f"quarantined ({REASON}), from payload, delivered 1, failed 0" in kept
    (omitted,) = [line for line in lines if "re-read" in line]
    assert omitted.startswith("shardId-") and f"quarantined ({REASON}), re-read 1, delivered 1, failed 0" in omitted
    assert sorted(_delivered_keys(seen)) == [["kept"], ["omitted"]]
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", []) == []


def test_the_cli_reads_both_lambdas_and_the_runtimes_objects_from_a_bucket_without_a_prefix(
    stream: Stream, dynamodb_local: DynamoDBLocal, moto_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN a bucket holding Lambda's on-failure object (aws/lambda/...) and the runtime's quarantine object
    records = stream.write("lambda", "runtime")
    (shard,) = stream.streams.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"]
    s3 = local_client(moto_endpoint, "s3")
    bucket = f"failures-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    lambdas = quarantine_message(stream.arn, records[:1])
    del lambdas["quarantine"]
    lambdas["requestContext"]["condition"] = "RetryAttemptsExhausted"
    lambdas["DDBStreamBatchInfo"]["shardId"] = shard["ShardId"]
    s3.put_object(Bucket=bucket, Key=f"aws/lambda/{uuid.uuid4()}/{shard['ShardId']}/1", Body=json.dumps(lambdas))
    s3.put_object(
        Bucket=bucket, Key=f"quarantine/{uuid.uuid4()}", Body=json.dumps(quarantine_message(stream.arn, records[1:]))
    )
    seen = _recording_handler(tmp_path / "handler")

    # WHEN the user redrives the bucket, naming no prefix
    done = _redrive_command(
        moto_endpoint, dynamodb_local, "--s3-bucket", bucket, "--handler", "app:handler",
        "--code-dir", str(tmp_path / "handler"),
    )  # fmt: skip

    # THEN both objects were redriven from their payloads, and only the runtime's is reported as quarantined
    assert done.returncode == 0, done.stderr
    lambda_line, quarantine_line = done.stdout.splitlines()
    assert lambda_line.startswith(shard["ShardId"]) and ": from payload, delivered 1" in lambda_line
    assert f": quarantined ({REASON}), from payload, delivered 1" in quarantine_line
    assert _delivered_keys(seen) == [["lambda"], ["runtime"]]


# --- end to end: the runner, the runtime's quarantine, the redrive --------------------------------------------------

_POISONED_HANDLER = """
from lambda_src.stream_runtime import PermanentError, process_stream_batch


def handle(record):
    if record.new_image["price"] == "not-a-number":
        raise PermanentError("price 'not-a-number' is not a number")


def handler(event, context):
    return process_stream_batch(event, context, handle)
"""


def test_a_permanent_failure_is_quarantined_by_the_runner_and_redriven_after_the_fix(
    dynamodb_local: DynamoDBLocal, moto_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN a StreamTriggeredTable with its defaults, synthesized as cdk synth does, whose handler refuses one item of
    # a hundred for good
    (tmp_path / "handler").mkdir()
    (tmp_path / "handler" / "app.py").write_text(_POISONED_HANDLER)
    app = synth_like_app(tmp_path / "cdk.out")
    StreamTriggeredTable(
        Stack(app, "Poisoned"),
        "Orders",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        code=lambda_.Code.from_asset(str(tmp_path / "handler")),
        handler="app.handler",
    )
    app.synth()
    local_app = LocalApp.from_assembly(tmp_path / "cdk.out", ["Poisoned"])
    runner = LocalRunner(
        local_app, LocalEndpoints.with_moto(dynamodb_local.endpoint_url, moto_endpoint), table_prefix="poisoned-"
    )
    runner.create_tables()
    runner.start()
    (table,) = runner.table_names.values()
    for number in range(100):
        price = "not-a-number" if number == 42 else str(number)
        runner.dynamodb_client.put_item(
            TableName=table, Item={"pk": {"S": f"order-{number:03}"}, "price": {"S": price}}
        )

    # WHEN the runner carries the stream
    stats = runner.run_until_idle(timeout=60, quiet_seconds=0.5)

    # THEN one invocation took the whole batch past the poison record, which waits in the on-failure queue, whole
    assert (len(stats.invocations), stats.failed_invocations, stats.records_succeeded) == (1, 0, 100)
    assert stats.on_failure_messages == []
    (queue_url,) = runner.on_failure_destinations.values()
    sqs = local_client(moto_endpoint, "sqs")
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    body = json.loads(message["Body"])
    assert body["quarantine"]["reason"] == REASON
    assert [record["dynamodb"]["Keys"]["pk"]["S"] for record in body["payload"]["Records"]] == ["order-042"]
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    # AND WHEN the user redrives the queue with the fixed handler, as the README shows
    seen = _recording_handler(tmp_path / "fixed")
    (layer,) = local_app.functions[next(iter(local_app.functions))].layer_dirs
    done = _redrive_command(
        moto_endpoint, dynamodb_local, "--queue-url", queue_url, "--handler", "app:handler",
        "--code-dir", str(tmp_path / "fixed"), "--layer-dir", str(layer), "--delete",
    )  # fmt: skip

    # THEN the quarantined record reached it from the message alone, and the queue is empty
    assert done.returncode == 0, done.stderr
    assert "from payload, delivered 1, failed 0" in done.stdout
    assert _delivered_keys(seen) == [["order-042"]]
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", []) == []
