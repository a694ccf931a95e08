"""``python -m constructs_pkg.local recompute-aggregates``: compare a StreamAggregator's aggregates with a
recomputation from a scan of its source table, and ``--repair`` the groups that differ
(``constructs_pkg.local.aggregates``), against AWS or DynamoDB Local."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from constructs_pkg.local.aggregates import compare, repair
from constructs_pkg.local.reindex import scanned_items
from lambda_src.contract import AggregatorEnv
from lambda_src.stream_aggregator.config import parse_spec

__all__ = ["add_command"]


def add_command(commands: Any) -> None:
    """Add ``recompute-aggregates`` to the subcommands ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "recompute-aggregates",
        help="compare a StreamAggregator's aggregates with a recomputation from its source table",
        description="Scan the source table, recompute every group's measures as the StreamAggregator counts them, "
        "and list the groups whose stored measures differ; --repair writes the recomputed ones (marks kept).",
    )
    parser.add_argument("--source", required=True, help="the source table's name")
    parser.add_argument("--target", required=True, help="the aggregates table's name")
    parser.add_argument(
        "--spec",
        required=True,
        help=f"the aggregation: the function's {AggregatorEnv.SPEC} variable (JSON), or @FILE holding it",
    )
    parser.add_argument("--repair", action="store_true", help="write the recomputed measures of the groups that differ")
    parser.add_argument(
        "--dynamodb-endpoint",
        metavar="URL",
        help="DynamoDB Local's endpoint (Default: - AWS, boto3's default credentials)",
    )
    parser.set_defaults(run_command=_run)


def _run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    text = Path(args.spec[1:]).read_text() if args.spec.startswith("@") else args.spec
    try:
        spec = parse_spec(text)
    except ValueError as error:
        raise SystemExit(f"--spec is not a StreamAggregator spec: {error}") from None
    dynamodb = boto3.client("dynamodb", endpoint_url=args.dynamodb_endpoint)
    try:
        differences = compare(spec, scanned_items(dynamodb, args.source), scanned_items(dynamodb, args.target))
        for difference in differences:
            stored = "missing" if difference.stored is None else ", ".join(map(str, difference.stored))
            print(f"differs {difference.key}: stored {stored}, recomputed {', '.join(map(str, difference.recomputed))}")
        repaired = repair(spec, dynamodb, args.target, differences) if args.repair else 0
    except (BotoCoreError, ClientError) as error:
        raise SystemExit(f"recompute-aggregates: {error}") from None
    outcome = f", {repaired} repaired" if args.repair else ""
    print(f"recomputed {args.source} into {args.target}: {len(differences)} groups differ{outcome}")
    return 1 if differences and not args.repair else 0
