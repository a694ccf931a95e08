"""``python -m constructs_pkg.local demo``: the demo app shipped in the package (``constructs_pkg.local.demo_app``, the
BasicFlow example's flow) end to end on this machine, each step printed; it needs no checkout."""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Any

from constructs_pkg.local.demo_app import DEMO_STACK, ORDERS, SUMMARIES
from constructs_pkg.local.run_cli import say, synth_environment, table_name

__all__ = ["add_command"]

# The shipped app, synthesized by this Python: the one that has constructs_pkg, and aws_cdk with it.
_DEMO_APP = (sys.executable, "-m", "constructs_pkg.local.demo_app")
# Long enough for a batch written just before to be read on the next poll, short enough to keep the demo quick.
_DEMO_QUIET_SECONDS = 0.5
_DEMO_TIMEOUT_SECONDS = 60.0


def add_command(commands: Any) -> None:
    """Add ``demo`` to the subcommands ``commands`` (argparse's subparsers)."""
    demo = commands.add_parser(
        "demo",
        help="run the demo app (shipped in the package) end to end on this machine and print each step",
        description="Synthesize the demo app shipped in the package (constructs_pkg.local.demo_app: an Orders table "
        "streaming to a handler that keeps OrderSummaries), start DynamoDB Local and moto, create its tables, write "
        "a few Orders items (an order inserted, one shipped, one deleted, and a customer profile the mapping's "
        "filter drops), carry the stream to the handler in-process, then print the OrderSummaries rows and "
        "the runner's stats. Needs DynamoDB Local (python -m constructs_pkg.local setup), Java 17 and Node.js "
        "(for the synth); no checkout, no cdk.json.",
    )
    demo.set_defaults(run_command=_demo)


def _demo(args: argparse.Namespace) -> int:
    try:
        return _run_demo()
    except KeyboardInterrupt:
        # Everything the demo started (the synth, DynamoDB Local, moto, temporary directories) is stopped by now.
        print(file=sys.stderr)
        say("interrupted; DynamoDB Local and moto stopped")
        return 130


def _run_demo() -> int:
    from constructs_pkg.local.assembly import LocalApp
    from constructs_pkg.local.dynamodb_local import dynamodb_local_home, running_dynamodb_local, stop_process
    from constructs_pkg.local.endpoints import LocalEndpoints, running_moto_server
    from constructs_pkg.local.progress import ProgressLine
    from constructs_pkg.local.runner import LocalRunner

    started = time.monotonic()

    def step(line: str) -> None:
        say(f"[{time.monotonic() - started:5.1f}s] {line}")

    with contextlib.ExitStack() as resources:
        # The synth (jsii's Node start-up) and DynamoDB Local's JVM start-up each take seconds: overlap them.
        try:
            home = dynamodb_local_home()
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
        command = shlex.join(_DEMO_APP)
        outdir = resources.enter_context(tempfile.TemporaryDirectory(prefix="cdk.out."))
        step(f"1. synthesizing the demo app: {command}")
        synth = resources.enter_context(
            subprocess.Popen(_DEMO_APP, env=synth_environment(outdir, project_context=False), stdout=subprocess.DEVNULL)
        )
        # The synth ends here if the demo stops before it does (an error or Ctrl-C).
        resources.callback(stop_process, synth)
        step("2. starting DynamoDB Local (DynamoDB and its Streams API) and moto (SQS, SNS, S3, Secrets Manager)")
        try:
            database = resources.enter_context(running_dynamodb_local(home))
        except RuntimeError as error:
            raise SystemExit(str(error)) from None
        sqs_endpoint = resources.enter_context(running_moto_server())
        step(f"   DynamoDB Local at {database.endpoint_url} (up in {database.startup_seconds:.1f} s)")
        step(f"   moto at {sqs_endpoint}")
        if synth.wait() != 0:
            raise SystemExit(
                f"{command} exited with {synth.returncode}: is it run in the environment that has aws_cdk?"
            )
        app = LocalApp.from_assembly(outdir, [DEMO_STACK])
        (mapping,) = app.mappings
        step(
            f"   synthesized {DEMO_STACK}: {len(app.tables)} tables, {len(app.functions)} function, a stream mapping "
            f"(batch {mapping.batch_size}, {mapping.starting_position}, filters {json.dumps(mapping.filter_patterns)})"
        )
        runner = LocalRunner(app, LocalEndpoints.with_moto(database.endpoint_url, sqs_endpoint))
        runner.create_tables()
        step(f"3. created the tables from the template: {', '.join(runner.table_names.values())}")
        runner.start()
        orders, client = table_name(runner, ORDERS), runner.dynamodb_client

        def carry() -> None:
            with ProgressLine("   waiting on the Orders stream: ") as progress:
                runner.run_until_idle(
                    _DEMO_TIMEOUT_SECONDS,
                    quiet_seconds=_DEMO_QUIET_SECONDS,
                    progress=lambda stats: progress.update(stats.summary()),
                )
            for row in _demo_summaries(runner):
                say(f"   OrderSummaries: {json.dumps(row)}")

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
            say(f"   invocation of {mapping.logical_id}: {len(invocation.keys)} records ({keys}): {outcome}")
        for message in stats.on_failure_messages:
            say(f"   on-failure message: {json.dumps(message)}")
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
    table = table_name(runner, SUMMARIES)
    items = runner.dynamodb_client.scan(TableName=table, ConsistentRead=True)["Items"]
    rows = [{name: next(iter(value.values())) for name, value in sorted(item.items())} for item in items]
    if not rows:
        say("   OrderSummaries: (empty)")
    return sorted(rows, key=lambda row: row["orderId"])
