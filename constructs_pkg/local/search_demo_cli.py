"""``python -m constructs_pkg.local search-demo``: the SearchIndex example end to end on this machine: products written
to DynamoDB Local, indexed by the SearchIndexer through the local runner into the OpenSearch stub, and searched."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from typing import Any

from constructs_pkg.local.run_cli import say, synthesize

__all__ = ["add_command"]

_STACK = "SearchIndex"
_QUIET_SECONDS = 0.5
_TIMEOUT_SECONDS = 60.0
_PRODUCTS = [
    ("LAMP-1", "Desk lamp", "lighting", "24.90", "12"),
    ("LAMP-2", "Floor lamp", "lighting", "89.00", "3"),
    ("DESK-1", "Standing desk", "furniture", "349.00", "5"),
    ("CHAIR-1", "Office chair", "furniture", "129.00", "0"),
]


def add_command(commands: Any) -> None:
    """Add ``search-demo`` to the subcommands ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "search-demo",
        help="run the SearchIndex example end to end on this machine and search the index after each write",
        description="Synthesize the example app, start DynamoDB Local, moto and the OpenSearch stub, write products, "
        "carry the stream to the SearchIndexer in-process, and print what searches answer after the writes, an "
        "update and a delete. Needs Java 17 and Node.js for the synth.",
    )
    parser.add_argument(
        "--app-command",
        metavar="COMMAND",
        help="the command that synthesizes the example app (Default: - cdk.json's app)",
    )
    parser.set_defaults(run_command=_search_demo)


def _search_demo(args: argparse.Namespace) -> int:
    from constructs_pkg.local.assembly import LocalApp
    from constructs_pkg.local.dynamodb_local import REGION, running_dynamodb_local
    from constructs_pkg.local.endpoints import DUMMY_CREDENTIALS, LocalEndpoints, running_moto_server
    from constructs_pkg.local.providers import local_providers
    from constructs_pkg.local.runner import LocalRunner
    from lambda_src.contract import SearchEnv
    from lambda_src.search_indexer import OpenSearchIndex, search_filter

    # The demo's own searches are signed as the functions' calls are: with the local dummy credentials.
    os.environ.update({**DUMMY_CREDENTIALS, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION})
    started = time.monotonic()

    def step(line: str) -> None:
        say(f"[{time.monotonic() - started:5.1f}s] {line}")

    with contextlib.ExitStack() as resources:
        step("1. synthesizing the example app and starting DynamoDB Local, moto and the OpenSearch stub")
        app = LocalApp.from_assembly(synthesize(args.app_command, resources), [_STACK])
        database = resources.enter_context(running_dynamodb_local())
        moto = resources.enter_context(running_moto_server())
        providers = resources.enter_context(local_providers(app))
        search = providers.stubs["opensearch"]
        runner = LocalRunner(
            app, LocalEndpoints.with_moto(database.endpoint_url, moto), environment_overrides=providers.environment
        )
        runner.create_tables()
        runner.start()
        (table,) = runner.table_names.values()
        (function,) = app.functions.values()
        index_name = str(function.environment[SearchEnv.INDEX])
        step(f"   OpenSearch stub at {search.url}, index {index_name}; table {table}")
        client = runner.dynamodb_client
        index = OpenSearchIndex(search.url, index_name)

        def carry_and_search(query: dict[str, Any], label: str) -> None:
            runner.run_until_idle(_TIMEOUT_SECONDS, quiet_seconds=_QUIET_SECONDS)
            hits = index.search({"bool": {"must": [query], **search_filter()}})
            names = sorted(f"{hit['_source']['name']} ({hit['_source']['price']})" for hit in hits)
            say(f"   search {label}: {len(hits)} hits: {json.dumps(names)}")

        step(f"2. writing {len(_PRODUCTS)} products")
        for sku, name, category, price, stock in _PRODUCTS:
            client.put_item(
                TableName=table,
                Item={
                    "PK": {"S": f"PRODUCT#{sku}"},
                    "name": {"S": name},
                    "category": {"S": category},
                    "price": {"N": price},
                    "stock": {"N": stock},
                },
            )
        carry_and_search({"term": {"category": "lighting"}}, "category = lighting")
        step("3. repricing the desk lamp, deleting the floor lamp")
        client.update_item(
            TableName=table,
            Key={"PK": {"S": "PRODUCT#LAMP-1"}},
            UpdateExpression="SET price = :p",
            ExpressionAttributeValues={":p": {"N": "19.90"}},
        )
        client.delete_item(TableName=table, Key={"PK": {"S": "PRODUCT#LAMP-2"}})
        carry_and_search({"term": {"category": "lighting"}}, "category = lighting")
        carry_and_search({"match": {"name": "office chair"}}, "name matches 'office chair'")
        step(f"4. done: {runner.stats.summary()}; the stub answered {len(search.requests)} requests")
    return 0
