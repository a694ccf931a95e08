"""How the local runner delivers a shard's records: the batching window and payload limit, shard lineage,
ParallelizationFactor, and the function's timeout.

MaximumBatchingWindowInSeconds runs against DynamoDB Local, on a monotonic clock the test moves by hand. Parent shards
before their children (and the rest) run on a scripted DynamoDB Streams double, because DynamoDB Local never splits a
shard. All use a LocalApp built in the test (one table, the scripted handler in tests/handlers/scripted, one mapping):
these tests are about the runner, and reading a synthesized template is covered in test_local_runner.py.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dynamodb_local import DynamoDBLocal, StreamReader, lambda_event

from constructs_pkg.local.assembly import FunctionSpec, LocalApp, MappingSpec, TableSpec
from constructs_pkg.local.dynamodb_local import REGION
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner

SCRIPTED_HANDLER = Path(__file__).parent / "handlers" / "scripted"
TABLE = "Items"
FUNCTION = "ItemsHandler"
MAPPING = "ItemsMapping"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:000000000000:table/{TABLE}/stream/2024-01-01T00:00:00.000"
# An invocation carries at most 6 MB, and a batch being gathered goes out once it reaches that much:
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024


def _app(*, environment: dict[str, str] | None = None, timeout_seconds: int = 3, **mapping_options: Any) -> LocalApp:
    """The Items table (NEW_IMAGE stream), the scripted handler (Lambda's default timeout of 3 s), and a mapping from
    TRIM_HORIZON with ``mapping_options`` over Lambda's defaults."""
    table = TableSpec(
        logical_id=TABLE,
        name=TABLE,
        key_schema=({"AttributeName": "PK", "KeyType": "HASH"},),
        attribute_definitions=({"AttributeName": "PK", "AttributeType": "S"},),
        stream_view_type="NEW_IMAGE",
    )
    function = FunctionSpec(
        FUNCTION,
        FUNCTION,
        "app.handler",
        SCRIPTED_HANDLER,
        environment=environment or {},
        timeout_seconds=timeout_seconds,
    )
    options = {"starting_position": "TRIM_HORIZON", **mapping_options}
    mapping = MappingSpec(MAPPING, TABLE, FUNCTION, **options)
    return LocalApp({TABLE: table}, {FUNCTION: function}, (mapping,))


def _delivered(runner: LocalRunner) -> list[tuple[str, ...]]:
    """Each invocation's records, by their PK, in the order they were delivered."""
    return [tuple(json.loads(key)["PK"]["S"] for key in invocation.keys) for invocation in runner.stats.invocations]


# MaximumBatchingWindowInSeconds, on DynamoDB Local


class _ManualClock:
    """Stands in for the mapping emulator module's ``time``: ``monotonic()`` moves only when the test advances it; the
    rest is the real module."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def manual_clock(monkeypatch: pytest.MonkeyPatch) -> _ManualClock:
    # The runner times the batching window (and its shard refresh) with time.monotonic, not with its injectable wall
    # clock, so the module's `time` is swapped: a loaded machine cannot then end a window early.
    clock = _ManualClock()
    monkeypatch.setattr("constructs_pkg.local.event_source_mapping.time", clock)
    return clock


def _window_runner(database: DynamoDBLocal, prefix: str, **mapping_options: Any) -> LocalRunner:
    runner = LocalRunner(_app(**mapping_options), LocalEndpoints(database.endpoint_url), table_prefix=prefix)
    runner.create_tables()
    return runner


def _put(runner: LocalRunner, *keys: str, blob: str = "") -> None:
    table = runner.table_names[TABLE]
    for key in keys:
        item = {"PK": {"S": key}, "mode": {"S": "ok"}}
        if blob:
            item["blob"] = {"S": blob}
        runner.dynamodb_client.put_item(TableName=table, Item=item)


def _poll_until_read(runner: LocalRunner, count: int) -> None:
    """Poll until the runner has read ``count`` records in all, while the manual clock stands still."""
    for _ in range(100):
        runner.poll_once()
        if runner.stats.records_read >= count:
            return
        # Real time, which the runner does not see: DynamoDB Local's stream may trail a write.
        time.sleep(0.05)
    pytest.fail(f"the runner read {runner.stats.records_read} records, not {count}")


def test_records_written_apart_within_the_batching_window_arrive_in_one_invocation(
    dynamodb_local: DynamoDBLocal, manual_clock: _ManualClock
) -> None:
    # GIVEN a mapping that gathers records for up to 5 s (BatchSize 10), started on an empty table
    runner = _window_runner(dynamodb_local, "window-gather-", batch_size=10, maximum_batching_window_seconds=5)
    runner.start()

    # WHEN three records are written 2 s apart, read by a pass after each write
    for index, key in enumerate(["a", "b", "c"]):
        if index:
            manual_clock.advance(2)
        _put(runner, key)
        _poll_until_read(runner, index + 1)

    # THEN nothing is invoked while the window, begun with the first record, is open
    assert runner.stats.invocations == []

    # WHEN the window runs out
    manual_clock.advance(1)
    runner.poll_once()

    # THEN the three records arrive in one invocation
    assert _delivered(runner) == [("a", "b", "c")]


def test_a_full_batch_is_invoked_without_waiting_for_the_window(
    dynamodb_local: DynamoDBLocal, manual_clock: _ManualClock
) -> None:
    # GIVEN a mapping with BatchSize 3 and a 300 s window (Lambda's maximum), and four records in its table
    runner = _window_runner(dynamodb_local, "window-full-", batch_size=3, maximum_batching_window_seconds=300)
    _put(runner, "a", "b", "c", "d")

    # WHEN the runner reads them, its clock standing still
    _poll_until_read(runner, 4)

    # THEN a full batch goes at once, and the fourth record waits for a window of its own
    assert _delivered(runner) == [("a", "b", "c")]

    # WHEN that window runs out
    manual_clock.advance(300)
    runner.poll_once()

    # THEN the fourth record is invoked alone
    assert _delivered(runner) == [("a", "b", "c"), ("d",)]


def test_a_batch_reaching_the_payload_limit_is_invoked_without_waiting_for_the_window(
    dynamodb_local: DynamoDBLocal, manual_clock: _ManualClock
) -> None:
    # GIVEN BatchSize 100, a 300 s window, and 20 items of 380 KB: 7.6 MB of records, more than one invocation carries
    runner = _window_runner(dynamodb_local, "window-payload-", batch_size=100, maximum_batching_window_seconds=300)
    _put(runner, *(f"item-{index:02}" for index in range(20)), blob="x" * 380_000)
    table = runner.dynamodb_client.describe_table(TableName=runner.table_names[TABLE])["Table"]
    written = StreamReader(runner.streams_client, table["LatestStreamArn"]).read()
    by_sequence = {int(record["dynamodb"]["SequenceNumber"]): record for record in written}

    def payload_bytes(sequence_numbers: tuple[int, ...]) -> int:
        records = [by_sequence[sequence] for sequence in sequence_numbers]
        return len(json.dumps(lambda_event(records, table["LatestStreamArn"])))

    # WHEN the runner reads them, its clock standing still
    _poll_until_read(runner, 20)

    # THEN a batch of at most 6 MB goes out before the window ends
    assert runner.stats.invocations, "nothing invoked before the window ended, with 7.6 MB gathered"

    # AND once the window runs out the rest follows: every record delivered once, in order, in batches of 6 MB or less
    manual_clock.advance(300)
    for _ in range(5):
        runner.poll_once()
    delivered = [invocation.sequence_numbers for invocation in runner.stats.invocations]
    assert [sequence for batch in delivered for sequence in batch] == sorted(by_sequence)
    assert all(payload_bytes(batch) <= PAYLOAD_LIMIT_BYTES for batch in delivered)


def test_the_next_batching_window_begins_when_the_previous_invocation_completes(
    dynamodb_local: DynamoDBLocal, manual_clock: _ManualClock
) -> None:
    # GIVEN a 5 s window whose first record was invoked when the window ran out
    runner = _window_runner(dynamodb_local, "window-next-", batch_size=10, maximum_batching_window_seconds=5)
    runner.start()
    _put(runner, "a")
    _poll_until_read(runner, 1)
    manual_clock.advance(5)
    runner.poll_once()
    assert _delivered(runner) == [("a",)]

    # WHEN a second record arrives 4 s after that invocation completed, and 1 s more passes
    manual_clock.advance(4)
    _put(runner, "b")
    _poll_until_read(runner, 2)
    manual_clock.advance(1)
    runner.poll_once()

    # THEN the window that began when the first invocation completed is over, and the second record is invoked
    assert _delivered(runner) == [("a",), ("b",)]


# Parent shards before their children, on a scripted stream


@dataclass
class _ScriptedShard:
    shard_id: str
    parent_id: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False


class _ScriptedStreams:
    """DynamoDB Streams' DescribeStream, GetShardIterator and GetRecords over shards the test scripts: it appends
    records, closes a shard and adds its child, as a real stream splits a shard
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html#Streams.Processing).

    Shards are described in the order of ``shards``; an iterator is ``<shard id>/<index of the next record>``; a
    closed shard's last page has no NextShardIterator.
    """

    # Where boto3 puts a client's errors, which the runner catches by name.
    class exceptions:
        class TrimmedDataAccessException(Exception):
            pass

    def __init__(self, *shards: _ScriptedShard) -> None:
        self.shards = list(shards)

    def shard(self, shard_id: str) -> _ScriptedShard:
        (shard,) = [shard for shard in self.shards if shard.shard_id == shard_id]
        return shard

    def describe_stream(self, *, StreamArn: str, **_paging: Any) -> dict[str, Any]:
        assert StreamArn == STREAM_ARN
        described = []
        for shard in self.shards:
            sequence_range = {"StartingSequenceNumber": shard.records[0]["dynamodb"]["SequenceNumber"]}
            if shard.closed:
                sequence_range["EndingSequenceNumber"] = shard.records[-1]["dynamodb"]["SequenceNumber"]
            lineage = {"ParentShardId": shard.parent_id} if shard.parent_id else {}
            described.append({"ShardId": shard.shard_id, "SequenceNumberRange": sequence_range, **lineage})
        return {"StreamDescription": {"StreamArn": StreamArn, "StreamStatus": "ENABLED", "Shards": described}}

    def get_shard_iterator(
        self, *, StreamArn: str, ShardId: str, ShardIteratorType: str, SequenceNumber: str | None = None
    ) -> dict[str, Any]:
        assert StreamArn == STREAM_ARN
        sequences = [record["dynamodb"]["SequenceNumber"] for record in self.shard(ShardId).records]
        position = {
            "TRIM_HORIZON": lambda: 0,
            "LATEST": lambda: len(sequences),
            "AT_SEQUENCE_NUMBER": lambda: sequences.index(SequenceNumber),
            "AFTER_SEQUENCE_NUMBER": lambda: sequences.index(SequenceNumber) + 1,
        }[ShardIteratorType]()
        return {"ShardIterator": f"{ShardId}/{position}"}

    def get_records(self, *, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:
        shard_id, _, position = ShardIterator.rpartition("/")
        shard = self.shard(shard_id)
        start = int(position)
        records = shard.records[start : start + Limit]
        page: dict[str, Any] = {"Records": records}
        end = start + len(records)
        if not (shard.closed and end >= len(shard.records)):
            page["NextShardIterator"] = f"{shard_id}/{end}"
        return page


class _TableWithStream:
    """DescribeTable for the Items table, whose stream is the scripted one."""

    def describe_table(self, *, TableName: str) -> dict[str, Any]:
        return {"Table": {"TableName": TableName, "LatestStreamArn": STREAM_ARN}}


def _record(sequence: int, key: str, mode: str = "ok") -> dict[str, Any]:
    """An INSERT as boto3's GetRecords returns it from a NEW_IMAGE stream."""
    return {
        "eventID": f"event-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": datetime.now(UTC),
            "Keys": {"PK": {"S": key}},
            "NewImage": {"PK": {"S": key}, "mode": {"S": mode}},
            "SequenceNumber": str(sequence),
            "SizeBytes": 40,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def _scripted_runner(streams: _ScriptedStreams, **app_options: Any) -> LocalRunner:
    # The endpoint is never called: both clients are replaced before the mapping starts.
    runner = LocalRunner(_app(**app_options), LocalEndpoints("http://127.0.0.1:9"))
    runner.dynamodb_client = _TableWithStream()
    runner.streams_client = streams
    return runner


def _poll_until_settled(runner: LocalRunner) -> None:
    """Poll until a pass neither reads nor invokes anything."""
    for _ in range(20):
        if not runner.poll_once():
            return
    pytest.fail(f"still busy after 20 passes: {runner.stats.summary()}")


def _by_shard(runner: LocalRunner) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (invocation.shard_id, keys)
        for invocation, keys in zip(runner.stats.invocations, _delivered(runner), strict=True)
    ]


def test_a_chain_of_shards_listed_youngest_first_is_delivered_oldest_first() -> None:
    # GIVEN a closed grandparent and a closed parent, each with three records, and their open child with two; the
    # stream lists the child first and the grandparent last (DescribeStream promises no order)
    streams = _ScriptedStreams(
        _ScriptedShard("child", "parent", [_record(300, "c1"), _record(301, "c2")]),
        _ScriptedShard("parent", "grandparent", [_record(200, "p1"), _record(201, "p2"), _record(202, "p3")], True),
        _ScriptedShard("grandparent", None, [_record(100, "g1"), _record(101, "g2"), _record(102, "g3")], True),
    )
    runner = _scripted_runner(streams, batch_size=2)

    # WHEN the runner carries the stream from TRIM_HORIZON
    _poll_until_settled(runner)

    # THEN each shard's records are delivered, and only once its parent's have all been
    assert _by_shard(runner) == [
        ("grandparent", ("g1", "g2")),
        ("grandparent", ("g3",)),
        ("parent", ("p1", "p2")),
        ("parent", ("p3",)),
        ("child", ("c1", "c2")),
    ]


def _split(streams: _ScriptedStreams, parent_id: str, *last_records: dict[str, Any]) -> _ScriptedShard:
    """Close ``parent_id`` after ``last_records`` and add its child, listed first; returns the child."""
    parent = streams.shard(parent_id)
    parent.records += last_records
    parent.closed = True
    child = _ScriptedShard(f"{parent_id}-child", parent_id)
    streams.shards.insert(0, child)
    return child


def test_a_closed_parent_read_to_its_end_hands_over_to_its_child(manual_clock: _ManualClock) -> None:
    # GIVEN a mapping from LATEST on a stream of one open shard, one record old, started before two more arrive
    streams = _ScriptedStreams(_ScriptedShard("parent", None, [_record(100, "old")]))
    runner = _scripted_runner(streams, starting_position="LATEST", batch_size=10)
    runner.start()
    streams.shard("parent").records += [_record(101, "p1"), _record(102, "p2")]
    _poll_until_settled(runner)
    assert _by_shard(runner) == [("parent", ("p1", "p2"))]

    # WHEN the shard splits after a last record, and its child holds two records before the runner sees it
    child = _split(streams, "parent", _record(103, "p3"))
    child.records += [_record(200, "c1"), _record(201, "c2")]
    # (the runner describes the stream again once a second has passed)
    manual_clock.advance(1)
    _poll_until_settled(runner)

    # THEN the parent's last record comes first, then the child's records from its start (a shard found after the
    # mapping started is read from TRIM_HORIZON, whatever the starting position)
    assert _by_shard(runner) == [("parent", ("p1", "p2")), ("parent", ("p3",)), ("parent-child", ("c1", "c2"))]


def test_a_child_waits_while_its_parents_failing_batch_is_retried(manual_clock: _ManualClock) -> None:
    # GIVEN a running mapping (2 retries, no bisection, no on-failure destination) on one open shard, which then
    # splits after a record that makes the handler raise, its child already holding two records
    streams = _ScriptedStreams(_ScriptedShard("parent", None, [_record(100, "p1")]))
    runner = _scripted_runner(streams, environment={"POISON_MODES": "poison"}, maximum_retry_attempts=2)
    runner.start()
    child = _split(streams, "parent", _record(101, "p2", "poison"), _record(102, "p3"))
    child.records += [_record(200, "c1"), _record(201, "c2")]

    # WHEN the runner sees the split and carries the stream
    manual_clock.advance(1)
    _poll_until_settled(runner)

    # THEN the parent's failing batch is invoked three times and discarded before the child's first delivery
    outcomes = [
        (invocation.shard_id, keys, invocation.failed_from)
        for invocation, keys in zip(runner.stats.invocations, _delivered(runner), strict=True)
    ]
    assert outcomes == [
        ("parent", ("p1",), None),
        *[("parent", ("p2", "p3"), 0)] * 3,
        ("parent-child", ("c1", "c2"), None),
    ]
    (message,) = runner.stats.on_failure_messages
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["DDBStreamBatchInfo"]["shardId"] == "parent"
    assert (runner.stats.records_discarded, runner.stats.records_succeeded) == (2, 3)


class _RunawayPass(Exception):
    """Raised by a test's clock to end a pass that would otherwise never return."""


def test_a_batch_that_keeps_failing_stalls_only_its_own_shard() -> None:
    # GIVEN two sibling shards, one whose record makes the handler raise, with unbounded retries; the runner's clock
    # (read once an invocation, for the record age) ends a pass after 100 invocations
    streams = _ScriptedStreams(
        _ScriptedShard("stalled", None, [_record(100, "s1", "poison")]),
        _ScriptedShard("flowing", None, [_record(200, "f1"), _record(201, "f2")]),
    )
    runner = _scripted_runner(streams, environment={"POISON_MODES": "poison"}, maximum_record_age_seconds=3600)
    clock_reads = 0

    def clock() -> float:
        nonlocal clock_reads
        clock_reads += 1
        if clock_reads > 100:
            raise _RunawayPass
        return time.time()

    runner.clock = clock

    # WHEN the runner makes five passes
    try:
        for _ in range(5):
            runner.poll_once()
    except _RunawayPass:
        pytest.fail(f"a pass did not return after 100 invocations: {runner.stats.summary()}")

    # THEN the sibling's records are delivered while the failing record is retried, neither discarded nor expired
    assert ("flowing", ("f1", "f2")) in _by_shard(runner)
    stalled = [invocation for invocation in runner.stats.invocations if invocation.shard_id == "stalled"]
    assert len(stalled) >= 2 and all(invocation.failed_from == 0 for invocation in stalled)
    assert runner.stats.records_discarded == 0


# ParallelizationFactor, on a scripted stream


def test_with_a_parallelization_factor_a_failing_item_holds_up_its_own_lane_only() -> None:
    # GIVEN ParallelizationFactor 10, two retries, no bisection, and one open shard: a poison change to item x, then
    # one change each to items a to f, then a good change to x
    others = ["a", "b", "c", "d", "e", "f"]
    records = [_record(100, "x", "poison")]
    records += [_record(101 + index, key) for index, key in enumerate(others)]
    records.append(_record(120, "x"))
    streams = _ScriptedStreams(_ScriptedShard("shard", None, records))
    runner = _scripted_runner(
        streams, environment={"POISON_MODES": "poison"}, maximum_retry_attempts=2, parallelization_factor=10
    )

    # WHEN the runner carries the stream
    _poll_until_settled(runner)

    # THEN x's two changes, in one batch of x's lane, are tried three times and discarded together...
    deliveries = [
        (keys, invocation.failed_from)
        for invocation, keys in zip(runner.stats.invocations, _delivered(runner), strict=True)
    ]
    x_batches = [index for index, (keys, _) in enumerate(deliveries) if "x" in keys]
    assert [deliveries[index] for index in x_batches] == [(("x", "x"), 0)] * 3
    (batch_info,) = [message["DDBStreamBatchInfo"] for message in runner.stats.on_failure_messages]
    assert (batch_info["startSequenceNumber"], batch_info["endSequenceNumber"]) == ("100", "120")
    # ... while other items' changes, in other lanes, were delivered before x's retries were over
    delivered_before_discard = {key for keys, _ in deliveries[: x_batches[2]] for key in keys} - {"x"}
    assert delivered_before_discard
    # ... and every other change is delivered once
    assert sorted(key for keys, failed in deliveries if failed is None for key in keys) == others
    assert (runner.stats.records_succeeded, runner.stats.records_discarded) == (len(others), 2)


# The function's timeout, on a scripted stream


def test_an_invocation_that_runs_past_the_timeout_fails_as_a_timed_out_lambda_call() -> None:
    # GIVEN a function with a 1 s timeout, no retries and no bisection, and a record whose handling takes longer
    streams = _ScriptedStreams(_ScriptedShard("shard", None, [_record(100, "slow", "sleep-1.2")]))
    runner = _scripted_runner(streams, timeout_seconds=1, maximum_retry_attempts=0)

    # WHEN the runner carries the stream
    _poll_until_settled(runner)

    # THEN the call counts as a function error, Task timed out, and the record goes to the on-failure destination
    (invocation,) = runner.stats.invocations
    assert invocation.failed_from == 0 and "Task timed out after 1.00 seconds" in str(invocation.error)
    (message,) = runner.stats.on_failure_messages
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"


# The event a handler gets is its own


_EVENT_CHANGING_HANDLER = """import json, os


def handler(event, context):
    with open(os.environ["SEEN"], "a") as seen:
        seen.write(json.dumps(event["Records"][0]["dynamodb"]["NewImage"]) + "\\n")
    event["Records"][0]["dynamodb"]["NewImage"]["mode"]["S"] = "changed by the handler"
    event["Records"].clear()
    raise ValueError("fails once it has changed its event")
"""


def test_a_handler_that_changes_its_event_changes_nothing_a_retry_delivers(tmp_path: Path) -> None:
    # GIVEN a handler that changes the event it gets and then fails, with one retry
    seen = tmp_path / "seen.jsonl"
    app = _app(environment={"SEEN": str(seen)}, maximum_retry_attempts=1)
    spec = app.functions[FUNCTION]
    changing = dataclasses.replace(spec, handler="index.handler", code_dir=None, inline_code=_EVENT_CHANGING_HANDLER)
    runner = LocalRunner(dataclasses.replace(app, functions={FUNCTION: changing}), LocalEndpoints("http://127.0.0.1:9"))
    runner.dynamodb_client = _TableWithStream()
    runner.streams_client = _ScriptedStreams(_ScriptedShard("only", None, [_record(100, "a", "original")]))

    # WHEN the runner carries the stream
    _poll_until_settled(runner)

    # THEN the retry got the record as the stream holds it, as a new payload would carry it
    images = [json.loads(line) for line in seen.read_text().splitlines()]
    assert images == [{"PK": {"S": "a"}, "mode": {"S": "original"}}] * 2
    assert runner.stats.records_discarded == 1
