"""``run`` driven by the user's own changes, as users type it (``python -m constructs_pkg.local run`` in a
subprocess): --changes, the report per function, --report, the exit status and --allow-failures, the printed endpoint
written to while run polls, and the progress line on a terminal and off one. The app is the demo app shipped in the
package, synthesized once as run synthesizes an app."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from constructs_pkg.local.dynamodb_local import DynamoDBLocal, local_client
from constructs_pkg.local.run_cli import synth_environment

ROOT = Path(__file__).resolve().parent.parent
SESSION = uuid.uuid4().hex[:6]
# The commands synthesize CDK apps: not among the tests a second Python runs (scripts/test-newer-python).
pytest.importorskip("aws_cdk")
CHANGES = [
    {"put": "Orders", "item": {"PK": "CUSTOMER#1", "SK": "ORDER#1", "lines": [{"price": 0.10, "quantity": 3}]}},
    {"put": "Orders", "item": {"PK": "CUSTOMER#1", "SK": "ORDER#2", "lines": [{"price": 10.50, "quantity": 2}]}},
    {"update": "Orders", "key": {"PK": "CUSTOMER#1", "SK": "ORDER#1"}, "set": {"status": "SHIPPED"}},
    {"put": "Orders", "Item": {"PK": {"S": "CUSTOMER#2"}, "SK": {"S": "ORDER#3"}, "tags": {"SS": ["gift", "rush"]}}},
    {"delete": "Orders/Table", "key": {"PK": "CUSTOMER#1", "SK": "ORDER#2"}},
    {"put": "Orders", "item": {"PK": "CUSTOMER#1", "SK": "PROFILE", "name": "Ada"}},
]


@pytest.fixture(scope="module")
def demo_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo app synthesized as run synthesizes an app (path and asset metadata on)."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    subprocess.run([sys.executable, "-m", "constructs_pkg.local.demo_app"], check=True, capture_output=True,
                   env=synth_environment(str(outdir), project_context=False))  # fmt: skip
    return outdir


def write_changes(path: Path, changes: list[Any]) -> Path:
    path.write_text("".join(json.dumps(change) + "\n" for change in changes))
    return path


def run_command(*arguments: str, cwd: Path, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "constructs_pkg.local", "run", *arguments],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
        check=False, **options,
    )  # fmt: skip


def local_run(demo_outdir: Path, database: DynamoDBLocal, moto_server: str, prefix: str, *more: str) -> list[str]:
    """run's arguments for the session's DynamoDB Local and moto, every name under ``prefix`` and this session's
    token: other tests of the session make tables and queues of the same logical ids."""
    return ["--app", str(demo_outdir), "--stack", "Demo", "--dynamodb-endpoint", database.endpoint_url,
            "--sqs-endpoint", moto_server, "--table-prefix", f"{prefix}{SESSION}-", *more]  # fmt: skip


def test_run_applies_the_changes_in_order_and_reports_each_function_and_table(
    demo_outdir: Path, dynamodb_local: DynamoDBLocal, moto_server: str, tmp_path: Path
) -> None:
    # GIVEN a changes file of puts, an update and a delete, plain JSON and DynamoDB JSON, one item the filter drops
    changes = write_changes(tmp_path / "changes.jsonl", CHANGES)

    # WHEN run applies them and runs until idle, writing a report for CI
    done = run_command(*local_run(demo_outdir, dynamodb_local, moto_server, "chg"), "--changes", str(changes),
                       "--report", "report.json", cwd=tmp_path)  # fmt: skip

    # THEN each change reached the handler in order, numbers exact, and the report says so
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"applied 6 changes from {changes}" in out
    (function_line,) = [line for line in out.splitlines() if line.startswith("function ")]
    assert re.fullmatch(
        r"function OrdersTriggerFunction\w+ \(app\.handler\): \d+ invocations \(0 failed\), 5 records, "
        r"0 sent to the on-failure destination after retries, 0 quarantined",
        function_line,
    )
    assert re.search(r"table chg\w+-OrdersTable\w+: 0 items before, 3 after", out)
    assert re.search(r"table chg\w+-OrderSummaries\w+: 0 items before, 2 after", out)
    summaries = local_client(dynamodb_local.endpoint_url, "dynamodb").scan(
        TableName=re.search(r"(chg\w+-OrderSummaries\w+)", out)[1],
        ConsistentRead=True,  # type: ignore[index]
    )["Items"]
    by_order = {item["orderId"]["S"]: item for item in summaries}
    assert by_order["1"]["total"] == {"N": "0.3"} and by_order["1"]["status"] == {"S": "SHIPPED"}
    assert by_order["3"]["total"] == {"N": "0"} and set(by_order) == {"1", "3"}
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["changesApplied"] == 6 and report["recordsOnFailure"] == 0
    assert report["dynamodbEndpoint"] == dynamodb_local.endpoint_url
    (function,) = report["functions"]
    assert (function["records"], function["failedInvocations"], function["quarantined"]) == (5, 0, 0)
    (orders_counts,) = [counts for name, counts in report["tables"].items() if "OrdersTable" in name]
    assert orders_counts == {"before": 0, "after": 3}
    # Off a terminal the progress is plain lines, never a carriage return.
    assert "\r" not in done.stderr
    assert all(line.startswith("waiting on the streams: ") for line in done.stderr.splitlines() if "records" in line)


def test_a_record_that_reaches_an_on_failure_destination_makes_the_exit_status_1(
    demo_outdir: Path, dynamodb_local: DynamoDBLocal, moto_server: str, tmp_path: Path
) -> None:
    # GIVEN an order whose price is unreadable: the demo's handler fails it as final, and the runtime quarantines it
    poison = {"put": "Orders", "item": {"PK": "CUSTOMER#9", "SK": "ORDER#9", "lines": [{"price": "a lot"}]}}
    changes = write_changes(tmp_path / "changes.jsonl", [poison, CHANGES[0]])

    # WHEN run carries them, once as is and once accepting failures
    failed = run_command(*local_run(demo_outdir, dynamodb_local, moto_server, "poison"), "--changes", str(changes),
                         "--report", "report.json", cwd=tmp_path)  # fmt: skip
    accepted = run_command(*local_run(demo_outdir, dynamodb_local, moto_server, "accepted"), "--changes",
                           str(changes), "--allow-failures", cwd=tmp_path)  # fmt: skip

    # THEN the quarantined record is read back from the on-failure queue and reported; only --allow-failures exits 0
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "1 quarantined" in failed.stdout
    assert re.search(
        r"on-failure http://\S+poison\S+: Quarantined, 1 records of OrdersTriggerFunction\w+: PermanentError: an "
        r"order line without a readable price",
        failed.stdout,
    )
    assert failed.stdout.rstrip().endswith(
        "exit status 1: 1 records reached on-failure destinations (--allow-failures to accept that)"
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["recordsOnFailure"] == 1 and report["functions"][0]["quarantined"] == 1
    assert report["onFailure"][0]["condition"] == "Quarantined"
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "1 quarantined" in accepted.stdout


def test_a_malformed_change_or_an_unknown_table_stops_run_with_where_and_why(
    demo_outdir: Path, dynamodb_local: DynamoDBLocal, moto_server: str, tmp_path: Path
) -> None:
    malformed = write_changes(tmp_path / "malformed.jsonl", [CHANGES[0], {"put": "Orders", "itme": {"PK": "x"}}])
    unknown = write_changes(tmp_path / "unknown.jsonl", [{"put": "Customers", "item": {"PK": "x"}}])

    bad_line = run_command(*local_run(demo_outdir, dynamodb_local, moto_server, "bad"), "--changes", str(malformed),
                           cwd=tmp_path)  # fmt: skip
    bad_table = run_command(*local_run(demo_outdir, dynamodb_local, moto_server, "bad"), "--changes", str(unknown),
                            cwd=tmp_path)  # fmt: skip

    assert bad_line.returncode == 1
    assert f"--changes: {malformed}:2: unknown fields for put: itme (did you mean item?)" in bad_line.stderr
    assert "created tables" not in bad_line.stdout
    assert bad_table.returncode == 1
    assert re.search(r"--changes: no table 'Customers'; the tables are: OrderSummaries\w+ \(bad\w+-OrderSummaries",
                     bad_table.stderr)  # fmt: skip


def test_the_printed_endpoint_takes_writes_while_run_polls(demo_outdir: Path, tmp_path: Path) -> None:
    # GIVEN run polling the demo app on a DynamoDB Local of its own
    process = subprocess.Popen(
        [sys.executable, "-m", "constructs_pkg.local", "run", "--app", str(demo_outdir), "--stack", "Demo"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        hint = _line_starting(process, "write to them while it runs")
        # WHEN the user writes to the printed endpoint, with the CLI's arguments the hint gives
        endpoint = re.search(r"--endpoint-url (\S+)", hint)[1]  # type: ignore[index]
        table = re.search(r"--table-name (\S+)", hint)[1]  # type: ignore[index]
        assert "OrderSummaries" in table or "OrdersTable" in table
        _line_starting(process, "polling; Ctrl-C to stop")
        orders = next(name for name in local_client(endpoint, "dynamodb").list_tables()["TableNames"] if "Orders" in
                      name and "Summaries" not in name)  # fmt: skip
        local_client(endpoint, "dynamodb").put_item(
            TableName=orders, Item={"PK": {"S": "CUSTOMER#7"}, "SK": {"S": "ORDER#7"}, "status": {"S": "NEW"}}
        )
        time.sleep(3)
    finally:
        # AND stops it with Ctrl-C
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)

    # THEN the write reached the handler, and run ended cleanly with its report
    assert process.returncode == 0, out + err
    assert re.search(r"function OrdersTriggerFunction\w+ \(app\.handler\): 1 invocations \(0 failed\), 1 records", out)


def test_on_a_terminal_the_progress_line_rewrites_itself(
    demo_outdir: Path, dynamodb_local: DynamoDBLocal, moto_server: str, tmp_path: Path
) -> None:
    # GIVEN run's stderr on a terminal (a pseudo-terminal here)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "constructs_pkg.local", "run",
         *local_run(demo_outdir, dynamodb_local, moto_server, "tty"), "--until-idle", "1.5"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    written = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        try:
            chunk = os.read(leader, 4096) if ready else b""
        except OSError:  # the terminal closed with the process
            chunk = b""
        if not chunk:
            break
        written += chunk
    process.communicate(timeout=60)
    os.close(leader)

    # THEN the progress is one line redrawn in place, erased to its end each time, closed by one line break
    assert process.returncode == 0
    progress = written.decode()
    assert "\rwaiting on the streams: 0 records read" in progress
    assert "\x1b[K" in progress and progress.count("waiting on the streams") >= 1


def _line_starting(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line
    raise AssertionError(f"run printed no line starting {prefix!r}")
