"""Overhead of the local stream runner against DynamoDB Local serving the same stream reads with no runner, and how
many invocations a permanent poison record costs before the stream moves past it.

What is measured first: the wall time (``time.perf_counter``) to carry one stream of 10,000 INSERT records, in one
process:

- Runner. A ``LocalRunner`` over a stack holding one ``StreamTriggeredTable`` (its defaults: batches of 100 from
  TRIM_HORIZON, bisection, partial batch responses, no filter), synthesized with bundling on as ``cdk synth`` does,
  whose handler does nothing. Timed from ``run_until_idle`` (which places the mapping, loads the handler, and polls)
  to the end of the pass in which the 10,000th record was checkpointed, as the ``progress`` callback sees it; the
  quiet period the runner waits for afterwards is not counted.
- Baseline. The stream reads a consumer cannot do without, with boto3 alone on the same client: DescribeStream,
  GetShardIterator (TRIM_HORIZON) per shard, parents first, then GetRecords (1,000 a call, the API's most) until all
  10,000 records are read.

DynamoDB Local is started by the benchmark (constructs_pkg.local's launcher); the items (a key and a short string)
are written with BatchWriteItem, 25 a call, before anything is timed. Both sides read the same stream of one table,
each from TRIM_HORIZON with its own iterators and checkpoints (a new runner each round): a stream read changes
nothing in the stream, so every round reads the same records from the same shards. Each run is checked: 10,000
records read, and through the runner 10,000 delivered with nothing filtered, failed or discarded.

One warm-up of each side keeps imports, connection set-up and DynamoDB Local's JIT out of the numbers; then the
rounds alternate which side goes first, and each side's median is reported, then ``runner overhead ratio: X``
(runner / bare stream reads); the bar is X <= 1.25.

Then a poison record: 100 INSERTs into a second ``StreamTriggeredTable`` with its defaults (batches of 100, bisection,
partial batch responses, 10 retries, an SQS on-failure queue, on moto's server started here), one of which makes the
handler (``lambda_src.stream_runtime.process_stream_batch`` around a record handler) raise ``PermanentError``. A
runner carries the stream until quiet; the last line is ``invocations past a permanent poison record: N``, N being the
invocations until the shard's checkpoint is past the poison record (the last one that delivered it), checked to have
left every other record processed. The bar is N <= 2: a final failure is not worth the retries a transient one gets.

Run from the repository root: ``python -m benchmarks.local_runner`` (needs Java 17 for DynamoDB Local, which
``python -m constructs_pkg.local setup`` installs, and Node.js for jsii).
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_

from constructs_pkg import StreamTriggeredTable
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.dynamodb_local import running_dynamodb_local
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, RunStats, running_moto_server

__all__ = ["main"]

RECORDS = 10_000
# Odd, for a true median.
ROUNDS = 5
BUDGET = 1.25
STACK = "LocalRunnerBench"
POISON_STACK = "LocalRunnerPoisonBench"
POISON_RECORDS = 100
POISON_INDEX = 50
POISON_BUDGET = 2
# BatchWriteItem takes at most 25 items a call:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
_WRITE_BATCH = 25
# GetRecords returns at most 1,000 records a call, the runner's page too:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
_READ_PAGE = 1000
_TIMEOUT_SECONDS = 300.0
_POISON_QUIET_SECONDS = 1.0
_NO_OP_HANDLER = "def handler(event, context):\n    return None\n"
_POISON_HANDLER = """from lambda_src.stream_runtime import PermanentError, process_stream_batch


def handler(event, context):
    return process_stream_batch(event, context, handle)


def handle(record):
    if record.new_image.get("poison"):
        raise PermanentError(f"record {record.sequence_number} can never be processed")
"""


class _Delivered(Exception):
    """Raised from the progress callback once every record is checkpointed, so the quiet period is not waited out."""


def synthesize(outdir: Path, scratch: Path) -> tuple[LocalApp, LocalApp]:
    """The benchmark's two stacks (the no-op handler's, the poison record's), synthesized with bundling on (the layer
    copies lambda_src, no Docker)."""
    app = App(outdir=str(outdir), analytics_reporting=False, context={"aws:cdk:enable-asset-metadata": True})
    for stack_name, code in ((STACK, _NO_OP_HANDLER), (POISON_STACK, _POISON_HANDLER)):
        handler_dir = scratch / stack_name
        handler_dir.mkdir()
        (handler_dir / "app.py").write_text(code)
        StreamTriggeredTable(
            Stack(app, stack_name),
            "Items",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            code=lambda_.Code.from_asset(str(handler_dir)),
            handler="app.handler",
        )
    app.synth()
    return LocalApp.from_assembly(outdir, [STACK]), LocalApp.from_assembly(outdir, [POISON_STACK])


def write_items(client: Any, table_name: str) -> None:
    for start in range(0, RECORDS, _WRITE_BATCH):
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": {"PK": {"S": f"ITEM#{index:05}"}, "payload": {"S": f"value {index}"}}}}
            for index in range(start, min(start + _WRITE_BATCH, RECORDS))
        ]
        while requests:
            response = client.batch_write_item(RequestItems={table_name: requests})
            requests = response.get("UnprocessedItems", {}).get(table_name, [])


def read_stream(streams: Any, stream_arn: str) -> float:
    """Seconds for bare boto3 to read the whole stream from TRIM_HORIZON (DescribeStream, GetShardIterator and
    GetRecords)."""
    started = time.perf_counter()
    shards: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        description = streams.describe_stream(**arguments)["StreamDescription"]
        shards.extend(description["Shards"])
        if not description.get("LastEvaluatedShardId"):
            break
        arguments["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]
    read = 0
    # Parents before children, as any consumer that keeps each item's changes in order must.
    for shard in _parents_first(shards):
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator is not None and read < RECORDS:
            page = streams.get_records(ShardIterator=iterator, Limit=_READ_PAGE)
            read += len(page["Records"])
            iterator = page.get("NextShardIterator")
            # An open shard hands out iterators for ever: stop at the last record written.
            if read >= RECORDS:
                break
    elapsed = time.perf_counter() - started
    if read != RECORDS:  # Raised, not asserted: the check must hold under python -O too.
        raise AssertionError(f"the bare reads found {read} records, not {RECORDS}")
    return elapsed


def run_runner(app: LocalApp, endpoint_url: str) -> tuple[float, RunStats]:
    """Seconds for a new LocalRunner to carry the whole stream to the no-op handler, and its stats."""
    runner = LocalRunner(app, LocalEndpoints(endpoint_url))
    finished: list[float] = []

    def progress(stats: RunStats) -> None:
        if stats.records_succeeded >= RECORDS:
            finished.append(time.perf_counter())
            raise _Delivered

    started = time.perf_counter()
    with contextlib.suppress(_Delivered):
        runner.run_until_idle(_TIMEOUT_SECONDS, progress=progress)
    stats = runner.stats
    problems = (
        stats.records_read != RECORDS,
        stats.records_filtered_out,
        stats.failed_invocations,
        stats.records_discarded,
        stats.on_failure_messages,
    )
    if not finished or any(problems):
        raise AssertionError(f"the runner did not deliver {RECORDS} records cleanly: {stats.summary()}")
    return finished[0] - started, stats


def invocations_past_poison(app: LocalApp, endpoints: LocalEndpoints) -> int:
    """Invocations until the checkpoint of the poison stack's shard is past its poison record, over a new runner."""
    # Its table's logical id is the first stack's: a prefix keeps the two apart in one DynamoDB Local.
    runner = LocalRunner(app, endpoints, table_prefix="poison-")
    runner.create_tables()
    (table_name,) = runner.table_names.values()
    poison_key = f"ITEM#{POISON_INDEX:05}"
    # One write at a time: the stream keeps their order.
    for index in range(POISON_RECORDS):
        item = {"PK": {"S": f"ITEM#{index:05}"}, "payload": {"S": f"value {index}"}}
        if index == POISON_INDEX:
            item["poison"] = {"BOOL": True}
        runner.dynamodb_client.put_item(TableName=table_name, Item=item)
    # The runtime logs each failed record as a JSON line on stdout; the benchmark's own lines are what it prints.
    with contextlib.redirect_stdout(io.StringIO()):
        stats = runner.run_until_idle(_TIMEOUT_SECONDS, quiet_seconds=_POISON_QUIET_SECONDS)
    delivered_poison = [
        position
        for position, invocation in enumerate(stats.invocations, start=1)
        if any(keys["PK"]["S"] == poison_key for keys in invocation.item_keys)
    ]
    if not delivered_poison or stats.records_succeeded + stats.records_discarded != POISON_RECORDS:
        raise AssertionError(f"the poison stack's records were not all carried past: {stats.summary()}")
    if stats.records_succeeded < POISON_RECORDS - 1:
        raise AssertionError(f"records besides the poison one were not processed: {stats.summary()}")
    return delivered_poison[-1]


def _parents_first(shards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``shards`` in an order that reads every shard after its parent (a parent already trimmed counts as read)."""
    unread = {shard["ShardId"]: shard for shard in shards}
    ordered: list[dict[str, Any]] = []
    while unread:
        ready = [shard for shard in unread.values() if shard.get("ParentShardId") not in unread]
        ordered.extend(ready)
        for shard in ready:
            del unread[shard["ShardId"]]
    return ordered


def _timed(side: str, app: LocalApp, endpoint_url: str, stream_arn: str) -> tuple[float, RunStats | None]:
    # Each side starts with no garbage of the other's to collect, and collects none while it is timed.
    gc.collect()
    gc.disable()
    try:
        if side == "runner":
            return run_runner(app, endpoint_url)
        return read_stream(LocalRunner(app, LocalEndpoints(endpoint_url)).streams_client, stream_arn), None
    finally:
        gc.enable()


def main() -> None:
    # The first stack's on-failure queue is not emulated without an SQS endpoint, and no batch fails there: one
    # warning a runner would only interleave with the table; the poison's warnings, one an attempt, likewise.
    for logger in ("constructs_pkg.local.resources", "constructs_pkg.local.event_source_mapping"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    with (
        tempfile.TemporaryDirectory(prefix="local-runner-bench.") as scratch,
        running_dynamodb_local() as database,
    ):
        app, poison_app = synthesize(Path(scratch) / "cdk.out", Path(scratch))
        setup = LocalRunner(app, LocalEndpoints(database.endpoint_url))
        setup.create_tables()
        (table_name,) = setup.table_names.values()
        write_items(setup.dynamodb_client, table_name)
        stream_arn = setup.dynamodb_client.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        shards = len(setup.streams_client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"])
        print(f"DynamoDB Local started in {database.startup_seconds:.1f} s; {RECORDS} items written, {shards} shard(s)")

        sides = ["bare reads", "runner"]
        for side in sides:
            _timed(side, app, database.endpoint_url, stream_arn)
        timings: dict[str, list[float]] = {side: [] for side in sides}
        invocations = 0
        for round_index in range(ROUNDS):
            for side in sides if round_index % 2 == 0 else reversed(sides):
                elapsed, stats = _timed(side, app, database.endpoint_url, stream_arn)
                timings[side].append(elapsed)
                invocations = len(stats.invocations) if stats else invocations
        # moto's server (threads of this process) starts once the rounds are over, so that it is no part of them.
        with running_moto_server() as moto:
            endpoints = LocalEndpoints.with_moto(database.endpoint_url, moto)
            poison_invocations = invocations_past_poison(poison_app, endpoints)
    print(f"checked: every run read {RECORDS} records; the runner delivered them all in {invocations} invocations")
    medians = {side: statistics.median(values) for side, values in timings.items()}
    print(f"{RECORDS} records, median of {ROUNDS} rounds")
    print(f"{'side':<10}  {'median (s)':>10}  {'records/s':>9}  {'rounds (s)'}")
    for side in sides:
        rounds = " ".join(f"{value:.3f}" for value in timings[side])
        print(f"{side:<10}  {medians[side]:>10.3f}  {RECORDS / medians[side]:>9.0f}  {rounds}")
    print(f"bar: ratio <= {BUDGET:.2f}")
    print(f"runner overhead ratio: {medians['runner'] / medians['bare reads']:.2f}")
    print(f"{POISON_RECORDS} records, one failing with PermanentError; StreamTriggeredTable's defaults")
    print(f"bar: invocations <= {POISON_BUDGET}")
    print(f"invocations past a permanent poison record: {poison_invocations}")


if __name__ == "__main__":
    main()
