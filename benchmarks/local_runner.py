"""Overhead of the local stream runner against DynamoDB Local serving the same stream reads with no runner.

What is measured: the wall time (``time.perf_counter``) to carry one stream of 10,000 INSERT records, in one process:

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
rounds alternate which side goes first, and each side's median is reported. The last line is ``runner overhead
ratio: X`` (runner / bare stream reads); the bar is X <= 1.5.

Run from the repository root: ``python -m benchmarks.local_runner`` (needs Java 17 for DynamoDB Local, which
scripts/install-dynamodb-local installs, and Node.js for jsii).
"""

from __future__ import annotations

import contextlib
import gc
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
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, RunStats

__all__ = ["main"]

RECORDS = 10_000
# Odd, for a true median.
ROUNDS = 5
BUDGET = 1.5
STACK = "LocalRunnerBench"
# BatchWriteItem takes at most 25 items a call:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
_WRITE_BATCH = 25
# GetRecords returns at most 1,000 records a call, the runner's page too:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
_READ_PAGE = 1000
_TIMEOUT_SECONDS = 300.0
_NO_OP_HANDLER = "def handler(event, context):\n    return None\n"


class _Delivered(Exception):
    """Raised from the progress callback once every record is checkpointed, so the quiet period is not waited out."""


def synthesize(outdir: Path, handler_dir: Path) -> LocalApp:
    """The benchmark's stack, synthesized with bundling on (the layer copies lambda_src, no Docker)."""
    (handler_dir / "app.py").write_text(_NO_OP_HANDLER)
    app = App(outdir=str(outdir), analytics_reporting=False, context={"aws:cdk:enable-asset-metadata": True})
    stack = Stack(app, STACK)
    StreamTriggeredTable(
        stack,
        "Items",
        partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
        code=lambda_.Code.from_asset(str(handler_dir)),
        handler="app.handler",
    )
    app.synth()
    return LocalApp.from_assembly(outdir, [STACK])


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
    # The stack's on-failure queue is not emulated without an SQS endpoint, and no batch fails here: one warning a
    # runner would only interleave with the table.
    logging.getLogger("constructs_pkg.local.resources").setLevel(logging.ERROR)
    with (
        tempfile.TemporaryDirectory(prefix="local-runner-bench.") as scratch,
        running_dynamodb_local() as database,
    ):
        outdir, handler_dir = Path(scratch) / "cdk.out", Path(scratch) / "handler"
        handler_dir.mkdir()
        app = synthesize(outdir, handler_dir)
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
    print(f"checked: every run read {RECORDS} records; the runner delivered them all in {invocations} invocations")
    medians = {side: statistics.median(values) for side, values in timings.items()}
    print(f"{RECORDS} records, median of {ROUNDS} rounds")
    print(f"{'side':<10}  {'median (s)':>10}  {'records/s':>9}  {'rounds (s)'}")
    for side in sides:
        rounds = " ".join(f"{value:.3f}" for value in timings[side])
        print(f"{side:<10}  {medians[side]:>10.3f}  {RECORDS / medians[side]:>9.0f}  {rounds}")
    print(f"bar: ratio <= {BUDGET:.2f}")
    print(f"runner overhead ratio: {medians['runner'] / medians['bare reads']:.2f}")


if __name__ == "__main__":
    main()
