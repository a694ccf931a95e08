"""End to end: the BasicFlow and Notifications examples synthesized with bundling, their tables in DynamoDB Local, the
local stream runner carrying the streams to the bundled handlers in-process, on-failure messages in moto's SQS and
notices in moto's SNS on loopback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from conftest import synth_like_app
from dynamodb_local import DynamoDBLocal, StreamReader

from constructs_pkg.local.__main__ import main
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.dynamodb_local import local_client
from constructs_pkg.local.redrive import RedriveResult, messages_from_sqs, redrive_messages
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, RunStats, running_moto_server
from examples.notifications.stack import NotificationsStack

ORDERS = "OrdersTable1F8332C7"
SUMMARIES = "OrderSummaries85FA0D07"


@pytest.fixture(scope="module")
def basic_flow(basic_flow_outdir: Path) -> LocalApp:
    return LocalApp.from_assembly(basic_flow_outdir, ["BasicFlow"])


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


def _runner(app: LocalApp, database: DynamoDBLocal, sqs_endpoint: str, prefix: str) -> LocalRunner:
    return LocalRunner(app, LocalEndpoints.with_moto(database.endpoint_url, sqs_endpoint), table_prefix=prefix)


def _summaries(runner: LocalRunner) -> dict[str, dict[str, Any]]:
    items = runner.dynamodb_client.scan(TableName=runner.table_names[SUMMARIES], ConsistentRead=True)["Items"]
    return {item["orderId"]["S"]: item for item in items}


def _order(customer: str, order: str, status: str, lines: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "PK": {"S": f"CUSTOMER#{customer}"},
        "SK": {"S": f"ORDER#{order}"},
        "status": {"S": status},
        "lines": {"L": [{"M": {"price": {"S": price}, "quantity": {"N": quantity}}} for price, quantity in lines]},
    }


def test_reads_the_assembly(basic_flow: LocalApp) -> None:
    (mapping,) = basic_flow.mappings
    function = basic_flow.functions[mapping.function_logical_id]
    assert mapping.table_logical_id == ORDERS
    assert (mapping.batch_size, mapping.maximum_retry_attempts, mapping.maximum_record_age_seconds) == (100, 10, 21600)
    assert mapping.report_batch_item_failures and mapping.bisect_batch_on_function_error
    assert mapping.filter_patterns == ({"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ORDER#"}]}}}},)
    assert mapping.on_failure is not None and mapping.on_failure.kind == "sqs"
    assert basic_flow.tables[ORDERS].stream_view_type == "NEW_AND_OLD_IMAGES"
    assert function.handler == "app.handler" and function.code_dir is not None
    assert (function.code_dir / "app.py").is_file()
    assert [Path(layer).name for layer in function.layer_dirs] == ["python"]
    assert (function.layer_dirs[0] / "lambda_src" / "stream_runtime").is_dir()
    assert function.environment["SUMMARY_TABLE_NAME"].logical_id == SUMMARIES  # type: ignore[union-attr]


def test_basic_flow_inserts_modifies_and_removes_summaries(
    basic_flow: LocalApp, dynamodb_local: DynamoDBLocal, sqs_endpoint: str
) -> None:
    # GIVEN the BasicFlow tables and two orders plus a customer profile in Orders
    runner = _runner(basic_flow, dynamodb_local, sqs_endpoint, "flow-")
    runner.create_tables()
    orders = runner.table_names[ORDERS]
    client = runner.dynamodb_client
    client.put_item(TableName=orders, Item=_order("1", "A", "NEW", [("10.50", "2"), ("1", "1")]))
    client.put_item(TableName=orders, Item=_order("1", "B", "NEW", []))
    client.put_item(TableName=orders, Item={"PK": {"S": "CUSTOMER#1"}, "SK": {"S": "PROFILE"}, "name": {"S": "Ada"}})

    # WHEN the runner carries the stream to the handler
    stats = runner.run_until_idle(timeout=30)

    # THEN each order has its summary, and the profile never reached the handler
    summaries = _summaries(runner)
    assert sorted(summaries) == ["A", "B"]
    assert summaries["A"]["total"] == {"N": "22"} and summaries["A"]["lineCount"] == {"N": "2"}
    assert stats.records_filtered_out == 1
    assert not any("PROFILE" in key for invocation in stats.invocations for key in invocation.keys)

    # WHEN an order is shipped and the other deleted
    client.update_item(
        TableName=orders,
        Key={"PK": {"S": "CUSTOMER#1"}, "SK": {"S": "ORDER#A"}},
        UpdateExpression="SET #status = :shipped",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":shipped": {"S": "SHIPPED"}},
    )
    client.delete_item(TableName=orders, Key={"PK": {"S": "CUSTOMER#1"}, "SK": {"S": "ORDER#B"}})
    runner.run_until_idle(timeout=30)

    # THEN the MODIFY and the REMOVE reach the summaries
    summaries = _summaries(runner)
    assert sorted(summaries) == ["A"]
    assert summaries["A"]["status"] == {"S": "SHIPPED"}
    assert stats.on_failure_messages == [] and stats.failed_invocations == 0


def test_a_poison_record_goes_to_the_on_failure_queue_and_is_redriven_once_the_handler_is_fixed(
    basic_flow: LocalApp, dynamodb_local: DynamoDBLocal, sqs_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN 99 writes (33 orders, three versions each, interleaved) and, in the middle, one order whose price the
    # example handler cannot read as a number
    runner = _runner(basic_flow, dynamodb_local, sqs_endpoint, "poison-")
    runner.create_tables()
    orders = runner.table_names[ORDERS]
    client = runner.dynamodb_client
    for version in range(3):
        for order in range(33):
            if version == 1 and order == 17:
                client.put_item(TableName=orders, Item=_order("9", "POISON", "NEW", [("not-a-number", "1")]))
            client.put_item(TableName=orders, Item=_order("7", f"{order:02}", f"V{version}", [(str(order), "1")]))
    written = StreamReader(runner.streams_client, _stream_arn(runner)).read()
    assert len(written) == 100
    (poison,) = [record for record in written if record["dynamodb"]["Keys"]["SK"]["S"] == "ORDER#POISON"]
    last_sequence = {
        record["dynamodb"]["Keys"]["SK"]["S"].removeprefix("ORDER#"): record["dynamodb"]["SequenceNumber"]
        for record in written
    }

    # WHEN the runner carries the stream with the example's configuration (10 retries, bisect, partial responses)
    stats = runner.run_until_idle(timeout=60)

    # THEN the other 99 are processed: every order's summary is its last version, the poison order has none
    summaries = _summaries(runner)
    assert len(summaries) == 33 and "POISON" not in summaries
    for order, summary in summaries.items():
        assert summary["status"] == {"S": "V2"}
        assert int(summary["sourceSequence"]["N"]) == int(last_sequence[order])
    assert stats.records_succeeded == 99 and stats.records_discarded == 1

    # AND the poison record's place in the stream reaches the queue after bisection and 10 retries
    queue_url = runner.on_failure_destinations[basic_flow.mappings[0].logical_id]
    sqs = local_client(sqs_endpoint, "sqs")
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    (message,) = [json.loads(entry["Body"]) for entry in received["Messages"]]
    sequence = poison["dynamodb"]["SequenceNumber"]
    arrival = poison["dynamodb"]["ApproximateCreationDateTime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert message["DDBStreamBatchInfo"] == {
        "shardId": message["DDBStreamBatchInfo"]["shardId"],
        "startSequenceNumber": sequence,
        "endSequenceNumber": sequence,
        "approximateArrivalOfFirstRecord": arrival,
        "approximateArrivalOfLastRecord": arrival,
        "batchSize": 1,
        "streamArn": _stream_arn(runner),
    }
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    # Bisection halves the failing batch down to the poison record alone, then the 10 retries follow.
    from_poison = [invocation for invocation in stats.invocations if invocation.sequence_numbers[0] == int(sequence)]
    assert [len(invocation.sequence_numbers) for invocation in from_poison].count(1) == 1 + 10
    assert message["requestContext"]["approximateInvokeCount"] == len(from_poison)
    assert message["DDBStreamBatchInfo"]["shardId"] in {invocation.shard_id for invocation in from_poison}
    assert message["requestContext"]["functionArn"].endswith(":function:OrdersTriggerFunctionA1BFF0B6")
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert message["version"] == "1.0" and message["timestamp"].endswith("Z")

    # AND no item's changes were first delivered out of order
    _assert_in_order_per_item(stats)

    # WHEN the handler is fixed (lines whose price is not a number are left out) and the queue redriven through it
    fixed = _fixed_handler_app(basic_flow, tmp_path)
    invoke = _runner(fixed, dynamodb_local, sqs_endpoint, "poison-").invoker(basic_flow.mappings[0].function_logical_id)
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=received["Messages"][0]["ReceiptHandle"], VisibilityTimeout=0
    )
    results = list(
        redrive_messages(
            messages_from_sqs(sqs, queue_url, delete_after=True),
            invoke,
            streams_client_for=lambda _arn: runner.streams_client,
        )
    )

    # THEN the poison record, re-read from the stream, gets its summary, and its message is deleted
    (result,) = [result for _message, result in results]
    assert isinstance(result, RedriveResult) and result.succeeded and result.reread == 1
    poison_summary = _summaries(runner)["POISON"]
    assert poison_summary["lineCount"] == {"N": "0"} and int(poison_summary["sourceSequence"]["N"]) == int(sequence)
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []) == []

    # WHEN the whole stream is delivered again (at least once delivery), by a second runner from TRIM_HORIZON
    before = _summaries(runner)
    again = _runner(basic_flow, dynamodb_local, sqs_endpoint, "poison-").run_until_idle(timeout=60)

    # THEN the handler's conditional writes leave every summary as it was (the unfixed handler fails the poison again)
    assert again.records_succeeded == 99
    assert _summaries(runner) == before


def _fixed_handler_app(app: LocalApp, workdir: Path) -> LocalApp:
    """``app`` with the BasicFlow handler fixed: a copy of its code whose summaries leave out unreadable prices."""
    (mapping,) = app.mappings
    spec = app.functions[mapping.function_logical_id]
    assert spec.code_dir is not None
    fixed_dir = workdir / "fixed-handler"
    shutil.copytree(spec.code_dir, fixed_dir)
    with (fixed_dir / "app.py").open("a") as code:
        code.write(_PRICE_FIX)
    return replace(app, functions={**app.functions, spec.logical_id: replace(spec, code_dir=fixed_dir)})


# Appended to the handler module: handle() looks summarize up at call time, so this definition replaces the original.
_PRICE_FIX = """

_unfixed_summarize = summarize


def summarize(order, sequence_number):
    lines = [line for line in order.get("lines") or [] if str(line.get("price", 0)).replace(".", "", 1).isdigit()]
    return _unfixed_summarize({**order, "lines": lines}, sequence_number)
"""


def _stream_arn(runner: LocalRunner) -> str:
    table = runner.dynamodb_client.describe_table(TableName=runner.table_names[ORDERS])["Table"]
    return str(table["LatestStreamArn"])


def _assert_in_order_per_item(stats: RunStats) -> None:
    first_deliveries: dict[str, list[int]] = {}
    seen: set[int] = set()
    for invocation in stats.invocations:
        for key, sequence in zip(invocation.keys, invocation.sequence_numbers, strict=True):
            if sequence not in seen:
                seen.add(sequence)
                first_deliveries.setdefault(key, []).append(sequence)
    assert len(seen) == 100
    for sequences in first_deliveries.values():
        assert sequences == sorted(sequences)


def test_the_cli_runs_a_synthesized_assembly_until_idle(
    basic_flow_outdir: Path, dynamodb_local: DynamoDBLocal, sqs_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["run", "--app", str(basic_flow_outdir), "--stack", "BasicFlow", "--dynamodb-endpoint",
         dynamodb_local.endpoint_url, "--sqs-endpoint", sqs_endpoint, "--table-prefix", "cli-", "--until-idle", "0.5"]
    )  # fmt: skip

    out = capsys.readouterr().out
    assert status == 0
    assert "created tables: cli-OrderSummaries85FA0D07, cli-OrdersTable1F8332C7" in out
    assert "mapping OrdersTriggerEventSourceMapping11A898CB: cli-OrdersTable1F8332C7 stream -> app.handler" in out
    assert out.rstrip().endswith("0 sent to on-failure destinations")


@pytest.fixture(scope="module")
def notifications(tmp_path_factory: pytest.TempPathFactory) -> LocalApp:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    NotificationsStack(app, "Notifications")
    app.synth()
    return LocalApp.from_assembly(outdir, ["Notifications"])


def test_notifications_publish_one_welcome_per_new_user_and_one_notice_per_shipped_order(
    notifications: LocalApp, dynamodb_local: DynamoDBLocal, sqs_endpoint: str
) -> None:
    # GIVEN the Notifications stack running on moto (its topic created from the template), a queue subscribed to the
    # topic to see what the handlers publish
    runner = _runner(notifications, dynamodb_local, sqs_endpoint, "notify-")
    runner.create_tables()
    runner.start()
    assert runner.resources is not None
    (topic_arn,) = [
        created.ref for created in runner.resources.created.values() if created.ref.startswith("arn:aws:sns:")
    ]
    sqs, sns = local_client(sqs_endpoint, "sqs"), local_client(sqs_endpoint, "sns")
    queue_url = sqs.create_queue(QueueName="notify-reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])

    # WHEN a user signs up and changes their name, and an order is created, shipped, then changed again
    (table,) = runner.table_names.values()
    client = runner.dynamodb_client
    user = {"PK": {"S": "USER#1"}, "SK": {"S": "PROFILE"}}
    client.put_item(TableName=table, Item={**user, "email": {"S": "ada@example.com"}, "name": {"S": "Ada"}})
    client.put_item(TableName=table, Item={**user, "email": {"S": "ada@example.com"}, "name": {"S": "Ada L."}})
    order = {"PK": {"S": "CUSTOMER#1"}, "SK": {"S": "ORDER#A"}}
    for status, note in (("NEW", ""), ("SHIPPED", ""), ("SHIPPED", "left at the door")):
        client.put_item(TableName=table, Item={**order, "status": {"S": status}, "note": {"S": note}})
    stats = runner.run_until_idle(timeout=30)

    # THEN exactly one welcome and one shipping notice were published, and nothing failed
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    notices = sorted(
        (
            json.loads(entry["Body"])["MessageAttributes"]["kind"]["Value"],
            json.loads(json.loads(entry["Body"])["Message"]),
        )
        for entry in received.get("Messages", [])
    )
    assert notices == [
        ("shipping", {"orderId": "A", "customer": "CUSTOMER#1", "status": "SHIPPED"}),
        ("welcome", {"userId": "1", "email": "ada@example.com", "name": "Ada"}),
    ]
    assert stats.failed_invocations == 0 and stats.on_failure_messages == []
