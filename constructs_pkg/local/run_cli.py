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
import tempfile
from pathlib import Path
from typing import Any

from constructs_pkg.local.providers import API_KEYS, PROVIDERS

__all__ = ["add_command", "cdk_json_app", "say", "synthesize", "table_name"]

_CDK_JSON = Path("cdk.json")
_CDK_CONTEXT_JSON = Path("cdk.context.json")
# With --changes and no --until-idle: stop once the streams were quiet this long.
DEFAULT_CHANGES_IDLE_SECONDS = 1.0


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
    run.add_argument(
        "--changes",
        metavar="FILE",
        help="apply these changes to the tables, in order, then run until idle: JSON lines of put, update and delete "
        'in plain JSON, e.g. {"put": "Orders", "item": {"PK": "A", "total": 10.50}}, or in DynamoDB JSON '
        f"(Item, Key, UpdateExpression ...); with it --until-idle defaults to {DEFAULT_CHANGES_IDLE_SECONDS:g}",
    )
    run.add_argument("--report", metavar="FILE", help="write the run's report as JSON here, for CI (Default: none)")
    run.add_argument(
        "--allow-failures",
        action="store_true",
        help="exit 0 even when records reached on-failure destinations (Default: - exit status 1 then)",
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
    from constructs_pkg.local.changes import ChangeError, read_changes

    if args.changes and args.aws:
        raise SystemExit("--changes writes to the tables: only a local run takes it, not --aws")
    try:
        changes = read_changes(args.changes) if args.changes else []
    except (ChangeError, OSError) as error:
        raise SystemExit(f"--changes: {error}") from None
    if not args.aws and args.dynamodb_endpoint is None:
        from constructs_pkg.local.dynamodb_local import dynamodb_local_home

        # Before the synth, which takes seconds: a run that cannot start says so at once.
        try:
            dynamodb_local_home()
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
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
        report = _carry(runner, args, changes)
        for line in providers.activity() if providers else ():
            say(line)
        for line in report.lines():
            say(line)
        if args.report:
            Path(args.report).write_text(json.dumps(report.as_json(), indent=2, default=str) + "\n")
            say(f"report written to {args.report}")
        say(f"done: {runner.stats.summary()}")
    if report.records_on_failure and not args.allow_failures:
        say(
            f"exit status 1: {report.records_on_failure} records reached on-failure destinations "
            "(--allow-failures to accept that)"
        )
        return 1
    return 0


def _carry(runner: Any, args: argparse.Namespace, changes: list[Any]) -> Any:
    """Apply the changes, carry the streams until idle (or Ctrl-C), and report the run."""
    from constructs_pkg.local.changes import ChangeError, apply_changes
    from constructs_pkg.local.failure_inbox import FailureInbox
    from constructs_pkg.local.names import UnknownName
    from constructs_pkg.local.progress import ProgressLine
    from constructs_pkg.local.run_report import build_report, count_items

    local = runner.endpoints is not None
    inbox = FailureInbox(runner) if local else None
    table_names = list(runner.table_names.values())
    before = count_items(runner.dynamodb_client, table_names) if local else {}
    try:
        applied = apply_changes(changes, runner.dynamodb_client, lambda name: table_name(runner, name))
    except (ChangeError, UnknownName) as error:
        raise SystemExit(f"--changes: {error}") from None
    if applied:
        say(f"applied {applied} changes from {args.changes}")
    # Changes of one's own are a run with an end: wait for them to be carried, then stop.
    until_idle = args.until_idle if args.until_idle is not None or not changes else DEFAULT_CHANGES_IDLE_SECONDS
    with ProgressLine("waiting on the streams: ") as progress:
        try:
            if until_idle is None:
                say("polling; Ctrl-C to stop")
                runner.run_forever(lambda stats: progress.update(stats.summary()))
            else:
                runner.run_until_idle(
                    args.timeout, quiet_seconds=until_idle, progress=lambda stats: progress.update(stats.summary())
                )
        except KeyboardInterrupt:
            pass
    if inbox is None:
        for message in runner.stats.on_failure_messages:
            say(f"on-failure message: {json.dumps(message)}")
    return build_report(
        runner,
        inbox_messages=None if inbox is None else inbox.messages(),
        tables_before=before,
        tables_after=count_items(runner.dynamodb_client, table_names) if local else {},
        changes_applied=applied,
        dynamodb_endpoint=runner.endpoints.dynamodb if local else None,
    )


def table_name(runner: Any, name: str) -> str:
    """The name here of the runner's table ``name`` (its construct id or path, logical id, or table name).

    Raises UnknownName listing the tables when none, or several, answer to it.
    """
    from constructs_pkg.local.names import resolve

    app = runner.app
    candidates = {key: (runner.table_names[key], table.name) for key, table in app.tables.items()}
    return str(runner.table_names[resolve(name, candidates, app.construct_paths, what="table")])


def _local_runner(app: Any, args: argparse.Namespace, resources: contextlib.ExitStack) -> tuple[Any, Any]:
    """A runner on DynamoDB Local and moto (started unless given), and its AI providers: stubs unless --real."""
    from constructs_pkg.local.dynamodb_local import REGION, running_dynamodb_local
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
        try:
            dynamodb_endpoint = resources.enter_context(running_dynamodb_local()).endpoint_url
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
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
    example_table = next(iter(runner.table_names.values()), "TABLE")
    say(
        "write to them while it runs, e.g. with the AWS CLI (any credentials and region): "
        f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws dynamodb put-item --region {REGION} "
        f'--endpoint-url {dynamodb_endpoint} --table-name {example_table} --item \'{{"PK": {{"S": "1"}}}}\''
    )
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
    synth = subprocess.run(shlex.split(command), check=False, env=synth_environment(outdir))
    if synth.returncode != 0:
        raise SystemExit(f"{command} exited with {synth.returncode}: is it run in the environment that has aws_cdk?")
    return Path(outdir)


def synth_environment(outdir: str, *, project_context: bool = True) -> dict[str, str]:
    """The environment the CDK CLI gives an app's synth: CDK_OUTDIR, and in CDK_CONTEXT_JSON path and asset metadata
    on, as ``cdk synth`` has them (the tables are then known by their construct paths, each function's code by its
    asset's folder), with the project's context (cdk.json's ``context``, cdk.context.json, in the current directory)
    unless ``project_context`` is False (Default: True)."""
    context: dict[str, Any] = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}
    if project_context and _CDK_CONTEXT_JSON.is_file():
        context.update(json.loads(_CDK_CONTEXT_JSON.read_text()))
    if project_context and _CDK_JSON.is_file():
        context.update(json.loads(_CDK_JSON.read_text()).get("context", {}))
    return {**os.environ, "CDK_OUTDIR": outdir, "CDK_CONTEXT_JSON": json.dumps(context)}


def say(line: str) -> None:
    print(line, flush=True)
