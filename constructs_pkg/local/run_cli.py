"""``python -m constructs_pkg.local run``: run a CDK app's stream pipelines on this machine, or on a deployed stream.

``run`` synthesizes the app (or reads a cdk.out), creates its tables in DynamoDB Local, starts moto for SQS, SNS, S3,
Secrets Manager and the other services and a stub for each AI provider the functions call (or lets ``--real`` ones
through), and carries every DynamoDB event source mapping's stream to its handler in this process until interrupted,
or until the streams have been quiet for ``--until-idle`` seconds.
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
from pathlib import Path
from typing import Any

from constructs_pkg.local.providers import API_KEYS, PROVIDERS

__all__ = ["add_command", "cdk_json_app", "say", "synthesize"]

_CDK_JSON = Path("cdk.json")


def add_command(commands: Any) -> None:
    """Add ``run`` to the subcommands ``commands`` (argparse's subparsers)."""
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


def _run(args: argparse.Namespace) -> int:
    from constructs_pkg.local.assembly import LocalApp
    from constructs_pkg.local.event_source_mapping import RunStats

    with contextlib.ExitStack() as resources:
        assembly_dir = Path(args.app) if args.app else synthesize(args.app_command, resources)
        app = LocalApp.from_assembly(assembly_dir, args.stack)
        say(
            f"read {assembly_dir}: {len(app.tables)} tables, {len(app.functions)} functions, "
            f"{len(app.mappings)} DynamoDB event source mappings"
        )
        for warning in app.warnings:
            say(f"warning: {warning}")
        runner, providers = (_deployed_runner(app, args), None) if args.aws else _local_runner(app, args, resources)
        runner.start()
        # The runner's app: the one read, with the starting position asked for and, with --aws, the deployed names.
        for mapping in runner.app.mappings:
            function = runner.app.functions[mapping.function_logical_id]
            say(
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
                say("polling; Ctrl-C to stop")
                runner.run_forever(progress)
            else:
                runner.run_until_idle(args.timeout, quiet_seconds=args.until_idle, progress=progress)
        except KeyboardInterrupt:
            pass
        finally:
            print(file=sys.stderr)
        for message in runner.stats.on_failure_messages:
            say(f"on-failure message: {json.dumps(message)}")
        for line in providers.activity() if providers else ():
            say(line)
        say(f"done: {runner.stats.summary()}")
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
        say(f"AI provider {line}")
    dynamodb_endpoint = args.dynamodb_endpoint
    if dynamodb_endpoint is None:
        say("starting DynamoDB Local ...")
        dynamodb_endpoint = resources.enter_context(running_dynamodb_local()).endpoint_url
    say(f"DynamoDB and DynamoDB Streams at {dynamodb_endpoint}")
    sqs_endpoint = args.sqs_endpoint
    if sqs_endpoint is None:
        sqs_endpoint = resources.enter_context(running_moto_server())
    say(
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
        say(f"created tables: {', '.join(runner.table_names.values())}")
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
    say(
        f"reading the deployed stacks {', '.join(app.stack_names)} in {session.region_name or 'the default region'}: "
        "the handlers run here with their deployed environments and your credentials, so their writes are real; "
        "on-failure messages are printed, not sent"
    )
    return runner


def cdk_json_app() -> str:
    if not _CDK_JSON.is_file():
        raise SystemExit("no --app-command, and no cdk.json in the current directory")
    return str(json.loads(_CDK_JSON.read_text())["app"])


def synthesize(command: str | None, resources: contextlib.ExitStack) -> Path:
    """Run the app's synth command with CDK_OUTDIR set to a new temporary directory; bundling stays on."""
    if command is None:
        if not _CDK_JSON.is_file():
            raise SystemExit("no --app or --app-command, and no cdk.json in the current directory")
        command = cdk_json_app()
    outdir = resources.enter_context(tempfile.TemporaryDirectory(prefix="cdk.out."))
    say(f"synthesizing: {command} (CDK_OUTDIR={outdir})")
    # Split as a shell would, but run without one: the command needs no shell features to synthesize.
    synth = subprocess.run(shlex.split(command), check=False, env={**os.environ, "CDK_OUTDIR": outdir})
    if synth.returncode != 0:
        raise SystemExit(f"{command} exited with {synth.returncode}: is it run in the environment that has aws_cdk?")
    return Path(outdir)


def say(line: str) -> None:
    print(line, flush=True)
