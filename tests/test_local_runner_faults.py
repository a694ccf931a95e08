"""The local runner's failure handling, on small stacks of StreamTriggeredTables around a scripted handler
(tests/handlers/scripted): record age, whole-batch failures, responses ignored without ReportBatchItemFailures, and
the SNS and S3 on-failure destinations, all on moto's server; environment references; tumbling windows."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from conftest import synth_like_app
from dynamodb_local import DynamoDBLocal

from constructs_pkg import StreamTriggeredTable
from constructs_pkg.local.assembly import LocalApp, MappingSpec
from constructs_pkg.local.dynamodb_local import local_client
from constructs_pkg.local.redrive import parse_failure_message
from constructs_pkg.local.resource_kinds import LOCAL_SECRET_VALUE
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, running_moto_server

SCRIPTED_HANDLER = Path(__file__).parent / "handlers" / "scripted"


def _triggered_table(stack: Stack, id: str, **options: Any) -> StreamTriggeredTable:
    return StreamTriggeredTable(
        stack,
        id,
        partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
        code=lambda_.Code.from_asset(str(SCRIPTED_HANDLER)),
        handler="app.handler",
        batch_size=10,
        **options,
    )


@pytest.fixture(scope="module")
def window_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("windows") / "calls.jsonl"


@pytest.fixture(scope="module")
def faults_app(tmp_path_factory: pytest.TempPathFactory, window_log: Path) -> LocalApp:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    stack = Stack(app, "RunnerFaults")
    _triggered_table(stack, "Partial", retry_attempts=2, bisect_batch_on_error=False)
    _triggered_table(stack, "Ignored", report_batch_item_failures=False)
    _triggered_table(stack, "Aged", max_record_age=Duration.seconds(60))
    _triggered_table(stack, "ToTopic", retry_attempts=0, on_failure=sns.Topic(stack, "FailureTopic"))
    _triggered_table(
        stack, "ToBucket", retry_attempts=0, bisect_batch_on_error=False, on_failure=s3.Bucket(stack, "FailureBucket")
    )
    StreamTriggeredTable(
        stack,
        "Windowed",
        partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
        code=lambda_.Code.from_asset(str(SCRIPTED_HANDLER)),
        handler="app.aggregate",
        environment={"WINDOW_LOG": str(window_log)},
        batch_size=2,
        retry_attempts=1,
        bisect_batch_on_error=False,
        tumbling_window=Duration.seconds(60),
    )
    queue, topic, secret = sqs.Queue(stack, "Work"), sns.Topic(stack, "Events"), secretsmanager.Secret(stack, "ApiKey")
    lambda_.Function(
        stack,
        "Environment",
        runtime=lambda_.Runtime.PYTHON_3_12,
        code=lambda_.Code.from_asset(str(SCRIPTED_HANDLER)),
        handler="app.environment",
        environment={
            "QUEUE_URL": queue.queue_url,
            "QUEUE_ARN": queue.queue_arn,
            "TOPIC_ARN": topic.topic_arn,
            "TOPIC_NAME": topic.topic_name,
            "SECRET_ARN": secret.secret_arn,
        },
    )
    app.synth()
    return LocalApp.from_assembly(outdir, ["RunnerFaults"])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


def _mapping(app: LocalApp, construct_id: str) -> MappingSpec:
    (mapping,) = [mapping for mapping in app.mappings if mapping.logical_id.startswith(construct_id)]
    return mapping


def _runner(app: LocalApp, database: DynamoDBLocal, moto_endpoint: str, prefix: str, **options: Any) -> LocalRunner:
    runner = LocalRunner(
        app, LocalEndpoints.with_moto(database.endpoint_url, moto_endpoint), table_prefix=prefix, **options
    )
    runner.create_tables()
    return runner


def _put(runner: LocalRunner, table_logical_id: str, *modes: str) -> list[str]:
    """One item a mode, in order; returns their sequence numbers as the stream numbers them."""
    table = runner.table_names[table_logical_id]
    for index, mode in enumerate(modes):
        runner.dynamodb_client.put_item(TableName=table, Item={"PK": {"S": f"item-{index}"}, "mode": {"S": mode}})
    stream_arn = runner.dynamodb_client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = runner.streams_client
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert len(records) == len(modes)
    return [record["dynamodb"]["SequenceNumber"] for record in records]


def _queued(runner: LocalRunner, mapping: MappingSpec) -> list[dict[str, Any]]:
    assert runner.endpoints is not None
    answer = runner.endpoints.client("sqs").receive_message(
        QueueUrl=runner.on_failure_destinations[mapping.logical_id], MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    return [json.loads(message["Body"]) for message in answer.get("Messages", [])]


def test_records_older_than_the_maximum_age_go_to_the_on_failure_queue_uninvoked(
    faults_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    # GIVEN three records in the Aged table (MaximumRecordAgeInSeconds 60), read by a runner whose clock is 2 minutes on
    runner = _runner(faults_app, dynamodb_local, moto_endpoint, "aged-", clock=lambda: time.time() + 120)
    mapping = _mapping(faults_app, "Aged")
    assert mapping.maximum_record_age_seconds == 60
    sequences = _put(runner, mapping.table_logical_id, "ok", "ok", "ok")

    # WHEN the runner carries the stream
    stats = runner.run_until_idle(timeout=30)

    # THEN the handler never sees them: the whole batch reaches the queue as RecordAgeExceeded, with its range
    assert [invocation for invocation in stats.invocations if invocation.mapping == mapping.logical_id] == []
    (message,) = _queued(runner, mapping)
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences[0],
        sequences[-1],
        3,
    )
    assert "functionError" not in message["responseContext"]
    assert stats.records_discarded == 3 and stats.records_succeeded == 0


def test_an_empty_item_identifier_fails_the_whole_batch(
    faults_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    # GIVEN a batch whose middle record answers with an empty itemIdentifier (retries 2, no bisection)
    runner = _runner(faults_app, dynamodb_local, moto_endpoint, "empty-id-")
    mapping = _mapping(faults_app, "Partial")
    sequences = _put(runner, mapping.table_logical_id, "ok", "fail-batch", "ok")

    # WHEN the runner carries the stream
    stats = runner.run_until_idle(timeout=30)

    # THEN every invocation (the first and 2 retries) failed from the batch's first record, and the whole batch is
    # discarded, the records before the empty identifier included
    invocations = [invocation for invocation in stats.invocations if invocation.mapping == mapping.logical_id]
    assert [(invocation.failed_from, len(invocation.sequence_numbers)) for invocation in invocations] == [(0, 3)] * 3
    (message,) = _queued(runner, mapping)
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    # The handler answered: no function error.
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences[0],
        sequences[-1],
        3,
    )
    assert stats.records_succeeded == 0 and stats.records_discarded == 3


def test_a_partial_batch_response_is_ignored_without_report_batch_item_failures(
    faults_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    # GIVEN a mapping without ReportBatchItemFailures and records its handler reports as failed
    runner = _runner(faults_app, dynamodb_local, moto_endpoint, "ignored-")
    mapping = _mapping(faults_app, "Ignored")
    assert not mapping.report_batch_item_failures
    _put(runner, mapping.table_logical_id, "fail-item", "fail-batch", "ok")

    # WHEN the runner carries the stream
    stats = runner.run_until_idle(timeout=30)

    # THEN Lambda's rule holds: the response is ignored, one invocation succeeds for all three
    invocations = [invocation for invocation in stats.invocations if invocation.mapping == mapping.logical_id]
    assert [(invocation.failed_from, len(invocation.sequence_numbers)) for invocation in invocations] == [(None, 3)]
    assert _queued(runner, mapping) == []
    assert stats.records_succeeded == 3 and stats.records_discarded == 0


def test_the_sns_destination_gets_the_invocation_record(
    faults_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    # GIVEN a mapping whose on-failure destination is an SNS topic, with an SQS queue subscribed to read it
    runner = _runner(faults_app, dynamodb_local, moto_endpoint, "topic-")
    mapping = _mapping(faults_app, "ToTopic")
    runner.start()
    topic_arn = runner.on_failure_destinations[mapping.logical_id]
    sqs_client, sns_client = local_client(moto_endpoint, "sqs"), local_client(moto_endpoint, "sns")
    queue_url = sqs_client.create_queue(QueueName="topic-reader")["QueueUrl"]
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns_client.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    # (written after the runner started: a page read may then split them, so one record)
    (sequence,) = _put(runner, mapping.table_logical_id, "fail-batch")

    # WHEN the runner carries the stream (no retries)
    runner.run_until_idle(timeout=30)

    # THEN one notification carries the invocation record, which the redrive tool reads
    answer = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    (notification,) = [json.loads(message["Body"]) for message in answer["Messages"]]
    assert notification["Type"] == "Notification" and notification["TopicArn"] == topic_arn
    batch = parse_failure_message(notification)
    assert (batch.start_sequence_number, batch.end_sequence_number) == (int(sequence), int(sequence))
    assert batch.condition == "RetryAttemptsExhausted" and batch.payload is None


def test_the_s3_destination_keeps_the_invocation_record_and_the_event(
    faults_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    # GIVEN a mapping whose on-failure destination is an S3 bucket
    runner = _runner(faults_app, dynamodb_local, moto_endpoint, "bucket-")
    mapping = _mapping(faults_app, "ToBucket")
    sequences = _put(runner, mapping.table_logical_id, "ok", "fail-batch")

    # WHEN the runner carries the stream (no retries)
    runner.run_until_idle(timeout=30)

    # THEN one object, under the documented key, holds the record and the event that failed
    s3_client = local_client(moto_endpoint, "s3")
    bucket = runner.on_failure_destinations[mapping.logical_id].removeprefix("s3://")
    (listed,) = s3_client.list_objects_v2(Bucket=bucket)["Contents"]
    body = json.loads(s3_client.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read())
    shard_id = body["DDBStreamBatchInfo"]["shardId"]
    key = rf"aws/lambda/[0-9a-f-]{{36}}/{re.escape(shard_id)}/\d{{4}}/\d{{2}}/\d{{2}}/[0-9T.-]+-[0-9a-f-]{{36}}"
    assert re.fullmatch(key, listed["Key"]), listed["Key"]
    assert [record["dynamodb"]["SequenceNumber"] for record in body["payload"]["Records"]] == sequences
    assert [record["dynamodb"]["NewImage"]["mode"] for record in body["payload"]["Records"]] == [
        {"S": "ok"},
        {"S": "fail-batch"},
    ]
    batch = parse_failure_message(body)
    assert batch.payload == body["payload"] and batch.batch_size == 2


def test_queues_topics_and_secrets_in_the_environment_are_created_on_moto(
    faults_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    # GIVEN a function whose environment refers to a queue, a topic and a generated secret of the stack
    runner = LocalRunner(
        faults_app, LocalEndpoints.with_moto(dynamodb_local.endpoint_url, moto_endpoint), table_prefix="env-"
    )
    (function_id,) = [logical_id for logical_id in faults_app.functions if logical_id.startswith("Environment")]

    # WHEN the function is invoked in-process
    names = ["QUEUE_URL", "QUEUE_ARN", "TOPIC_ARN", "TOPIC_NAME", "SECRET_ARN", "AWS_ENDPOINT_URL_SECRETS_MANAGER"]
    environment = runner.invoker(function_id)({"names": names})

    # THEN every reference names a resource the runner created on moto, reachable with the handler's endpoints
    assert set(environment) == set(names)
    sqs_client, sns_client = local_client(moto_endpoint, "sqs"), local_client(moto_endpoint, "sns")
    attributes = sqs_client.get_queue_attributes(QueueUrl=environment["QUEUE_URL"], AttributeNames=["QueueArn"])
    assert attributes["Attributes"]["QueueArn"] == environment["QUEUE_ARN"]
    assert environment["TOPIC_ARN"].endswith(":" + environment["TOPIC_NAME"])
    sns_client.get_topic_attributes(TopicArn=environment["TOPIC_ARN"])
    secret = local_client(moto_endpoint, "secretsmanager").get_secret_value(SecretId=environment["SECRET_ARN"])
    assert secret["SecretString"] == LOCAL_SECRET_VALUE


class _MovableClock:
    """The runner's wall clock, which a test moves on by setting ``ahead_seconds``."""

    def __init__(self) -> None:
        self.ahead_seconds = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead_seconds


def _window_calls(window_log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in window_log.read_text().splitlines()] if window_log.exists() else []


def test_a_tumbling_window_carries_its_state_and_ends_with_a_final_invocation(
    faults_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str, window_log: Path
) -> None:
    # GIVEN five records in the Windowed table (60 s windows, batches of 2) and an aggregating handler
    window_log.unlink(missing_ok=True)
    clock = _MovableClock()
    runner = _runner(faults_app, dynamodb_local, moto_endpoint, "window-", clock=clock)
    mapping = _mapping(faults_app, "Windowed")
    assert mapping.tumbling_window_seconds == 60
    table = runner.table_names[mapping.table_logical_id]
    for index in range(5):
        item = {"PK": {"S": f"item-{index}"}, "amount": {"N": str(index + 1)}, "mode": {"S": "ok"}}
        runner.dynamodb_client.put_item(TableName=table, Item=item)

    # WHEN the runner carries the stream, then its clock passes the windows' end
    runner.run_until_idle(timeout=30)
    clock.ahead_seconds = 120
    runner.poll_once()

    # THEN each window's invocations hand its state on, and a final invocation without records gets the whole sum
    calls = _window_calls(window_log)
    assert sum(call["records"] for call in calls) == 5 and all(call["records"] <= 2 for call in calls)
    finals = [call for call in calls if call["isFinalInvokeForWindow"]]
    assert {call["window"]["start"] for call in finals} == {call["window"]["start"] for call in calls}
    for final in finals:
        in_window = [call for call in calls if call["window"] == final["window"]]
        assert in_window[-1] is final and final["records"] == 0 and not final["early"]
        counted = 0
        for call in in_window:
            assert call["state"].get("count", 0) == counted
            counted += call["records"]
        start = datetime.fromisoformat(final["window"]["start"])
        assert datetime.fromisoformat(final["window"]["end"]) - start == timedelta(seconds=60)
        assert start.timestamp() % 60 == 0
    assert sum(final["state"]["total"] for final in finals) == 1 + 2 + 3 + 4 + 5
    assert len({call["shardId"] for call in calls}) == 1
    assert runner.stats.failed_invocations == 0


def test_a_windowed_response_without_state_fails_the_invocation(
    faults_app: LocalApp, dynamodb_local: DynamoDBLocal, moto_endpoint: str, window_log: Path
) -> None:
    # GIVEN a record the aggregating handler answers without state (retries 1, no bisection)
    window_log.unlink(missing_ok=True)
    runner = _runner(faults_app, dynamodb_local, moto_endpoint, "no-state-")
    mapping = _mapping(faults_app, "Windowed")
    sequences = _put(runner, mapping.table_logical_id, "no-state")

    # WHEN the runner carries the stream
    stats = runner.run_until_idle(timeout=30)

    # THEN the invocation counts as failed, is retried once, and the record reaches the on-failure queue
    invocations = [invocation for invocation in stats.invocations if invocation.mapping == mapping.logical_id]
    assert [(invocation.failed_from, invocation.error) for invocation in invocations] == [
        (0, "the response returned no state")
    ] * 2
    (message,) = _queued(runner, mapping)
    assert message["DDBStreamBatchInfo"]["startSequenceNumber"] == sequences[0]
