"""``python -m constructs_pkg.local``: run a CDK app's stream pipelines on this machine, or redrive failed batches.

``run`` synthesizes the app (or reads a cdk.out), creates its tables in DynamoDB Local, starts moto for SQS, SNS, S3
and Secrets Manager and a stub for each AI provider the functions call (or lets ``--real`` ones through), and carries
every DynamoDB event source mapping's stream to its handler in this process until interrupted, or until the streams
have been quiet for ``--until-idle`` seconds. ``demo`` does the same for the BasicFlow example, writes a
few orders itself, and prints each step and what reached the summaries table.
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
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from constructs_pkg.local.providers import API_KEYS, PROVIDERS

__all__ = ["main"]

_CDK_JSON = Path("cdk.json")
_DEMO_STACK = "BasicFlow"
_DEMO_ORDERS = "OrdersTable1F8332C7"
_DEMO_SUMMARIES = "OrderSummaries85FA0D07"
# Long enough for a batch written just before to be read on the next poll, short enough to keep the demo quick.
_DEMO_QUIET_SECONDS = 0.5
_DEMO_TIMEOUT_SECONDS = 60.0


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
    run.add_argument(
        "--sqs-endpoint",
        metavar="URL",
        help="a moto server for SQS, SNS, S3, Secrets Manager and every other service "
        "(Default: - a new moto server on a free loopback port)",
    )
    run.add_argument(
        "--create-tables",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="create the app's tables first; --no-create-tables to use existing ones (Default: create)",
    )
    run.add_argument("--table-prefix", default="", help="put before every table and queue name (Default: none)")
    key_variables = ", ".join(f"{key.environment_variable} ({name})" for name, key in API_KEYS.items())
    run.add_argument(
        "--real",
        action="append",
        default=[],
        choices=PROVIDERS,
        metavar="PROVIDER",
        help=f"call this AI provider for real instead of its local stub; repeat for more ({', '.join(PROVIDERS)}). "
        f"The API key comes from {key_variables}; "
        "Bedrock and S3 Vectors use boto3's default credentials and region (Default: - every provider the functions "
        "use is stubbed on loopback, with the stubs' keys in their secrets)",
    )
    run.add_argument(
        "--starting-position",
        choices=("LATEST", "TRIM_HORIZON"),
        help="start every mapping here instead (Default: - the template's; LATEST with --aws)",
    )
    run.add_argument(
        "--aws",
        action="store_true",
        help="read the deployed stacks' streams in the AWS account and region of boto3's default credentials and run "
        "the handlers here with their deployed environments: a debugging tool. The handlers' calls are real (they "
        "write to the deployed tables); on-failure messages are printed, not sent. Not with --dynamodb-endpoint, "
        "--sqs-endpoint, --real or --table-prefix; no table is created",
    )
    run.set_defaults(run_command=_run)
    demo = commands.add_parser(
        "demo",
        help="run the BasicFlow example end to end on this machine and print each step",
        description="Synthesize the example app, start DynamoDB Local and moto, create BasicFlow's tables, write "
        "a few Orders items (an order inserted, one shipped, one deleted, and a customer profile the mapping's "
        "filter drops), carry the stream to the bundled handler in-process, then print the OrderSummaries rows and "
        "the runner's stats. Needs Java 17 (scripts/install-dynamodb-local) and Node.js for the synth.",
    )
    demo.add_argument(
        "--app-command",
        metavar="COMMAND",
        help='the command that synthesizes the example app, e.g. "python3 -m examples.app" '
        "(Default: - cdk.json's app in the current directory)",
    )
    demo.set_defaults(run_command=_demo)
    from constructs_pkg.local import redrive_cli

    redrive_parser = commands.add_parser(
        "redrive", help="invoke a handler again with the failed or quarantined batches of on-failure messages"
    )
    redrive_cli.add_redrive_arguments(redrive_parser)
    redrive_parser.set_defaults(run_command=redrive_cli.run_redrive)
    args = parser.parse_args(argv)
    # Not `handler`: that is redrive's --handler option, in the same namespace.
    status: int = args.run_command(args)
    return status


def _run(args: argparse.Namespace) -> int:
    from constructs_pkg.local.assembly import LocalApp
    from constructs_pkg.local.event_source_mapping import RunStats

    with contextlib.ExitStack() as resources:
        assembly_dir = Path(args.app) if args.app else _synthesize(args.app_command, resources)
        app = LocalApp.from_assembly(assembly_dir, args.stack)
        _say(
            f"read {assembly_dir}: {len(app.tables)} tables, {len(app.functions)} functions, "
            f"{len(app.mappings)} DynamoDB event source mappings"
        )
        for warning in app.warnings:
            _say(f"warning: {warning}")
        runner, providers = (_deployed_runner(app, args), None) if args.aws else _local_runner(app, args, resources)
        runner.start()
        # The runner's app: the one read, with the starting position asked for and, with --aws, the deployed names.
        for mapping in runner.app.mappings:
            function = runner.app.functions[mapping.function_logical_id]
            _say(
                f"mapping {mapping.logical_id}: {runner.table_names[mapping.table_logical_id]} stream -> "
                f"{function.handler} (batch {mapping.batch_size}, {mapping.starting_position}, "
                f"{len(mapping.filter_patterns)} filters, retries {mapping.maximum_retry_attempts})"
                + (
                    f", on failure -> {runner.on_failure_destinations[mapping.logical_id]}"
                    if mapping.logical_id in runner.on_failure_destinations
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
        for line in providers.activity() if providers else ():
            _say(line)
        _say(f"done: {runner.stats.summary()}")
    return 0


def _local_runner(app: Any, args: argparse.Namespace, resources: contextlib.ExitStack) -> tuple[Any, Any]:
    """A runner on DynamoDB Local and moto (started unless given), and its AI providers: stubs unless --real."""
    from constructs_pkg.local.dynamodb_local import running_dynamodb_local
    from constructs_pkg.local.endpoints import LocalEndpoints, running_moto_server
    from constructs_pkg.local.providers import local_providers
    from constructs_pkg.local.runner import LocalRunner

    if args.starting_position:
        app = app.starting_at(args.starting_position)
    try:
        providers = resources.enter_context(local_providers(app, args.real))
    except ValueError as error:
        raise SystemExit(f"--real: {error}") from None
    for line in providers.describe():
        _say(f"AI provider {line}")
    dynamodb_endpoint = args.dynamodb_endpoint
    if dynamodb_endpoint is None:
        _say("starting DynamoDB Local ...")
        dynamodb_endpoint = resources.enter_context(running_dynamodb_local()).endpoint_url
    _say(f"DynamoDB and DynamoDB Streams at {dynamodb_endpoint}")
    sqs_endpoint = args.sqs_endpoint
    if sqs_endpoint is None:
        sqs_endpoint = resources.enter_context(running_moto_server())
    _say(
        f"SQS, SNS, S3, Secrets Manager and the other services (on-failure destinations, what the handlers refer to) "
        f"at {sqs_endpoint}"
    )
    runner = LocalRunner(
        app,
        LocalEndpoints.with_moto(dynamodb_endpoint, sqs_endpoint),
        table_prefix=args.table_prefix,
        environment_overrides=providers.environment,
        secret_values=providers.secret_values,
    )
    if args.create_tables:
        runner.create_tables()
        _say(f"created tables: {', '.join(runner.table_names.values())}")
    return runner, providers


def _deployed_runner(app: Any, args: argparse.Namespace) -> Any:
    """A runner on the deployed stacks' streams, with the account's credentials: ``run --aws``."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from constructs_pkg.local.deployed import as_deployed
    from constructs_pkg.local.runner import LocalRunner

    local_only = {
        "--dynamodb-endpoint": args.dynamodb_endpoint,
        "--sqs-endpoint": args.sqs_endpoint,
        "--real": args.real,
        "--table-prefix": args.table_prefix,
    }
    clashing = [name for name, value in local_only.items() if value]
    if clashing:
        raise SystemExit(f"--aws reads the deployed stacks: {', '.join(clashing)} only apply to a local run")
    try:
        session = boto3.session.Session()
        app = as_deployed(app, session).starting_at(args.starting_position or "LATEST")
        runner = LocalRunner(app, None)
    # No profile, credentials or region, access denied, no network: what boto3 says is the fix.
    except (ValueError, BotoCoreError, ClientError) as error:
        raise SystemExit(f"--aws: {error}") from None
    _say(
        f"reading the deployed stacks {', '.join(app.stack_names)} in {session.region_name or 'the default region'}: "
        "the handlers run here with their deployed environments and your credentials, so their writes are real; "
        "on-failure messages are printed, not sent"
    )
    return runner


def _demo(args: argparse.Namespace) -> int:
    try:
        return _run_demo(args)
    except KeyboardInterrupt:
        # Everything the demo started (the synth, DynamoDB Local, moto, temporary directories) is stopped by now.
        print(file=sys.stderr)
        _say("interrupted; DynamoDB Local and moto stopped")
        return 130


def _run_demo(args: argparse.Namespace) -> int:
    from constructs_pkg.local.assembly import LocalApp
    from constructs_pkg.local.dynamodb_local import running_dynamodb_local, stop_process
    from constructs_pkg.local.endpoints import LocalEndpoints, running_moto_server
    from constructs_pkg.local.event_source_mapping import RunStats
    from constructs_pkg.local.runner import LocalRunner

    started = time.monotonic()

    def step(line: str) -> None:
        _say(f"[{time.monotonic() - started:5.1f}s] {line}")

    with contextlib.ExitStack() as resources:
        # The synth (jsii's Node start-up) and DynamoDB Local's JVM start-up each take seconds: overlap them.
        command = args.app_command or _cdk_json_app()
        outdir = resources.enter_context(tempfile.TemporaryDirectory(prefix="cdk.out."))
        step(f"1. synthesizing the example app: {command}")
        synth = resources.enter_context(
            subprocess.Popen(shlex.split(command), env={**os.environ, "CDK_OUTDIR": outdir}, stdout=subprocess.DEVNULL)
        )
        # The synth ends here if the demo stops before it does (an error or Ctrl-C).
        resources.callback(stop_process, synth)
        step("2. starting DynamoDB Local (DynamoDB and its Streams API) and moto (SQS, SNS, S3, Secrets Manager)")
        database = resources.enter_context(running_dynamodb_local())
        sqs_endpoint = resources.enter_context(running_moto_server())
        step(f"   DynamoDB Local at {database.endpoint_url} (up in {database.startup_seconds:.1f} s)")
        step(f"   moto at {sqs_endpoint}")
        if synth.wait() != 0:
            raise SystemExit(
                f"{command} exited with {synth.returncode}: is it run in the environment that has aws_cdk?"
            )
        app = LocalApp.from_assembly(outdir, [_DEMO_STACK])
        (mapping,) = app.mappings
        step(
            f"   synthesized {_DEMO_STACK}: {len(app.tables)} tables, {len(app.functions)} function, a stream mapping "
            f"(batch {mapping.batch_size}, {mapping.starting_position}, filters {json.dumps(mapping.filter_patterns)})"
        )
        runner = LocalRunner(app, LocalEndpoints.with_moto(database.endpoint_url, sqs_endpoint))
        runner.create_tables()
        step(f"3. created the tables from the template: {', '.join(runner.table_names.values())}")
        runner.start()
        orders, client = runner.table_names[_DEMO_ORDERS], runner.dynamodb_client

        def progress(stats: RunStats) -> None:
            print(f"\r   waiting on the Orders stream: {stats.summary()}", end="", file=sys.stderr, flush=True)

        def carry() -> None:
            try:
                runner.run_until_idle(_DEMO_TIMEOUT_SECONDS, quiet_seconds=_DEMO_QUIET_SECONDS, progress=progress)
            finally:
                print(file=sys.stderr, flush=True)
            for row in _demo_summaries(runner):
                _say(f"   OrderSummaries: {json.dumps(row)}")

        step("4. writing two orders (two INSERTs)")
        client.put_item(TableName=orders, Item=_demo_order("1001", "NEW", [("10.50", "2"), ("4.00", "1")]))
        client.put_item(TableName=orders, Item=_demo_order("1002", "NEW", [("99.99", "1")]))
        step("5. running the stream mapping: the handler writes one summary per order")
        carry()
        step("6. shipping order 1001 (a MODIFY), deleting order 1002 (a REMOVE), writing a profile (not an order)")
        client.update_item(
            TableName=orders,
            Key=_demo_key("ORDER#1001"),
            UpdateExpression="SET #status = :shipped",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":shipped": {"S": "SHIPPED"}},
        )
        client.delete_item(TableName=orders, Key=_demo_key("ORDER#1002"))
        client.put_item(TableName=orders, Item={**_demo_key("PROFILE"), "name": {"S": "Ada"}})
        step("7. running the stream mapping again: the filter drops the profile before any invocation")
        carry()
        stats = runner.stats
        step(f"8. done: {stats.summary()}")
        for invocation in stats.invocations:
            outcome = "ok" if invocation.failed_from is None else f"failed from record {invocation.failed_from}"
            keys = ", ".join(json.loads(key)["SK"]["S"] for key in invocation.keys)
            _say(f"   invocation of {mapping.logical_id}: {len(invocation.keys)} records ({keys}): {outcome}")
        for message in stats.on_failure_messages:
            _say(f"   on-failure message: {json.dumps(message)}")
        step("shutting down DynamoDB Local and moto")
    return 0


def _demo_key(sort_key: str) -> dict[str, Any]:
    return {"PK": {"S": "CUSTOMER#42"}, "SK": {"S": sort_key}}


def _demo_order(order_id: str, status: str, lines: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        **_demo_key(f"ORDER#{order_id}"),
        "status": {"S": status},
        "lines": {"L": [{"M": {"price": {"N": price}, "quantity": {"N": quantity}}} for price, quantity in lines]},
    }


def _demo_summaries(runner: Any) -> list[dict[str, str]]:
    """OrderSummaries' rows, each attribute's value as DynamoDB's JSON carries it (numbers as strings)."""
    table = runner.table_names[_DEMO_SUMMARIES]
    items = runner.dynamodb_client.scan(TableName=table, ConsistentRead=True)["Items"]
    rows = [{name: next(iter(value.values())) for name, value in sorted(item.items())} for item in items]
    if not rows:
        _say("   OrderSummaries: (empty)")
    return sorted(rows, key=lambda row: row["orderId"])


def _cdk_json_app() -> str:
    if not _CDK_JSON.is_file():
        raise SystemExit("no --app-command, and no cdk.json in the current directory")
    return str(json.loads(_CDK_JSON.read_text())["app"])


def _synthesize(command: str | None, resources: contextlib.ExitStack) -> Path:
    """Run the app's synth command with CDK_OUTDIR set to a new temporary directory; bundling stays on."""
    if command is None:
        if not _CDK_JSON.is_file():
            raise SystemExit("no --app or --app-command, and no cdk.json in the current directory")
        command = _cdk_json_app()
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
