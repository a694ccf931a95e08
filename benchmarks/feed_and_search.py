"""RealtimeFeed and SearchIndexer against naive handlers, through the local runner with the loopback stubs.

One app, synthesized with bundling as ``cdk synth`` does: table ``Ours`` streams to a RealtimeFeed (channel
``/bench/{PK}``) and a SearchIndexer; table ``Naive`` streams to two functions of ``benchmarks/naive_feed_and_search``
that publish one event per record and send one index or delete request per record, signed and checked the same way.
Both sides run with the RealtimeFeed's default batch size (1,000 records) on DynamoDB Local;
the Events API and OpenSearch stubs answer every request after ``LATENCY_SECONDS`` (a network round trip in a Region).

The workload, written to each table before its side is timed: 1,000 changes (puts and updates, 1 in 10 a delete) of
400 items over 10 channels (``room0``..``room9``), so several changes share a channel. A side's time runs from its
first poll to the pass that processed its 1,000th record. Rounds alternate sides; medians and spreads are reported.

Counted per 1,000 changes: the feed's publish requests N against the floor M = the sum over channels of ceil(events /
5) (events: the messages it published on the channel; one publish serves one channel), and the indexer's requests S.
Last lines: ``feed publishes per 1000 changes: N (minimum M)``, ``search requests per 1000 changes: S``, ``feed speedup
vs naive: X``, ``search speedup vs naive: Y``. Bars: N <= 1.1 M, X >= 3, Y >= 4.

Run from the repository root: ``python -m benchmarks.feed_and_search`` (Java 17 and Node.js, as the tests need).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_

from constructs_pkg import RealtimeFeed, SearchIndexer, StreamTrigger
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.dynamodb_local import REGION, running_dynamodb_local
from constructs_pkg.local.endpoints import DUMMY_CREDENTIALS
from constructs_pkg.local.providers import local_providers
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, running_moto_server
from lambda_src.contract import DEFAULT_FEED_BATCH_SIZE

__all__ = ["main"]

CHANGES = 1_000
ITEMS = 400
CHANNELS = 10
LATENCY_SECONDS = 0.005
ROUNDS = 3
NAIVE_CODE = Path(__file__).resolve().parent / "naive_feed_and_search"


class BenchmarkStack(Stack):
    def __init__(self, scope: Any, id: str) -> None:
        super().__init__(scope, id)
        key = {
            "partition_key": dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            "sort_key": dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            "stream": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            "removal_policy": RemovalPolicy.DESTROY,
        }
        # One table per mapping, so that each is timed alone.
        names = ("Feed", "Search", "NaiveFeed", "NaiveSearch")
        tables = {name: dynamodb.Table(self, f"{name}Table", **key) for name in names}
        batches = {"batch_size": DEFAULT_FEED_BATCH_SIZE}
        feed = RealtimeFeed(self, "Feed", table=tables["Feed"], channel="/bench/{PK}", **batches)
        indexer = SearchIndexer(self, "Search", table=tables["Search"], index="ours", **batches)
        assert indexer.domain is not None
        code = lambda_.Code.from_asset(str(NAIVE_CODE))
        naive = {
            "NaiveFeed": ("app.feed", "NAIVE_FEED_ENDPOINT", feed.api.http_dns),
            "NaiveSearch": ("app.search", "NAIVE_SEARCH_ENDPOINT", indexer.domain.domain_endpoint),
        }
        for name, (handler, variable, endpoint) in naive.items():
            StreamTrigger(
                self, name, table=tables[name], code=code, handler=handler, environment={variable: endpoint}, **batches
            )


def _write(client: Any, table: str, rng: random.Random) -> None:
    live: set[int] = set()
    for _ in range(CHANGES):
        item = rng.randrange(ITEMS)
        key = {"PK": {"S": f"room{item % CHANNELS}"}, "SK": {"S": f"ITEM#{item:04d}"}}
        if item in live and rng.random() < 0.1:
            client.delete_item(TableName=table, Key=key)
            live.discard(item)
        else:
            client.put_item(TableName=table, Item={**key, "text": {"S": f"change {rng.randrange(10**6)}"}})
            live.add(item)


def _records_of(runner: LocalRunner, prefix: str) -> int:
    # A mapping's logical id starts with its trigger's path: FeedTrigger..., NaiveFeed... (a StreamTrigger itself).
    return sum(
        len(invocation.sequence_numbers)
        for invocation in runner.stats.invocations
        if invocation.failed_from is None
        and invocation.mapping.startswith(prefix)
        and not (prefix in ("Feed", "Search") and invocation.mapping.startswith("Naive"))
    )


def _timed(runner: LocalRunner, prefixes: tuple[str, ...], before: dict[str, int]) -> dict[str, float]:
    """Seconds from the first poll until each mapping (by logical id prefix) had processed its 1,000 records."""
    started = time.perf_counter()
    finished: dict[str, float] = {}
    while len(finished) < len(prefixes):
        if not runner.poll_once():
            time.sleep(0.01)
        for prefix in prefixes:
            if prefix not in finished and _records_of(runner, prefix) - before[prefix] >= CHANGES:
                finished[prefix] = time.perf_counter() - started
        if time.perf_counter() - started > 300:
            raise TimeoutError("the runner did not finish in 300 s")
    return finished


def main() -> None:
    os.environ.update({**DUMMY_CREDENTIALS, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION})
    logging.disable(logging.WARNING)
    with contextlib.ExitStack() as stack:
        outdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="cdk.out."))
        app = App(outdir=outdir, analytics_reporting=False, context={"aws:cdk:enable-asset-metadata": True})
        BenchmarkStack(app, "FeedAndSearchBenchmark")
        app.synth()
        local = LocalApp.from_assembly(outdir)
        database = stack.enter_context(running_dynamodb_local())
        moto = stack.enter_context(running_moto_server())
        providers = stack.enter_context(local_providers(local))
        events, search = providers.stubs["appsync-events"], providers.stubs["opensearch"]
        events.latency = search.latency = LATENCY_SECONDS
        timings: dict[str, list[float]] = {"Feed": [], "Search": [], "NaiveFeed": [], "NaiveSearch": []}
        counts: list[tuple[int, int, int]] = []
        for round_number in range(ROUNDS):
            runner = LocalRunner(
                local,
                LocalEndpoints.with_moto(database.endpoint_url, moto),
                table_prefix=f"bench{round_number}-",
                environment_overrides=providers.environment,
            )
            runner.create_tables()
            runner.start()
            tables = {
                mapping: next(
                    name for logical_id, name in runner.table_names.items() if logical_id.startswith(f"{mapping}Table")
                )
                for mapping in timings
            }
            order = list(timings) if round_number % 2 == 0 else list(reversed(timings))
            publishes = floor = bulks = messages = 0
            for mapping in order:
                before = {mapping: _records_of(runner, mapping)}
                published_before, publishes_before = len(events.published), len(events.publishes)
                bulk_before = len(search.requests_to(r"^/_bulk"))
                _write(runner.dynamodb_client, tables[mapping], random.Random(7))
                with contextlib.redirect_stdout(io.StringIO()):
                    timings[mapping].append(_timed(runner, (mapping,), before)[mapping])
                if mapping == "Feed":
                    channels = Counter(event.channel for event in events.published[published_before:])
                    floor = sum(math.ceil(count / 5) for count in channels.values())
                    publishes = len(events.publishes) - publishes_before
                    messages = sum(channels.values())
                elif mapping == "Search":
                    bulks = len(search.requests_to(r"^/_bulk")) - bulk_before
            counts.append((publishes, floor, bulks))
        for mapping, values in timings.items():
            print(
                f"{mapping}: median {statistics.median(values):.3f} s over {ROUNDS} rounds "
                f"(min {min(values):.3f}, max {max(values):.3f}) for {CHANGES} changes"
            )
        publishes, floor, bulks = counts[-1]
        feed_speedup = statistics.median(timings["NaiveFeed"]) / statistics.median(timings["Feed"])
        search_speedup = statistics.median(timings["NaiveSearch"]) / statistics.median(timings["Search"])
        print(f"feed messages per {CHANGES} changes: {messages} (one per item and batch) on {CHANNELS} channels")
        print(f"naive requests per {CHANGES} changes: {CHANGES} publishes and {CHANGES} index or delete requests")
        print(f"feed publishes per 1000 changes: {publishes} (minimum {floor})")
        print(f"search requests per 1000 changes: {bulks}")
        print(f"feed speedup vs naive: {feed_speedup:.1f}")
        print(f"search speedup vs naive: {search_speedup:.1f}")


if __name__ == "__main__":
    main()
