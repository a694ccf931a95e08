"""``python -m constructs_pkg.local restore``: put the items a TtlArchiver archived back into a table (one key, a range
of expiry days, or all), never over an item that exists (``constructs_pkg.local.archive_restore``), against AWS or
local endpoints."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from constructs_pkg.local.archive_restore import archived_lines, restore
from lambda_src.contract import DEFAULT_ARCHIVER_PREFIX

__all__ = ["add_command"]

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def add_command(commands: Any) -> None:
    """Add ``restore`` to the subcommands ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "restore",
        help="put items a TtlArchiver archived back into a table",
        description="Read the archive's objects (all, or those of --from-day..--to-day) and put each item back "
        "into --table unless an item with its key exists there; --key restores one item.",
    )
    parser.add_argument("--bucket", required=True, help="the archive bucket")
    parser.add_argument(
        "--prefix", default=DEFAULT_ARCHIVER_PREFIX, help=f"the archive's prefix (Default: {DEFAULT_ARCHIVER_PREFIX})"
    )
    parser.add_argument("--table", required=True, help="the table to put the items into")
    parser.add_argument("--key", help='one item\'s key, in DynamoDB JSON: \'{"PK": {"S": "SESSION#1"}}\'')
    parser.add_argument("--from-day", metavar="YYYY-MM-DD", help="the first expiry day (Default: - the first)")
    parser.add_argument("--to-day", metavar="YYYY-MM-DD", help="the last expiry day (Default: - the last)")
    parser.add_argument(
        "--dynamodb-endpoint", metavar="URL", help="DynamoDB Local's endpoint (Default: - AWS, boto3's credentials)"
    )
    parser.add_argument("--s3-endpoint", metavar="URL", help="a local S3's endpoint (Default: - AWS)")
    parser.set_defaults(run_command=_run)


def _run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    for option, day in (("--from-day", args.from_day), ("--to-day", args.to_day)):
        if day is not None and not _DAY.match(day):
            raise SystemExit(f"{option} must be a day as YYYY-MM-DD, got {day!r}")
    try:
        key = json.loads(args.key) if args.key else None
    except ValueError:
        raise SystemExit(f"--key is not JSON: {args.key!r}") from None
    if key is not None and not isinstance(key, dict):
        raise SystemExit('--key must be a JSON object such as {"PK": {"S": "SESSION#1"}}')
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint)
    dynamodb = boto3.client("dynamodb", endpoint_url=args.dynamodb_endpoint)
    try:
        lines = archived_lines(s3, args.bucket, args.prefix, from_day=args.from_day, to_day=args.to_day)
        outcome = restore(dynamodb, args.table, lines, key=key)
    except (BotoCoreError, ClientError) as error:
        raise SystemExit(f"restore: {error}") from None
    print(f"restored {outcome.restored} items into {args.table}, {outcome.kept_newer} kept (the table holds their key)")
    return 0
