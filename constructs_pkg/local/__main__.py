"""``python -m constructs_pkg.local``: run a CDK app's stream pipelines on this machine, or redrive failed batches.

``run`` synthesizes the app (or reads a cdk.out), creates its tables in DynamoDB Local, starts moto for SQS and SNS,
and carries every DynamoDB event source mapping's stream to its handler in this process until interrupted, or until
the streams have been quiet for ``--until-idle`` seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

_CDK_JSON = Path("cdk.json")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (Default: - the process's arguments) and run the subcommand; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m constructs_pkg.local", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run the app's DynamoDB stream pipelines against DynamoDB Local",
        description="Create the app's tables in DynamoDB Local and invoke each event source mapping's handler "
        "in-process, with the mapping's configuration from the template.",
    )
    source = run.add_mutually_exclusive_group()
    source.add_argument("--app", metavar="DIR", help="a synthesized cloud assembly (cdk.out) to read")
    source.add_argument(
        "--app-command",
        metavar="COMMAND",
        help='the command that synthesizes the app, e.g. "python3 -m examples.app" '
        "(Default: - cdk.json's app in the current directory)",
    )
    run.add_argument("--stack", action="append", metavar="NAME", help="a stack to run; repeat for more (Default: all)")
    run.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="stop once no record has arrived for SECONDS (Default: - run until interrupted)",
    )
    run.add_argument(
        "--timeout", type=float, default=600.0, help="with --until-idle, give up after this (Default: 600)"
    )
    run.add_argument("--dynamodb-endpoint", metavar="URL", help="Default: - a new DynamoDB Local on a free port")
    run.add_argument("--sqs-endpoint", metavar="URL", help="Default: - a new moto server on a free loopback port")
    run.add_argument(
        "--create-tables",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="create the app's tables first; --no-create-tables to use existing ones (Default: create)",
    )
    run.add_argument("--table-prefix", default="", help="put before every table and queue name (Default: none)")
    run.set_defaults(handler=_run)
    from constructs_pkg.local import redrive

    redrive_parser = commands.add_parser(
        "redrive", help="re-read failed batches from the stream and invoke the handler again"
    )
    redrive.add_redrive_arguments(redrive_parser)
    redrive_parser.set_defaults(handler=redrive.run_redrive)
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


def _run(args: argparse.Namespace) -> int:
    from constructs_pkg.local.assembly import LocalApp
    from constructs_pkg.local.dynamodb_local import running_dynamodb_local
    from constructs_pkg.local.runner import LocalRunner, RunStats, running_moto_server

    with contextlib.ExitStack() as resources:
        assembly_dir = Path(args.app) if args.app else _synthesize(args.app_command, resources)
        app = LocalApp.from_assembly(assembly_dir, args.stack)
        _say(
            f"read {assembly_dir}: {len(app.tables)} tables, {len(app.functions)} functions, "
            f"{len(app.mappings)} DynamoDB event source mappings"
        )
        for warning in app.warnings:
            _say(f"warning: {warning}")
        dynamodb_endpoint = args.dynamodb_endpoint
        if dynamodb_endpoint is None:
            _say("starting DynamoDB Local ...")
            dynamodb_endpoint = resources.enter_context(running_dynamodb_local()).endpoint_url
        _say(f"DynamoDB and DynamoDB Streams at {dynamodb_endpoint}")
        sqs_endpoint = args.sqs_endpoint
        if sqs_endpoint is None:
            sqs_endpoint = resources.enter_context(running_moto_server())
        _say(f"SQS and SNS (on-failure destinations) at {sqs_endpoint}")
        runner = LocalRunner(
            app, dynamodb_endpoint, sqs_endpoint, sns_endpoint=sqs_endpoint, table_prefix=args.table_prefix
        )
        if args.create_tables:
            runner.create_tables()
            _say(f"created tables: {', '.join(runner.table_names.values())}")
        runner.start()
        for mapping in app.mappings:
            function = app.functions[mapping.function_logical_id]
            _say(
                f"mapping {mapping.logical_id}: {runner.table_names[mapping.table_logical_id]} stream -> "
                f"{function.handler} (batch {mapping.batch_size}, {mapping.starting_position}, "
                f"{len(mapping.filter_patterns)} filters, retries {mapping.maximum_retry_attempts})"
                + (
                    f", on failure -> {runner.queue_urls[mapping.logical_id]}"
                    if mapping.logical_id in runner.queue_urls
                    else ""
                )
            )

        def progress(stats: RunStats) -> None:
            print(f"\rwaiting on the streams: {stats.summary()}", end="", file=sys.stderr, flush=True)

        try:
            if args.until_idle is None:
                _say("polling; Ctrl-C to stop")
                runner.run_forever(progress)
            else:
                runner.run_until_idle(args.timeout, quiet_seconds=args.until_idle, progress=progress)
        except KeyboardInterrupt:
            pass
        finally:
            print(file=sys.stderr)
        for message in runner.stats.on_failure_messages:
            _say(f"on-failure message: {json.dumps(message)}")
        _say(f"done: {runner.stats.summary()}")
    return 0


def _synthesize(command: str | None, resources: contextlib.ExitStack) -> Path:
    """Run the app's synth command with CDK_OUTDIR set to a new temporary directory; bundling stays on."""
    if command is None:
        if not _CDK_JSON.is_file():
            raise SystemExit("no --app or --app-command, and no cdk.json in the current directory")
        command = str(json.loads(_CDK_JSON.read_text())["app"])
    outdir = resources.enter_context(tempfile.TemporaryDirectory(prefix="cdk.out."))
    _say(f"synthesizing: {command} (CDK_OUTDIR={outdir})")
    # Split as a shell would, but run without one: the command needs no shell features to synthesize.
    synth = subprocess.run(shlex.split(command), check=False, env={**os.environ, "CDK_OUTDIR": outdir})
    if synth.returncode != 0:
        raise SystemExit(f"{command} exited with {synth.returncode}: is it run in the environment that has aws_cdk?")
    return Path(outdir)


def _say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
