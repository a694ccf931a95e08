"""``python -m constructs_pkg.local redrive``: the command line of ``constructs_pkg.local.redrive``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from constructs_pkg.local.redrive import (
    DEFAULT_S3_PREFIX,
    QUARANTINE_S3_PREFIX,
    FailureMessage,
    RedriveResult,
    deployed_function,
    in_process,
    messages_from_files,
    messages_from_s3,
    messages_from_sqs,
    redrive_messages,
)
from constructs_pkg.local.stream_reread import SequenceRange

__all__ = ["add_command", "add_redrive_arguments", "run_redrive"]


def add_command(commands: Any) -> None:
    """Add ``redrive`` to the subcommands ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "redrive", help="invoke a handler again with the failed or quarantined batches of on-failure messages"
    )
    add_redrive_arguments(parser)
    parser.set_defaults(run_command=run_redrive)


def add_redrive_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m constructs_pkg.local redrive``: where the on-failure and quarantine messages are,
    which handler to invoke, which DynamoDB to re-read from."""
    sources = parser.add_argument_group("on-failure and quarantine messages (at least one source)")
    sources.add_argument("--queue-url", help="the SQS on-failure queue (or a queue subscribed to the SNS topic)")
    sources.add_argument("--sns-message-file", action="append", default=[], metavar="PATH",
                         help="an SNS notification saved as JSON (repeatable)")  # fmt: skip
    sources.add_argument("--s3-bucket", help="the S3 on-failure bucket; its records carry the whole event")
    sources.add_argument("--s3-prefix",
                         help=f"key prefix in --s3-bucket (Default: - both Lambda's {DEFAULT_S3_PREFIX} and the "
                         f"runtime's {QUARANTINE_S3_PREFIX})")  # fmt: skip
    sources.add_argument("--message-file", action="append", default=[], metavar="PATH",
                         help="an on-failure or quarantine message saved as JSON: SQS body or S3 object "
                         "(repeatable)")  # fmt: skip
    target = parser.add_argument_group("handler (exactly one)").add_mutually_exclusive_group(required=True)
    target.add_argument("--handler", metavar="MODULE:FUNCTION", help="invoke this handler in-process")
    target.add_argument("--function-name", help="invoke this deployed Lambda function (name or ARN)")
    parser.add_argument("--code-dir", default=".", help="where --handler's module is (Default: .)")
    parser.add_argument("--layer-dir", action="append", default=[], metavar="PATH",
                        help="a Lambda layer's directory, for --handler's imports (repeatable)")  # fmt: skip
    parser.add_argument("--dynamodb-endpoint", metavar="URL",
                        help="DynamoDB Local's endpoint (Default: - AWS, boto3's default credentials)")  # fmt: skip
    parser.add_argument("--delete", action="store_true",
                        help="delete each SQS message once its batch was redriven in full (Default: keep)")  # fmt: skip


def run_redrive(args: argparse.Namespace) -> int:
    """Redrive every record the arguments name, one line per batch. Exit code 0 when every batch was redriven in
    full, 1 when a record failed again or was gone, 2 when no source was given."""
    messages = _messages(args)
    if messages is None:
        print("redrive: give --queue-url, --sns-message-file, --s3-bucket or --message-file", file=sys.stderr)
        return 2
    invoke = _invoker(args)
    exit_code = 0
    for message, outcome in redrive_messages(messages, invoke, streams_client_for=_streams_client_for(args)):
        if isinstance(outcome, ValueError):
            print(f"{message.source}: skipped, {outcome}")
            exit_code = 1
            continue
        print(_report_line(outcome))
        if not outcome.succeeded:
            exit_code = 1
    return exit_code


def _messages(args: argparse.Namespace) -> Iterator[FailureMessage] | None:
    import boto3

    sources: list[Iterator[FailureMessage]] = []
    if args.sns_message_file or args.message_file:
        sources.append(messages_from_files([*args.sns_message_file, *args.message_file]))
    if args.s3_bucket:
        s3 = boto3.client("s3")
        for prefix in [args.s3_prefix] if args.s3_prefix else [DEFAULT_S3_PREFIX, QUARANTINE_S3_PREFIX]:
            sources.append(messages_from_s3(s3, args.s3_bucket, prefix))
    if args.queue_url:
        sources.append(messages_from_sqs(boto3.client("sqs"), args.queue_url, delete_after=args.delete))
    if not sources:
        return None
    return (message for source in sources for message in source)


def _invoker(args: argparse.Namespace) -> Callable[[dict[str, Any]], Any]:
    if args.function_name:
        import boto3

        return deployed_function(args.function_name, boto3.client("lambda"))
    module_name, _, function_name = args.handler.partition(":")
    if not module_name or not function_name:
        raise SystemExit(f"redrive: --handler must be MODULE:FUNCTION, got {args.handler!r}")
    # A Python layer's packages are under python/ in the layer: https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html
    layers = [Path(layer) / "python" if (Path(layer) / "python").is_dir() else Path(layer) for layer in args.layer_dir]
    for path in reversed([Path(args.code_dir), *layers]):
        sys.path.insert(0, str(path.resolve()))
    handler = getattr(importlib.import_module(module_name), function_name)
    return in_process(handler, function_name=module_name)


def _streams_client_for(args: argparse.Namespace) -> Callable[[str], Any]:
    if args.dynamodb_endpoint:
        from constructs_pkg.local.dynamodb_local import local_client

        return lambda _stream_arn: local_client(args.dynamodb_endpoint, "dynamodbstreams")

    @cache
    def streams_client(region: str) -> Any:
        import boto3

        return boto3.client("dynamodbstreams", region_name=region)

    # A stream is read in its own region, whatever the default one: arn:aws:dynamodb:<region>:<account>:table/...
    return lambda stream_arn: streams_client(stream_arn.split(":")[3])


def _report_line(result: RedriveResult) -> str:
    batch = result.batch
    reread = "from payload" if result.from_payload else f"re-read {result.reread}"
    if batch.quarantine is not None:
        reread = f"quarantined ({batch.quarantine.reason}), {reread}"
    trimmed = ", ".join(map(str, result.trimmed)) or "0"
    # A quarantine message redriven from its payload names no shard: its stream says where it came from.
    where = batch.shard_id or batch.stream_arn
    line = (
        f"{where} {SequenceRange(batch.start_sequence_number, batch.end_sequence_number)}: {reread}, "
        f"delivered {result.delivered}, failed {result.failed}, trimmed {trimmed}"
    )
    if result.failed_item_identifiers:
        line += f" (batchItemFailures: {', '.join(result.failed_item_identifiers)})"
    if result.error:
        line += f" ({result.error})"
    return line
