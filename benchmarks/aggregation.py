"""StreamAggregator against a naive handler that issues one ADD per record, through the local runner on DynamoDB Local.

One app, synthesized with bundling as ``cdk synth`` does: table ``Ours`` streams to a StreamAggregator (sales and
total per store and day), table ``Naive`` to a function of ``benchmarks/naive_aggregation`` that ADDs each record to
its group. Both mappings read batches of 1,000 (the aggregator's default). Each function reaches DynamoDB Local
through a counting proxy on loopback (``DynamoDBProxy``), which counts every write and stands in for the network.

The workload, written to each table before its side is timed: 10,000 sales over 50 groups (10 stores, 5 days). A
side's time runs from its first poll to the pass that processed its 10,000th record; sides alternate over the rounds.

Last lines: ``aggregate writes per 1000 records: N`` (ours; the naive side writes 1,000), ``aggregates exact: yes|no``
(ours against a recomputation from a scan of the table), ``aggregation speedup vs naive: X``. Bars: exact yes, X >= 4.

Run from the repository root: ``python -m benchmarks.aggregation`` (Java 17 and Node.js, as the tests need).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_

from constructs_pkg import GroupBy, Measure, StreamAggregator, StreamTrigger
from constructs_pkg.local.aggregates import compare
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.dynamodb_local import REGION, running_dynamodb_local
from constructs_pkg.local.endpoints import DUMMY_CREDENTIALS
from constructs_pkg.local.reindex import scanned_items
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, running_moto_server
from constructs_pkg.local.stubs.dynamodb_proxy import DynamoDBProxy
from lambda_src.contract import DEFAULT_AGGREGATOR_BATCH_SIZE

__all__ = ["main"]

SALES = 10_000
STORES = 10
DAYS = 5
ROUNDS = 3
NAIVE_CODE = Path(__file__).resolve().parent / "naive_aggregation"
GROUP_BY = [GroupBy.attribute("store"), GroupBy.time_bucket("soldAt", "day")]
MEASURES = [Measure.count(name="sales"), Measure.sum("amount", name="total")]


class BenchmarkStack(Stack):
    def __init__(self, scope: Any, id: str) -> None:
        super().__init__(scope, id)
        key = {
            "partition_key": dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            "stream": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            "removal_policy": RemovalPolicy.DESTROY,
        }
        ours = dynamodb.Table(self, "OursTable", **key)
        self.aggregator = StreamAggregator(self, "Ours", table=ours, group_by=GROUP_BY, measures=MEASURES)
        naive_target = dynamodb.Table(
            self,
            "NaiveAggregates",
            partition_key=dynamodb.Attribute(name="aggregate", type=dynamodb.AttributeType.STRING),
            removal_policy=RemovalPolicy.DESTROY,
        )
        naive = StreamTrigger(
            self,
            "Naive",
            table=dynamodb.Table(self, "NaiveTable", **key),
            code=lambda_.Code.from_asset(str(NAIVE_CODE)),
            handler="app.handler",
            environment={"NAIVE_AGGREGATES_TABLE": naive_target.table_name},
            batch_size=DEFAULT_AGGREGATOR_BATCH_SIZE,
        )
        naive_target.grant_read_write_data(naive.function)


def _write(client: Any, table: str, rng: random.Random) -> None:
    """The sales, 25 a BatchWriteItem: the workload is written before a side is timed, so only its size matters."""
    sales = [
        {
            "PK": {"S": f"SALE#{number:05d}"},
            "store": {"S": f"store-{rng.randrange(STORES)}"},
            "soldAt": {"S": f"2026-11-{20 + rng.randrange(DAYS):02d}T{rng.randrange(24):02d}:00:00"},
            "amount": {"N": f"{rng.randrange(1, 10_000)}.{rng.randrange(100):02d}"},
        }
        for number in range(SALES)
    ]
    for start in range(0, SALES, 25):
        requests = [{"PutRequest": {"Item": item}} for item in sales[start : start + 25]]
        while requests:
            answer = client.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])


def _records_of(runner: LocalRunner, prefix: str) -> int:
    return sum(
        len(call.sequence_numbers)
        for call in runner.stats.invocations
        if call.failed_from is None and call.mapping.startswith(prefix)
    )


def _timed(runner: LocalRunner, prefix: str) -> float:
    """Seconds from the first poll until the mapping (by logical id prefix) had processed its records."""
    started = time.perf_counter()
    while _records_of(runner, prefix) < SALES:
        if not runner.poll_once():
            time.sleep(0.01)
        if time.perf_counter() - started > 600:
            raise TimeoutError("the runner did not finish in 600 s")
    return time.perf_counter() - started


def main() -> None:
    os.environ.update({**DUMMY_CREDENTIALS, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION})
    logging.disable(logging.WARNING)
    with contextlib.ExitStack() as stack:
        outdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="cdk.out."))
        app = App(outdir=outdir, analytics_reporting=False, context={"aws:cdk:enable-asset-metadata": True})
        benchmark = BenchmarkStack(app, "AggregationBenchmark")
        app.synth()
        local = LocalApp.from_assembly(outdir)
        database = stack.enter_context(running_dynamodb_local())
        moto = stack.enter_context(running_moto_server())
        proxy = stack.enter_context(DynamoDBProxy(database.endpoint_url))
        timings: dict[str, list[float]] = {"Ours": [], "Naive": []}
        writes: dict[str, int] = {}
        exact = True
        for round_number in range(ROUNDS):
            runner = LocalRunner(
                local,
                LocalEndpoints.with_moto(database.endpoint_url, moto),
                table_prefix=f"bench{round_number}-",
                environment_overrides={"AWS_ENDPOINT_URL_DYNAMODB": proxy.url},
            )
            runner.create_tables()
            runner.start()
            tables = {
                logical_prefix: next(name for logical_id, name in runner.table_names.items()
                                     if logical_id.startswith(logical_prefix))
                for logical_prefix in ("OursTable", "NaiveTable", "OursAggregates", "NaiveAggregates")
            }  # fmt: skip
            order = list(timings) if round_number % 2 == 0 else list(reversed(timings))
            for side in order:
                _write(runner.dynamodb_client, tables[f"{side}Table"], random.Random(7))
                target = tables["OursAggregates" if side == "Ours" else "NaiveAggregates"]
                before = proxy.count("UpdateItem", target)
                with contextlib.redirect_stdout(io.StringIO()):
                    timings[side].append(_timed(runner, side))
                writes[side] = proxy.count("UpdateItem", target) - before
            differences = compare(
                benchmark.aggregator.spec,
                scanned_items(runner.dynamodb_client, tables["OursTable"]),
                scanned_items(runner.dynamodb_client, tables["OursAggregates"]),
            )
            exact = exact and not differences
        for side, values in timings.items():
            print(
                f"{side}: median {statistics.median(values):.3f} s over {ROUNDS} rounds "
                f"(min {min(values):.3f}, max {max(values):.3f}) for {SALES} sales, {writes[side]} writes"
            )
        speedup = statistics.median(timings["Naive"]) / statistics.median(timings["Ours"])
        print(f"naive writes per 1000 records: {writes['Naive'] * 1000 // SALES}")
        print(f"aggregate writes per 1000 records: {writes['Ours'] * 1000 / SALES:g}")
        print(f"aggregates exact: {'yes' if exact else 'no'}")
        print(f"aggregation speedup vs naive: {speedup:.1f}")


if __name__ == "__main__":
    main()
