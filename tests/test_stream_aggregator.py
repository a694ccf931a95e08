"""StreamAggregator: its synth-time checks, its handler's reading of items, and end to end on DynamoDB Local through the
local runner, with throttling on the way and every batch redriven again in random order, against a recomputation."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Match, Template
from conftest import new_stack, synth_like_app
from dynamodb_local import DynamoDBLocal, StreamReader, lambda_event

from constructs_pkg import AggregateFilter, GroupBy, Measure, StreamAggregator
from constructs_pkg.local.aggregates import compare
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.reindex import scanned_items
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, running_moto_server
from constructs_pkg.local.stubs.dynamodb_proxy import DynamoDBProxy
from lambda_src.contract import AggregatorEnv
from lambda_src.stream_aggregator.marks import AggregateWriter, GroupUpdate, OverlapError
from lambda_src.stream_aggregator.spec import AggregationSpec, InvalidItemError, group_key

GROUP_BY = [GroupBy.attribute("store"), GroupBy.time_bucket("soldAt", "day")]
MEASURES = [Measure.count(name="sales"), Measure.sum("amount", name="total")]
STORES = [f"store-{number}" for number in range(5)]
WINDOW_SECONDS = 3
DAYS = ["2026-11-28T10:00:00", "2026-11-29T23:59:59Z", 1_764_460_800, "2026-11-30T12:00:00+02:00"]


def _sales_table(stack: Stack, view: dynamodb.StreamViewType = dynamodb.StreamViewType.NEW_AND_OLD_IMAGES) -> Any:
    return dynamodb.Table(
        stack,
        "Sales",
        partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
        stream=view,
        removal_policy=RemovalPolicy.DESTROY,
    )


# --- synth time ---------------------------------------------------------------------------------------------------


def test_the_aggregator_creates_its_table_grants_it_and_names_each_shard_by_a_tumbling_window() -> None:
    stack = new_stack()
    aggregator = StreamAggregator(stack, "Agg", table=_sales_table(stack), group_by=GROUP_BY, measures=MEASURES)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "aggregate", "KeyType": "HASH"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"TumblingWindowInSeconds": 900, "BatchSize": 1000, "ParallelizationFactor": Match.absent()},
    )
    actions = {
        action
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert {"dynamodb:UpdateItem", "dynamodb:GetItem"} <= actions
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    spec = AggregationSpec.from_json(function["Properties"]["Environment"]["Variables"][AggregatorEnv.SPEC])
    assert spec == aggregator.spec and spec.measure_names == ("sales", "total")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"group_by": []}, r"group_by needs at least one GroupBy"),
        ({"measures": []}, r"measures needs at least one Measure"),
        ({"group_by": [GroupBy.time_bucket("at", "week")]}, r"time bucket must be one of hour, day, month, got 'week'"),
        ({"measures": [Measure.count(name="store")]}, r"distinct, got store twice"),
        ({"measures": [Measure.count(name="aggregate")]}, r"aggregate are reserved"),
        ({"parallelization_factor": 2}, r"parallelization_factor must be 1, got 2"),
        ({"tumbling_window": Duration.seconds(0)}, r"tumbling_window must be at least 1 second"),
        ({"mark_retention": Duration.hours(2)}, r"mark_retention must be at least 24 hours"),
        ({"max_concurrency": 0}, r"max_concurrency must be between"),
    ],
)
def test_bad_arguments_are_refused_at_synth(arguments: dict[str, Any], message: str) -> None:
    stack = new_stack()
    settings: dict[str, Any] = {"group_by": GROUP_BY, "measures": MEASURES, **arguments}
    with pytest.raises(ValueError, match=message):
        StreamAggregator(stack, "Agg", table=_sales_table(stack), **settings)


def test_a_table_without_old_images_is_refused() -> None:
    stack = new_stack()
    table = _sales_table(stack, dynamodb.StreamViewType.NEW_IMAGE)
    with pytest.raises(ValueError, match=r"streams NEW_IMAGE; a MODIFY applies the new image minus the old one"):
        StreamAggregator(stack, "Agg", table=table, group_by=GROUP_BY, measures=MEASURES)


# --- the reading of items -----------------------------------------------------------------------------------------


def test_time_buckets_read_iso_strings_and_epoch_numbers_in_utc() -> None:
    spec = AggregationSpec((GroupBy.time_bucket("at", "hour"),), (Measure.count(),))
    assert spec.contribution({"at": "2026-11-30T01:30:00+02:00"}).group == ("2026-11-29T23",)  # type: ignore[union-attr]
    assert spec.contribution({"at": Decimal(1_764_460_800)}).group == ("2025-11-30T00",)  # type: ignore[union-attr]
    in_ms = AggregationSpec((GroupBy.time_bucket("at", "month", epoch_unit="milliseconds"),), (Measure.count(),))
    assert in_ms.contribution({"at": Decimal(1_764_460_800_123)}).group == ("2025-11",)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"soldAt": "2026-11-30", "amount": Decimal(1)}, "no group attribute store"),
        ({"store": "s", "soldAt": "yesterday", "amount": Decimal(1)}, "time attribute soldAt is not a time"),
        ({"store": "s", "soldAt": "2026-11-30", "amount": "12.50"}, "summed attribute amount is a str, not a number"),
        ({"store": "s", "soldAt": "2026-11-30"}, "summed attribute amount is missing"),
    ],
)
def test_an_invalid_item_is_named_with_its_reason(item: dict[str, Any], reason: str) -> None:
    spec = AggregationSpec(tuple(GROUP_BY), tuple(MEASURES))
    with pytest.raises(InvalidItemError, match=reason):
        spec.contribution(item)


def test_sums_are_exact_decimals_and_group_keys_never_collide() -> None:
    spec = AggregationSpec((GroupBy.attribute("g"),), (Measure.sum("x"),), AggregateFilter.equals("kind", "sale"))
    total = spec.zero
    for _ in range(10):
        contribution = spec.contribution({"g": "a", "x": Decimal("0.1"), "kind": "sale"})
        assert contribution is not None
        total = spec.add(total, contribution.values)
    assert total == (Decimal("1.0"),)
    assert spec.contribution({"g": "a", "x": Decimal(1), "kind": "refund"}) is None
    assert group_key(["a|b"]) != group_key(["a", "b"]) and group_key([Decimal("1.0")]) == group_key([Decimal(1)])
    assert group_key(["1"]) != group_key([Decimal(1)])


# --- end to end ---------------------------------------------------------------------------------------------------


class AggregationTestStack(Stack):
    def __init__(self, scope: Any, id: str) -> None:
        super().__init__(scope, id)
        table = _sales_table(self)
        StreamAggregator(
            self,
            "Agg",
            table=table,
            group_by=GROUP_BY,
            measures=MEASURES,
            item_filter=AggregateFilter.exists("store"),
            batch_size=60,
        )


class WindowedAggregationStack(Stack):
    def __init__(self, scope: Any, id: str) -> None:
        super().__init__(scope, id)
        StreamAggregator(self, "Agg", table=_sales_table(self), group_by=GROUP_BY, measures=MEASURES, batch_size=50,
                         tumbling_window=Duration.seconds(WINDOW_SECONDS), flush_per_window=True)  # fmt: skip


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    AggregationTestStack(app, "AggregationTest")
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def windowed_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    WindowedAggregationStack(app, "WindowedAggregationTest")
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


def _random_sales(client: Any, table: str, rng: random.Random, count: int) -> None:
    for _ in range(count):
        key = {"PK": {"S": f"SALE#{rng.randrange(500):03d}"}}
        action = rng.random()
        if action < 0.15:
            client.delete_item(TableName=table, Key=key)
        elif action < 0.65:
            day = rng.choice(DAYS)
            sold_at = {"N": str(day)} if isinstance(day, int) else {"S": day}
            amount = f"{rng.randrange(1, 100_000)}.{rng.randrange(100):02d}"
            item = {**key, "store": {"S": rng.choice(STORES)}, "soldAt": sold_at, "amount": {"N": amount}}
            client.put_item(TableName=table, Item=item)
        elif action < 0.85:
            # A move to another store: the sale leaves one group for another.
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #store = :store",
                ExpressionAttributeNames={"#store": "store"},
                ExpressionAttributeValues={":store": {"S": rng.choice(STORES)}},
            )
        else:
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET amount = :amount",
                ExpressionAttributeValues={":amount": {"N": f"{rng.randrange(1, 1000)}.5"}},
            )


def _recomputed(items: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, Decimal]]:
    """Sales and totals per store and day, written out independently of the handler's spec."""
    from datetime import UTC, datetime

    totals: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for item in items:
        store, sold_at, amount = item.get("store"), item.get("soldAt"), item.get("amount")
        if not isinstance(store, str) or not isinstance(amount, Decimal) or sold_at is None:
            continue
        try:
            if isinstance(sold_at, Decimal):
                instant = datetime.fromtimestamp(int(sold_at), UTC)
            else:
                parsed = datetime.fromisoformat(sold_at)
                instant = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except ValueError:
            continue
        key = (store, instant.strftime("%Y-%m-%d"))
        count, total = totals.get(key, (0, Decimal(0)))
        totals[key] = (count + 1, total + amount)
    return totals


def _stored(items: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, Decimal]]:
    return {
        (item["store"], item["day"]): (int(item["sales"]), item["total"])
        for item in items
        if item["sales"] != 0 or item["total"] != 0
    }


def test_random_sales_keep_exact_aggregates_through_throttling_and_a_full_redrive_in_random_order(
    assembly: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    rng = random.Random(20261202)
    app = LocalApp.from_assembly(assembly)
    with DynamoDBProxy(dynamodb_local.endpoint_url) as proxy:
        proxy.throttle("UpdateItem", every=5)
        runner = _started(app, dynamodb_local, moto_endpoint, proxy, "aggregation-")
        source = _named(runner, "Sales")
        target = _named(runner, "Aggregates")
        client = runner.dynamodb_client

        # GIVEN random sales, moves between stores, corrections and deletes over 500 items, and poison records
        # (an amount that is text, a time no bucket can read) that must count as nothing, on both sides
        poison = {"PK": {"S": "SALE#POISON"}, "store": {"S": STORES[0]}, "soldAt": {"S": "2026-11-28"}}
        client.put_item(TableName=source, Item={**poison, "amount": {"S": "twelve"}})
        client.put_item(TableName=source, Item={**poison, "PK": {"S": "SALE#BADTIME"}, "amount": {"N": "1"},
                                                "soldAt": {"S": "last tuesday"}})  # fmt: skip
        for _ in range(4):
            _random_sales(client, source, rng, 400)
            runner.run_until_idle(timeout=120, quiet_seconds=0.5)
        client.put_item(TableName=source, Item={**poison, "amount": {"N": "12"}})
        stats = runner.run_until_idle(timeout=120, quiet_seconds=0.5)

        # THEN the aggregates equal the recomputation from the table, and throttling was met and overcome
        source_items = list(scanned_items(client, source))
        expected = _recomputed(source_items)
        assert len(expected) == len(STORES) * len(DAYS) and proxy.throttled > 0
        assert _stored(list(scanned_items(client, target))) == expected
        spec = AggregationSpec(tuple(GROUP_BY), tuple(MEASURES), AggregateFilter.exists("store"))
        assert compare(spec, source_items, scanned_items(client, target)) == []

        # WHEN every batch delivered is redriven again, in random order, half of them without their shardId
        stream_arn = client.describe_table(TableName=source)["Table"]["LatestStreamArn"]
        records = StreamReader(runner.streams_client, stream_arn).read()
        by_sequence = {int(record["dynamodb"]["SequenceNumber"]): record for record in records}
        batches = [(call.shard_id, [by_sequence[number] for number in call.sequence_numbers]) for call in
                   stats.invocations if call.sequence_numbers]  # fmt: skip
        rng.shuffle(batches)
        (function,) = (mapping.function_logical_id for mapping in app.mappings)
        invoke = runner.invoker(function)
        for index, (shard_id, batch) in enumerate(batches):
            event = lambda_event(batch, stream_arn)
            if index % 2:
                event["shardId"] = shard_id
            assert invoke(event)["batchItemFailures"] == []

        # THEN nothing was counted twice
        assert _stored(list(scanned_items(client, target))) == expected


def _started(app: LocalApp, database: DynamoDBLocal, moto: str, proxy: DynamoDBProxy, prefix: str) -> LocalRunner:
    """A runner whose functions reach DynamoDB Local through ``proxy``, its tables created and its mappings started."""
    runner = LocalRunner(app, LocalEndpoints.with_moto(database.endpoint_url, moto), table_prefix=prefix,
                         environment_overrides={"AWS_ENDPOINT_URL_DYNAMODB": proxy.url})  # fmt: skip
    runner.create_tables()
    runner.start()
    return runner


def _named(runner: LocalRunner, logical_prefix: str) -> str:
    (name,) = (name for logical_id, name in runner.table_names.items() if logical_id.startswith(logical_prefix) or
               logical_prefix in logical_id)  # fmt: skip
    return name


def test_with_flush_per_window_each_group_is_written_once_a_window_and_stays_exact_through_throttling(
    windowed_assembly: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    rng = random.Random(7)
    app = LocalApp.from_assembly(windowed_assembly)
    with DynamoDBProxy(dynamodb_local.endpoint_url) as proxy:
        proxy.throttle("UpdateItem", every=4)
        runner = _started(app, dynamodb_local, moto_endpoint, proxy, "windowed-")
        source, target = _named(runner, "Sales"), _named(runner, "Aggregates")
        client = runner.dynamodb_client

        # GIVEN two windows' worth of random sales, moves and deletes, batches of 50 within each window
        for _ in range(2):
            _random_sales(client, source, rng, 300)
            runner.run_until_idle(timeout=120, quiet_seconds=0.5)
            time.sleep(WINDOW_SECONDS + 0.5)
            stats = runner.run_until_idle(timeout=120, quiet_seconds=0.5)

        # THEN the aggregates are exact, and each window wrote each group it touched once (throttled writes aside)
        assert _stored(list(scanned_items(client, target))) == _recomputed(list(scanned_items(client, source)))
        finals = [call for call in stats.invocations if not call.sequence_numbers]
        groups = len(STORES) * len(DAYS)
        assert proxy.throttled > 0 and len(finals) >= 2
        assert proxy.count("UpdateItem", target) <= len(finals) * groups


# --- the marks, on DynamoDB Local ----------------------------------------------------------------------------------


@pytest.fixture
def writer(dynamodb_local: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AggregateWriter, Any]]:
    from lambda_src.providers.aws import AwsClient

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint_url)
    for name, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    client = dynamodb_local.client()
    table = f"marks-{random.randrange(10**9)}"
    client.create_table(TableName=table, KeySchema=[{"AttributeName": "aggregate", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "aggregate", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")  # fmt: skip
    spec = AggregationSpec((GroupBy.attribute("store"),), (Measure.count(),))
    aws = AwsClient("dynamodb", retryable_codes=(), max_connections=1)
    yield AggregateWriter(spec, table, aws, mark_retention_seconds=86_400, clock=lambda: 1_000_000.0), client


def _count(client: Any, writer: AggregateWriter) -> tuple[int, str]:
    item = client.get_item(TableName=writer.table, Key={"aggregate": {"S": "s1"}}, ConsistentRead=True)["Item"]
    return int(item["count"]["N"]), item["mark:shard-1"]["S"]


def _update(*sequences: int, covers_from: int | None = None) -> GroupUpdate:
    return GroupUpdate("s1", {"store": "s1"}, [(sequence, (Decimal(1),)) for sequence in sequences], covers_from)


def test_a_retry_from_any_point_adds_only_the_records_above_the_mark(writer: tuple[AggregateWriter, Any]) -> None:
    aggregates, client = writer
    forever = lambda: 30.0  # noqa: E731

    # GIVEN records 100, 200, 300 applied, WHEN a retry brings 200 to 400 and a redrive the first batch again
    assert aggregates.apply(_update(100, 200, 300), "shard-1", forever) == 1
    assert aggregates.apply(_update(200, 300, 400), "shard-1", forever) == 1
    assert aggregates.apply(_update(100, 200, 300), "shard-1", forever) == 0

    # THEN each record counts once, and the mark names the last
    count, mark = _count(client, aggregates)
    assert count == 4 and mark == f"{400:040d}@1000000"


def test_a_windows_sums_are_applied_whole_or_not_at_all(writer: tuple[AggregateWriter, Any]) -> None:
    aggregates, client = writer
    forever = lambda: 30.0  # noqa: E731
    window = GroupUpdate("s1", {"store": "s1"}, [(300, (Decimal(3),))], covers_from=100)

    assert aggregates.apply(window, "shard-1", forever) == 1
    assert aggregates.apply(window, "shard-1", forever) == 0  # a retried final invocation
    assert _count(client, aggregates)[0] == 3
    # A mark inside the next window's records (a redrive wrote record 350) cannot be split: it is refused, unwritten.
    aggregates.apply(_update(350), "shard-1", forever)
    with pytest.raises(OverlapError, match=r"its mark \(350\) lies inside the window's records \(320 to 400\)"):
        aggregates.apply(GroupUpdate("s1", {"store": "s1"}, [(400, (Decimal(2),))], covers_from=320), "shard-1",
                         forever)  # fmt: skip
    assert _count(client, aggregates)[0] == 4
