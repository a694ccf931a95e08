"""Redrive against real components: the stream of a DynamoDB Local table, on-failure records shaped as Lambda writes
them, in an SQS queue and an S3 bucket on moto (server mode, loopback), and a handler invoked in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from dynamodb_local import DynamoDBLocal, StreamReader

from constructs_pkg.local.endpoints import running_moto_server
from constructs_pkg.local.redrive import (
    FailedBatch,
    in_process,
    messages_from_s3,
    messages_from_sqs,
    parse_failure_message,
    read_failed_records,
    redrive,
)
from constructs_pkg.local.redrive_cli import add_redrive_arguments, run_redrive
from constructs_pkg.local.stream_reread import SequenceRange
from constructs_pkg.local.wire import lambda_event

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-handler"


# --- the loopback world ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> None:
    """boto3's default clients, the CLI's included, talk to moto with dummy credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)


class Table:
    """A DynamoDB Local table with a NEW_AND_OLD_IMAGES stream and the records written to it so far."""

    def __init__(self, database: DynamoDBLocal) -> None:
        self.name = f"orders-{uuid.uuid4().hex[:8]}"
        self.client = database.client()
        self.streams = database.streams()
        created = self.client.create_table(
            TableName=self.name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.stream_arn: str = created["TableDescription"]["LatestStreamArn"]
        self.reader = StreamReader(self.streams, self.stream_arn)

    def write(self, count: int) -> list[dict[str, Any]]:
        """Writes ``count`` small items (25 to a BatchWriteItem) and returns their stream records."""
        for first in range(0, count, 25):
            self.client.batch_write_item(
                RequestItems={
                    self.name: [
                        {"PutRequest": {"Item": {"pk": {"S": f"order-{index:05d}"}, "total": {"N": str(index)}}}}
                        for index in range(first, min(first + 25, count))
                    ]
                }
            )
        return self.reader.read()

    @property
    def shard_id(self) -> str:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        shard_id: str = shards[0]["ShardId"]
        return shard_id


@pytest.fixture
def table(dynamodb_local: DynamoDBLocal) -> Table:
    return Table(dynamodb_local)


def on_failure_record(
    table: Table, start: str, end: str, batch_size: int, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An invocation record as Lambda sends it to an on-failure destination; the S3 one adds ``payload``:
    https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html"""
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": FUNCTION_ARN,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-01-14T00:13:49.717Z",
        "DDBStreamBatchInfo": {
            "shardId": table.shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": "2026-01-14T00:13:19Z",
            "approximateArrivalOfLastRecord": "2026-01-14T00:13:19Z",
            "batchSize": batch_size,
            "streamArn": table.stream_arn,
        },
    }
    if payload is not None:
        record["payload"] = payload
    return record


def sns_notification(message: dict[str, Any]) -> dict[str, Any]:
    """An SNS notification wrapping ``message``, as an SNS topic delivers it:
    https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html"""
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders-failures",
        "Message": json.dumps(message),
        "Timestamp": "2026-01-14T00:13:50.001Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


def sequence(record: dict[str, Any]) -> str:
    number: str = record["dynamodb"]["SequenceNumber"]
    return number


class Recorder:
    """A handler that keeps every event it receives and answers ``response``."""

    def __init__(self, response: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.response = response

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        assert context.function_name and context.get_remaining_time_in_millis() > 0
        self.events.append(event)
        return self.response


class FlakyStreams:
    """A streams client whose ``fail_on``-th GetRecords call raises ``error_code``, once; after that, with
    ``trim_horizon``, TRIM_HORIZON starts at that sequence number, as if the stream had trimmed what came before.

    A wrapper because DynamoDB Local's iterators outlive any test (DynamoDB's expire after 15 minutes) and it never
    trims its records (DynamoDB trims after 24 hours):
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
    """

    def __init__(
        self, streams: Any, error_code: str | None = None, fail_on: int = 2, trim_horizon: str | None = None
    ) -> None:
        self._streams = streams
        self._error_code = error_code
        self._fail_on = fail_on
        self._trim_horizon = trim_horizon
        self.get_records_calls = 0
        self.iterator_requests: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._streams, name)

    def get_shard_iterator(self, **request: Any) -> Any:
        self.iterator_requests.append(request)
        if request["ShardIteratorType"] == "TRIM_HORIZON" and self._trim_horizon is not None:
            request = {**request, "ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": self._trim_horizon}
        return self._streams.get_shard_iterator(**request)

    def get_records(self, **request: Any) -> Any:
        self.get_records_calls += 1
        if self._error_code is not None and self.get_records_calls == self._fail_on:
            error = getattr(self._streams.exceptions, self._error_code)
            raise error({"Error": {"Code": self._error_code, "Message": "simulated"}}, "GetRecords")
        return self._streams.get_records(**request)


# --- parsing the three shapes ------------------------------------------------------------------------------------

BATCH_INFO = {
    "shardId": "shardId-00000001573689847184-864758bb",
    "startSequenceNumber": "800000000003126276362",
    "endSequenceNumber": "1000000000003126276399",
    "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
    "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
    "batchSize": 3,
    "streamArn": "arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388",
}
SQS_BODY = {
    "requestContext": {
        "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 1,
    },
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
    "version": "1.0",
    "timestamp": "2019-11-14T00:13:49.717Z",
    "DDBStreamBatchInfo": BATCH_INFO,
}
EXPECTED = FailedBatch(
    stream_arn=BATCH_INFO["streamArn"],
    shard_id="shardId-00000001573689847184-864758bb",
    start_sequence_number=800000000003126276362,
    end_sequence_number=1000000000003126276399,
    batch_size=3,
    condition="RetryAttemptsExhausted",
    function_arn="arn:aws:lambda:us-east-2:123456789012:function:myfunction",
    approximate_arrival_of_first_record="2019-11-14T00:13:19Z",
    approximate_arrival_of_last_record="2019-11-14T00:13:19Z",
)


def test_parses_the_sqs_body_as_a_string_or_a_mapping_with_sequence_numbers_as_ints() -> None:
    assert parse_failure_message(json.dumps(SQS_BODY)) == EXPECTED
    assert parse_failure_message(SQS_BODY) == EXPECTED
    # 22 digits after 21: as strings the end would sort before the start.
    assert EXPECTED.end_sequence_number > EXPECTED.start_sequence_number


def test_parses_the_sns_notification_around_the_same_record() -> None:
    assert parse_failure_message(json.dumps(sns_notification(SQS_BODY))) == EXPECTED


@pytest.mark.parametrize("as_string", [False, True], ids=["payload-object", "payload-json-string"])
def test_parses_the_s3_object_with_its_payload(as_string: bool) -> None:
    event = {"Records": [{"eventID": "1", "dynamodb": {"SequenceNumber": "800000000003126276362"}}]}
    body = {**SQS_BODY, "payload": json.dumps(event) if as_string else event}

    assert parse_failure_message(json.dumps(body)).payload == event


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "the on-failure message is not JSON"),
        ("[1, 2]", "the on-failure message is not a JSON object but list"),
        (json.dumps({"KinesisBatchInfo": {}}), r"no DDBStreamBatchInfo object \(found: KinesisBatchInfo\)"),
        (json.dumps({"Type": "Notification", "Message": "oops"}), "the SNS notification's Message is not JSON"),
        (
            json.dumps({"DDBStreamBatchInfo": {"shardId": "s", "startSequenceNumber": "1"}}),
            "DDBStreamBatchInfo lacks streamArn, endSequenceNumber",
        ),
        (
            json.dumps({"DDBStreamBatchInfo": {**BATCH_INFO, "endSequenceNumber": "12ab"}}),
            "endSequenceNumber is not a decimal string: '12ab'",
        ),
        (
            json.dumps({"DDBStreamBatchInfo": {**BATCH_INFO, "endSequenceNumber": "100000000000000000001"}}),
            "endSequenceNumber 100000000000000000001 is before startSequenceNumber",
        ),
        (json.dumps({**SQS_BODY, "payload": {"records": []}}), "the payload is not a Lambda event: it has no Records"),
    ],
    ids=["not-json", "not-object", "kinesis", "sns-not-json", "missing", "not-decimal", "reversed", "bad-payload"],
)
def test_a_malformed_message_raises_naming_what_is_wrong(body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_failure_message(body)


# --- re-reading and redriving ------------------------------------------------------------------------------------


def test_sqs_message_redrives_exactly_the_range_in_order_and_is_deleted(aws: None, table: Table) -> None:
    # GIVEN 10 records in the stream, and Lambda's record of a failed batch of records 3 to 7 in an SQS queue
    records = table.write(10)
    failed = records[3:8]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(on_failure_record(table, sequence(failed[0]), sequence(failed[-1]), 5)),
    )

    # WHEN the queue is redriven into a handler that succeeds
    handler = Recorder()
    (message,) = messages_from_sqs(sqs, queue_url, delete_after=True)
    result = redrive(parse_failure_message(message.body), in_process(handler), streams_client=table.streams)
    assert message.delete is not None
    message.delete()

    # THEN the handler got exactly those records, in order, as Lambda's event, and the queue is empty
    assert handler.events == [json.loads(json.dumps(lambda_event(failed, table.stream_arn)))]
    assert (result.reread, result.delivered, result.failed, result.trimmed, result.succeeded) == (5, 5, 0, [], True)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


def test_sns_notification_file_redrives_through_the_cli(
    aws: None, table: Table, dynamodb_local: DynamoDBLocal, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    records = table.write(4)
    notification = tmp_path / "notification.json"
    notification.write_text(
        json.dumps(sns_notification(on_failure_record(table, sequence(records[1]), sequence(records[2]), 2)))
    )
    handler_module = tmp_path / "code" / f"redrive_handler_{uuid.uuid4().hex[:8]}.py"
    handler_module.parent.mkdir()
    handler_module.write_text(
        "import json, pathlib\n"
        "def handler(event, context):\n"
        f"    pathlib.Path({str(tmp_path / 'seen.json')!r}).write_text(json.dumps(event))\n"
    )

    exit_code = run_redrive(
        cli(
            "--sns-message-file", str(notification), "--handler", f"{handler_module.stem}:handler",
            "--code-dir", str(handler_module.parent), "--dynamodb-endpoint", dynamodb_local.endpoint_url,
        )
    )  # fmt: skip

    assert exit_code == 0
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == json.loads(json.dumps(lambda_event(records[1:3], table.stream_arn)))
    assert capsys.readouterr().out.strip().endswith("re-read 2, delivered 2, failed 0, trimmed 0")


def test_s3_object_redrives_from_its_payload_without_reading_the_stream(aws: None, table: Table) -> None:
    # GIVEN the S3 destination's object, which keeps the whole event, under its documented key layout
    records = table.write(3)
    event = lambda_event(records, table.stream_arn)
    s3 = boto3.client("s3")
    bucket = f"failures-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    record = on_failure_record(table, sequence(records[0]), sequence(records[-1]), 3, payload=event)
    key = f"aws/lambda/{uuid.uuid4()}/{table.shard_id}/2026/01/14/2026-01-14T00.13.49-{uuid.uuid4()}"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(record).encode())

    # WHEN it is redriven with no streams client at all
    handler = Recorder()
    (message,) = messages_from_s3(s3, bucket, "aws/lambda/")
    result = redrive(parse_failure_message(message.body), in_process(handler))

    # THEN the handler got the payload as it was
    assert handler.events == [json.loads(json.dumps(event))]
    assert (result.from_payload, result.reread, result.delivered, result.succeeded) == (True, 0, 3, True)


def test_a_range_over_1000_records_is_read_in_pages(table: Table) -> None:
    records = table.write(1100)
    streams = FlakyStreams(table.streams)
    batch = batch_of(table, records[20], records[1080], 1061)

    found = read_failed_records(streams, batch)

    assert [sequence(record) for record in found.records] == [sequence(record) for record in records[20:1081]]
    assert found.trimmed == []
    assert streams.get_records_calls >= 2


def test_an_expired_iterator_is_renewed_after_the_last_record_read(table: Table) -> None:
    records = table.write(1100)
    streams = FlakyStreams(table.streams, "ExpiredIteratorException", fail_on=2)
    batch = batch_of(table, records[0], records[1099], 1100)

    found = read_failed_records(streams, batch)

    assert [sequence(record) for record in found.records] == [sequence(record) for record in records]
    assert found.trimmed == []
    renewed = streams.iterator_requests[-1]
    assert renewed["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
    assert renewed["SequenceNumber"] == sequence(records[999])


def test_a_start_before_the_oldest_record_is_reported_as_trimmed(table: Table) -> None:
    # GIVEN a batch that began before the oldest record the stream still holds (its first records were trimmed)
    records = table.write(5)
    oldest = int(sequence(records[0]))
    batch = FailedBatch(table.stream_arn, table.shard_id, oldest - 1, int(sequence(records[2])), 4)

    # WHEN it is redriven
    handler = Recorder()
    result = redrive(batch, in_process(handler), streams_client=table.streams)

    # THEN the records still there are delivered, the missing start is reported by number
    assert [sequence(record) for record in handler.events[0]["Records"]] == [sequence(r) for r in records[:3]]
    assert result.trimmed == [SequenceRange(oldest - 1, oldest - 1)]
    assert not result.succeeded


def test_trimmed_data_while_reading_is_reported_by_range(table: Table) -> None:
    # GIVEN a stream that answers TrimmedDataAccessException on the second page: the first 1,000 records were read,
    # then the stream trimmed 50 more of the batch's records, so the read resumes at the oldest record left
    records = table.write(1100)
    streams = FlakyStreams(table.streams, "TrimmedDataAccessException", fail_on=2, trim_horizon=sequence(records[1050]))
    batch = batch_of(table, records[0], records[1099], 1100)

    # WHEN the batch is re-read
    found = read_failed_records(streams, batch)

    # THEN the records still there come in order and the trimmed ones are reported by number
    assert [sequence(record) for record in found.records] == [sequence(r) for r in records[:1000] + records[1050:]]
    assert found.trimmed == [SequenceRange(int(sequence(records[1000])), int(sequence(records[1050])) - 1)]
    assert streams.iterator_requests[-1]["ShardIteratorType"] == "TRIM_HORIZON"


def test_a_range_past_the_end_of_the_stream_reports_what_is_missing(table: Table) -> None:
    records = table.write(3)
    last = int(sequence(records[-1]))
    batch = FailedBatch(table.stream_arn, table.shard_id, int(sequence(records[1])), last + 5, 4)

    found = read_failed_records(table.streams, batch)

    assert [sequence(record) for record in found.records] == [sequence(r) for r in records[1:]]
    assert found.trimmed == [SequenceRange(last + 1, last + 5)]


def test_a_handler_that_still_fails_keeps_the_message_and_exits_1(
    aws: None, table: Table, dynamodb_local: DynamoDBLocal, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a failed batch of 3 records in the queue, and a handler that reports the second one failed again
    records = table.write(3)
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(on_failure_record(table, sequence(records[0]), sequence(records[2]), 3)),
    )
    handler_module = tmp_path / f"partial_handler_{uuid.uuid4().hex[:8]}.py"
    handler_module.write_text(
        "def handler(event, context):\n"
        "    return {'batchItemFailures': [{'itemIdentifier': event['Records'][1]['dynamodb']['SequenceNumber']}]}\n"
    )

    # WHEN the CLI redrives it with --delete
    exit_code = run_redrive(
        cli(
            "--queue-url", queue_url, "--handler", f"{handler_module.stem}:handler", "--code-dir", str(tmp_path),
            "--dynamodb-endpoint", dynamodb_local.endpoint_url, "--delete",
        )
    )  # fmt: skip

    # THEN it exits 1, says which record failed (and the one after it, which Lambda would redeliver), keeps the message
    assert exit_code == 1
    line = capsys.readouterr().out.strip()
    assert line.endswith(f"delivered 3, failed 2, trimmed 0 (batchItemFailures: {sequence(records[1])})")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_a_handler_that_raises_is_reported_not_raised(table: Table) -> None:
    records = table.write(2)

    def failing(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("still broken")

    result = redrive(batch_of(table, records[0], records[1], 2), in_process(failing), streams_client=table.streams)

    assert (result.delivered, result.failed, result.error) == (2, 2, "RuntimeError: still broken")


@pytest.mark.parametrize(
    ("response", "failed"),
    [(None, 0), ({"batchItemFailures": []}, 0), ({"batchItemFailures": [{"itemIdentifier": ""}]}, 2),
     ({"batchItemFailures": [{"itemidentifier": "1"}]}, 2)],
    ids=["null", "empty-list", "empty-identifier", "misspelt-key"],
)  # fmt: skip
def test_partial_batch_responses_count_as_lambda_counts_them(table: Table, response: Any, failed: int) -> None:
    records = table.write(2)

    result = redrive(
        batch_of(table, records[0], records[1], 2), in_process(Recorder(response)), streams_client=table.streams
    )

    assert result.failed == failed


def test_the_command_users_type_redrives_a_queue_into_a_handler_in_process(
    table: Table, dynamodb_local: DynamoDBLocal, moto_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN Lambda's record of a failed batch of two records in an SQS queue, and a handler in ./handler/app.py
    records = table.write(2)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing")  # fmt: skip
    queue_url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(on_failure_record(table, sequence(records[0]), sequence(records[1]), 2)),
    )
    (tmp_path / "handler").mkdir()
    (tmp_path / "handler" / "app.py").write_text(
        "import json, pathlib\n"
        "def handler(event, context):\n"
        "    pathlib.Path('seen.json').write_text(json.dumps(event))\n"
    )
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_SQS": moto_endpoint,
        "PYTHONPATH": str(ROOT),
    }

    # WHEN the user runs the command the README gives, from the directory that holds the handler
    done = subprocess.run(
        [sys.executable, "-m", "constructs_pkg.local", "redrive", "--queue-url", queue_url, "--handler",
         "app:handler", "--code-dir", "handler", "--dynamodb-endpoint", dynamodb_local.endpoint_url],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip

    # THEN it ran the handler on the batch's records (the dispatch once called the --handler string instead)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("re-read 2, delivered 2, failed 0, trimmed 0")
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == json.loads(json.dumps(lambda_event(records, table.stream_arn)))


def test_the_cli_requires_a_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_redrive(cli("--handler", "json:dumps")) == 2
    assert "give --queue-url" in capsys.readouterr().err


# --- helpers ------------------------------------------------------------------------------------------------------


def batch_of(table: Table, first: dict[str, Any], last: dict[str, Any], size: int) -> FailedBatch:
    return parse_failure_message(on_failure_record(table, sequence(first), sequence(last), size))


def cli(*arguments: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="redrive")
    add_redrive_arguments(parser)
    return parser.parse_args(arguments)
