"""``python -m constructs_pkg.local reindex``: fill a SearchIndexer's index from a table scan, beside the live stream
(the stream always wins: ``constructs_pkg.local.reindex``), against AWS or a local stub."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from constructs_pkg.local.reindex import open_index, reindex, scanned_items
from lambda_src.contract import DEFAULT_SEARCH_MAX_BULK_ACTIONS, DEFAULT_SEARCH_MAX_BULK_BYTES, SearchService
from lambda_src.providers import ProviderError

__all__ = ["add_command"]


def add_command(commands: Any) -> None:
    """Add ``reindex`` to the subcommands ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "reindex",
        help="fill an OpenSearch index from a DynamoDB table scan, as the SearchIndexer writes it",
        description="Scan the table and write each item with the SearchIndexer's fenced upsert at sequence 0: "
        "missing documents are created, and what the stream wrote (documents and tombstones) is never overwritten.",
    )
    parser.add_argument("--table", required=True, help="the table's name")
    parser.add_argument("--endpoint", required=True, help="the domain's or collection's endpoint (host or URL)")
    parser.add_argument("--index", required=True, help="the index name")
    parser.add_argument(
        "--service",
        choices=[str(choice) for choice in SearchService],
        default="es",
        help="es for a domain, aoss for a Serverless collection (Default: es)",
    )
    parser.add_argument(
        "--attributes", default="", help="attributes to index, separated by commas (Default: - every attribute)"
    )
    parser.add_argument("--mappings", default="{}", help="field mappings as JSON, for a new index (Default: {})")
    parser.add_argument(
        "--max-bulk-bytes",
        type=int,
        default=DEFAULT_SEARCH_MAX_BULK_BYTES,
        help=f"the largest _bulk request (Default: {DEFAULT_SEARCH_MAX_BULK_BYTES})",
    )
    parser.add_argument(
        "--max-bulk-actions",
        type=int,
        default=DEFAULT_SEARCH_MAX_BULK_ACTIONS,
        help=f"documents per _bulk request (Default: {DEFAULT_SEARCH_MAX_BULK_ACTIONS})",
    )
    parser.add_argument(
        "--dynamodb-endpoint",
        metavar="URL",
        help="DynamoDB Local's endpoint (Default: - AWS, boto3's default credentials)",
    )
    parser.set_defaults(run_command=_run)


def _run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        mappings = json.loads(args.mappings)
    except ValueError:
        raise SystemExit(f"--mappings must be a JSON object, got {args.mappings!r}") from None
    dynamodb = (
        boto3.client("dynamodb", endpoint_url=args.dynamodb_endpoint)
        if args.dynamodb_endpoint
        else (boto3.client("dynamodb"))
    )
    try:
        schema = dynamodb.describe_table(TableName=args.table)["Table"]["KeySchema"]
        key_names = [element["AttributeName"] for element in schema]
        result = reindex(
            scanned_items(dynamodb, args.table),
            key_names=key_names,
            index=open_index(args.endpoint, args.index, args.service),
            attributes=[name for name in args.attributes.split(",") if name],
            mappings=mappings,
            max_bulk_bytes=args.max_bulk_bytes,
            max_bulk_actions=args.max_bulk_actions,
            progress=lambda so_far: print(
                f"\rscanned {so_far.scanned}, written {so_far.written}", end="", file=sys.stderr, flush=True
            ),
        )
    except (BotoCoreError, ClientError, ProviderError) as error:
        raise SystemExit(f"reindex: {error}") from None
    print(file=sys.stderr)
    for identifier, reason in sorted(result.failed.items()):
        print(f"failed {identifier}: {reason}")
    print(
        f"reindexed {args.table} into {args.index}: {result.scanned} items scanned, {result.written} written "
        f"(documents the stream wrote kept), {len(result.failed)} failed"
    )
    return 1 if result.failed else 0
