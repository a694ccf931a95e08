"""Every ``python -m constructs_pkg.local`` command the README shows, run as users type it: the README's own line,
split as a shell splits it (its variables from the environment), in a new process. A command that polls until Ctrl-C
gets one once it polls. And every option of the tools the README names is in one of those commands, in one of the
further commands here, or in a named test that runs it the same way.

Commands on deployed stacks or real providers run against stand-ins on loopback: ``run --aws`` against moto in server
mode with BasicFlow deployed in it (a profile in a config file of the test's, AWS_ENDPOINT_URL), ``--real anthropic``
with a made-up key (nothing is written, so nothing is sent).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path

import boto3
import pytest
from test_local_deployed import deploy_basic_flow

from constructs_pkg.local.__main__ import COMMANDS
from constructs_pkg.local.dynamodb_local import REGION, DynamoDBLocal, dynamodb_local_home, free_port, stop_process
from constructs_pkg.local.wire import lambda_event
from constructs_pkg.testing import StreamReader
from lambda_src.stream_runtime.quarantine import quarantine_message

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
POLLING = "polling; Ctrl-C to stop"
pytestmark = pytest.mark.slow
# The commands synthesize CDK apps: not among the tests a second Python runs (scripts/test-newer-python).
pytest.importorskip("aws_cdk")


def readme_commands() -> list[str]:
    """Each line of the README's bash blocks that runs ``python -m constructs_pkg.local``, its comment left off."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.DOTALL):
        for line in block.splitlines():
            if "python -m constructs_pkg.local " in line and not line.lstrip().startswith("#"):
                lines.append(shlex.join(shlex.split(line, comments=True)))
    return list(dict.fromkeys(lines))


def typed(command: str, environment: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of ``command`` as a shell runs it: leading VAR=value set, $VAR expanded, ``python``
    this interpreter (the checkout's .venv, where scripts/setup.sh installed the package)."""
    words = shlex.split(command)
    environment = dict(environment)
    while re.fullmatch(r"[A-Z_]+=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        environment[name] = value
    argv = [re.sub(r"\$(\w+)", lambda match: environment[match[1]], word) for word in words]
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]], environment


def run_typed(command: str, cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv, environment = typed(command, environment)
    return subprocess.run(argv, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600, check=False)


def run_until_interrupted(command: str, cwd: Path, environment: dict[str, str]) -> tuple[int, str, str]:
    """Run ``command`` until it prints that it polls, then Ctrl-C it; its exit status and output."""
    argv, environment = typed(command, environment)
    process = subprocess.Popen(argv, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith(POLLING):
                break
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    return process.returncode, "".join(seen) + out, err


def environment_here() -> dict[str, str]:
    return dict(os.environ)


# --- the README's commands -----------------------------------------------------------------------------------------


def setup_plain(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # The checkout's install, which scripts/setup.sh made with this very command: found, nothing installed again.
    done = run_typed("python -m constructs_pkg.local setup", tmp_path, environment_here())
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"DynamoDB Local already installed in {dynamodb_local_home()}")


def setup_from_download(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # AWS's download: the jar, its libraries and the license files at the top of the archive.
    with tarfile.open(tmp_path / "dynamodb_local_latest.tar.gz", "w:gz", compresslevel=1) as archive:
        for path in dynamodb_local_home().iterdir():
            archive.add(path, arcname=path.name)
    environment = {**environment_here(), "DYNAMODB_LOCAL_DIR": str(tmp_path / "installed")}
    done = run_typed(_readme_line("setup --from"), tmp_path, environment)
    assert done.returncode == 0, done.stderr
    assert f"installed in {tmp_path / 'installed'} (from {tmp_path / 'dynamodb_local_latest.tar.gz'})" in done.stdout
    assert "DynamoDB Local answered at http://127.0.0.1:" in done.stdout


def demo(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    done = run_typed("python -m constructs_pkg.local demo", tmp_path, environment_here())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8. done: 5 records read, 1 filtered out, 2 invocations (0 failed), 4 records processed" in done.stdout


def run_cdk_json_app(stack: str) -> Callable[[pytest.FixtureRequest, Path], None]:
    def run(request: pytest.FixtureRequest, tmp_path: Path) -> None:
        command = next(line for line in readme_commands() if line.endswith(f"run --stack {stack}") or
                       (f"run --stack {stack} " in line and "--aws" not in line))  # fmt: skip
        status, out, err = run_until_interrupted(command, ROOT, {**environment_here(), "ANTHROPIC_API_KEY": "x"})
        assert status == 0, out + err
        assert f"synthesizing: {json.loads((ROOT / 'cdk.json').read_text())['app']}" in out
        assert POLLING in out and "done: " in out

    return run


def run_real_anthropic(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    status, out, err = run_until_interrupted(_readme_line("--real anthropic"), ROOT, environment_here())
    assert status == 0, out + err
    assert "AI provider anthropic: the real service" in out and POLLING in out


def run_assembly(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    shutil.copytree(request.getfixturevalue("basic_flow_outdir"), tmp_path / "cdk.out")
    done = run_typed(_readme_line("run --app cdk.out"), tmp_path, environment_here())
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"function OrdersTriggerFunction\w+ \(app\.handler\): 0 invocations", done.stdout)


def run_changes(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # The README's changes file, as it shows it.
    body = README.split("- `--changes FILE`", 1)[1]
    (block,) = re.findall(r"```json\n(.*?)```", body, re.DOTALL)[:1]
    (tmp_path / "changes.jsonl").write_text("\n".join(line.strip() for line in block.splitlines()) + "\n")
    done = run_typed(_readme_line("--changes changes.jsonl"), tmp_path, environment_here())
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["changesApplied"] == 4 and report["functions"][0]["records"] == 4
    (orders,) = [counts for name, counts in report["tables"].items() if "OrdersTable" in name]
    assert orders == {"before": 0, "after": 1}


def run_aws(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # GIVEN BasicFlow deployed in the "account" (a moto server of its own process: moto's servers in this one share
    # their state, and other tests deploy BasicFlow too), and a staging profile for it
    endpoint = request.getfixturevalue("separate_account")
    deploy_basic_flow(request.getfixturevalue("basic_flow_outdir"), endpoint)
    (tmp_path / "config").write_text("[profile staging]\nregion = eu-west-1\n")
    (tmp_path / "credentials").write_text(
        "[staging]\naws_access_key_id = AKIADEPLOYEDACCOUNT1\naws_secret_access_key = deployed-account-secret\n"
    )
    environment = {
        **{name: value for name, value in environment_here().items() if not name.startswith("AWS_")},
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_ENDPOINT_URL": endpoint,
    }
    status, out, err = run_until_interrupted(_readme_line("AWS_PROFILE=staging"), ROOT, environment)
    assert status == 0, out + err
    assert "reading the deployed stacks BasicFlow in eu-west-1" in out and POLLING in out


def reindex_products(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # The README's table and index; the domain is the OpenSearch stub, DynamoDB the session's DynamoDB Local.
    from constructs_pkg.local.stubs.opensearch import OpenSearchStub

    database: DynamoDBLocal = request.getfixturevalue("dynamodb_local")
    client = database.client()
    client.create_table(
        TableName="Products",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
    )
    for number in range(30):
        client.put_item(TableName="Products", Item={"PK": {"S": f"P{number:02d}"}, "name": {"S": f"product {number}"}})
    with OpenSearchStub() as search:
        environment = {
            **{name: value for name, value in environment_here().items() if not name.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_DYNAMODB": database.endpoint_url,
            "SEARCH_ENDPOINT": search.url,
        }
        done = run_typed(_readme_line("reindex --table Products"), tmp_path, environment)
        assert done.returncode == 0, done.stderr
        assert "30 items scanned, 30 written" in done.stdout
        assert search.documents("products")["P07"]["name"] == "product 7"


def recompute_sales(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    from constructs_pkg import GroupBy, Measure
    from lambda_src.stream_aggregator.spec import AggregationSpec, group_key

    # GIVEN the README's two tables on DynamoDB Local: two sales, and aggregates that counted one of them twice
    database: DynamoDBLocal = request.getfixturevalue("dynamodb_local")
    client = database.client()
    for name, key in (("Sales", "PK"), ("Aggregates", "aggregate")):
        client.create_table(TableName=name, KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")  # fmt: skip
    for number, amount in ((1, "10.25"), (2, "4.75")):
        sale = {"PK": {"S": f"SALE#{number}"}, "store": {"S": "s1"}, "soldAt": {"S": "2026-11-30T09:00:00"}}
        client.put_item(TableName="Sales", Item={**sale, "amount": {"N": amount}})
    key = group_key(["s1", "2026-11-30"])
    counted_twice = {"aggregate": {"S": key}, "store": {"S": "s1"}, "day": {"S": "2026-11-30"}, "sales": {"N": "3"},
                     "total": {"N": "25.25"}, "mark:shard-1": {"S": "0" * 40 + "@0"}}  # fmt: skip
    client.put_item(TableName="Aggregates", Item=counted_twice)
    spec = AggregationSpec((GroupBy.attribute("store"), GroupBy.time_bucket("soldAt", "day")),
                           (Measure.count(name="sales"), Measure.sum("amount", name="total")))  # fmt: skip
    environment = {
        **{name: value for name, value in environment_here().items() if not name.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": database.endpoint_url,
        "AGGREGATOR_SPEC": spec.to_json(),
    }
    line = _readme_line("recompute-aggregates --source Sales")

    # WHEN it compares, THEN the group is reported and the exit status says so
    found = run_typed(line, tmp_path, environment)
    assert found.returncode == 1, found.stderr
    assert f"differs {key}: stored 3, 25.25, recomputed 2, 15.00" in found.stdout

    # WHEN it repairs, THEN the measures are the recomputed ones, the mark is kept, and nothing differs any more
    repaired = run_typed(f"{line} --repair", tmp_path, environment)
    assert repaired.returncode == 0 and "1 groups differ, 1 repaired" in repaired.stdout, repaired.stderr
    item = client.get_item(TableName="Aggregates", Key={"aggregate": {"S": key}})["Item"]
    assert item["sales"] == {"N": "2"} and float(item["total"]["N"]) == 15 and "mark:shard-1" in item
    again = run_typed(f"{line} --dynamodb-endpoint {database.endpoint_url}", tmp_path, environment)
    assert again.returncode == 0 and "0 groups differ" in again.stdout, again.stderr


def restore_sessions(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    from lambda_src.ttl_archiver.archive import encoded_lines, object_key

    # GIVEN an archive on moto's S3 of three sessions that expired in November and one in December, and the README's
    # Sessions table on DynamoDB Local holding a newer copy of one of them
    database: DynamoDBLocal = request.getfixturevalue("dynamodb_local")
    moto: str = request.getfixturevalue("moto_server")
    client = database.client()
    client.create_table(TableName="Sessions", KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=moto, region_name=REGION, aws_access_key_id="local",
                      aws_secret_access_key="local")  # fmt: skip
    bucket = f"archive-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    for day, names in (("2026-11-29", ["A", "B", "C"]), ("2026-12-01", ["D"])):
        keys = [{"PK": {"S": f"SESSION#{name}"}} for name in names]
        lines = [{"Item": {**key, "user": {"S": name}}, "Keys": key, "deletedBy": "ttl", "sequenceNumber": str(100 + n)}
                 for n, (key, name) in enumerate(zip(keys, names, strict=True))]  # fmt: skip
        s3.put_object(Bucket=bucket, Key=object_key("archive/", day, "Sessions", 100), Body=encoded_lines(lines))
    client.put_item(TableName="Sessions", Item={"PK": {"S": "SESSION#B"}, "user": {"S": "newer"}})
    environment = {
        **{name: value for name, value in environment_here().items() if not name.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": database.endpoint_url,
        "AWS_ENDPOINT_URL_S3": moto,
        "ARCHIVE_BUCKET": bucket,
    }
    line = _readme_line("restore --bucket")

    # WHEN the README's November restore runs, THEN November's sessions are back but the newer one, December's is not
    done = run_typed(line, tmp_path, environment)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "restored 2 items into Sessions, 1 kept (the table holds their key)"
    users = {item["PK"]["S"]: item["user"]["S"] for item in client.scan(TableName="Sessions")["Items"]}
    assert users == {"SESSION#A": "A", "SESSION#B": "newer", "SESSION#C": "C"}

    # WHEN one key is restored through the options the README names, THEN that item alone comes back
    one = run_typed(f"python -m constructs_pkg.local restore --bucket {bucket} --prefix archive/ --table Sessions "
                    f"""--key '{{"PK": {{"S": "SESSION#D"}}}}' --dynamodb-endpoint {database.endpoint_url} """
                    f"--s3-endpoint {moto}", tmp_path, environment)  # fmt: skip
    assert one.returncode == 0 and one.stdout.startswith("restored 1 items into Sessions"), one.stderr
    assert client.get_item(TableName="Sessions", Key={"PK": {"S": "SESSION#D"}})["Item"]["user"] == {"S": "D"}


def search_demo(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    done = run_typed(_readme_line("search-demo"), ROOT, environment_here())
    assert done.returncode == 0, done.stderr[-2000:]
    searches = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("search ")]
    assert searches[0] == 'search category = lighting: 2 hits: ["Desk lamp (24.9)", "Floor lamp (89)"]'


def redrive_queue(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # GIVEN Lambda's record of a failed batch in an SQS queue on moto, and the fixed handler in ./handler
    world = _redrive_world(request, tmp_path)
    queue_url = world.sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    world.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(world.message))
    environment = {**world.environment, "FAILURES_QUEUE_URL": queue_url}
    argv, environment = typed(_readme_line("redrive --queue-url"), environment)
    done = subprocess.run([*argv, "--dynamodb-endpoint", world.database.endpoint_url], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("from payload, delivered 1, failed 0, trimmed 0")
    assert (tmp_path / "seen.json").is_file()


@pytest.fixture(scope="module")
def separate_account() -> Iterator[str]:
    """moto in server mode in a process of its own, on a free loopback port; its URL."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        stop_process(server)


RUNNERS: dict[str, Callable[[pytest.FixtureRequest, Path], None]] = {}


def _readme_line(fragment: str) -> str:
    (line,) = [line for line in readme_commands() if fragment in line]
    return line


def _runners() -> dict[str, Callable[[pytest.FixtureRequest, Path], None]]:
    if not RUNNERS:
        RUNNERS.update({
            "python -m constructs_pkg.local setup": setup_plain,
            _readme_line("setup --from"): setup_from_download,
            "python -m constructs_pkg.local demo": demo,
            _readme_line("run --stack BasicFlow"): run_cdk_json_app("BasicFlow"),
            _readme_line("run --stack AwsNativeAiPipelines"): run_cdk_json_app("AwsNativeAiPipelines"),
            _readme_line("--real anthropic"): run_real_anthropic,
            _readme_line("run --app cdk.out"): run_assembly,
            _readme_line("--changes changes.jsonl"): run_changes,
            _readme_line("AWS_PROFILE=staging"): run_aws,
            _readme_line("redrive --queue-url"): redrive_queue,
            _readme_line("reindex --table Products"): reindex_products,
            _readme_line("search-demo"): search_demo,
            _readme_line("recompute-aggregates --source Sales"): recompute_sales,
            _readme_line("restore --bucket"): restore_sessions,
        })  # fmt: skip
    return RUNNERS


def test_every_command_the_readme_shows_is_run_here() -> None:
    assert sorted(readme_commands()) == sorted(_runners())


@pytest.mark.parametrize("command", readme_commands())
def test_the_readmes_command(command: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    _runners()[command](request, tmp_path)


# --- the options the README names, beyond its command lines --------------------------------------------------------

# Options run through python -m constructs_pkg.local in a subprocess by other tests: option -> that test.
ELSEWHERE = {
    "--delete": "test_local_quarantine_redrive.py::test_the_cli_redrives_quarantine_messages_from_a_queue",
    "--s3-bucket": "test_local_quarantine_redrive.py::test_the_cli_reads_both_lambdas_and_the_runtimes_objects",
    "--allow-failures": "test_run_changes.py::test_a_record_that_reaches_an_on_failure_destination_makes",
}
# The further commands here (each run by a test below): the options of run and redrive no README line shows.
FURTHER = {
    "run": ["--app", "--stack", "--until-idle", "--timeout", "--dynamodb-endpoint", "--sqs-endpoint", "--table-prefix",
            "--starting-position", "--no-create-tables"],
    "redrive": ["--message-file", "--sns-message-file", "--s3-bucket", "--s3-prefix", "--handler", "--code-dir",
                "--layer-dir", "--function-name", "--dynamodb-endpoint"],
    "setup": ["--from", "--force", "--check"],
}  # fmt: skip


def _tool_options() -> set[str]:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    for module in COMMANDS:
        importlib.import_module(module).add_command(commands)
    options = set()
    for subparser in commands.choices.values():
        for action in subparser._actions:
            options.update(option for option in action.option_strings if option.startswith("--"))
    return options - {"--help"}


def test_every_option_the_readme_names_is_run_by_a_test() -> None:
    sections = [README.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0] for name in ("Install", "Run it locally")]
    named = {option for text in sections for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)}
    named &= _tool_options() | {"--no-create-tables"}
    in_commands = {word.partition("=")[0] for line in readme_commands() for word in shlex.split(line)}
    further = {option for options in FURTHER.values() for option in options}
    for option, where in ELSEWHERE.items():
        module, _, test = where.partition("::")
        source = (ROOT / "tests" / module).read_text()
        test_source = source.split(f"def {test}", 1)[1].split("\ndef ", 1)[0]
        assert option in test_source and ("_command(" in test_source or "subprocess" in test_source), where

    assert sorted(named - in_commands - further - set(ELSEWHERE)) == []


def test_runs_options_no_readme_line_shows(
    basic_flow_outdir: Path, dynamodb_local: DynamoDBLocal, moto_server: str, tmp_path: Path
) -> None:
    # GIVEN BasicFlow's tables made by a first run on running services, from the tip of the stream
    prefix = f"opts{uuid.uuid4().hex[:6]}-"
    local = ["--app", str(basic_flow_outdir), "--stack", "BasicFlow", "--dynamodb-endpoint",
             dynamodb_local.endpoint_url, "--sqs-endpoint", moto_server, "--table-prefix", prefix]  # fmt: skip
    tool = ["python", "-m", "constructs_pkg.local", "run", *local]
    first = run_typed(shlex.join([*tool, "--starting-position", "LATEST", "--until-idle", "0.5", "--timeout", "60"]),
                      tmp_path, environment_here())  # fmt: skip
    # WHEN a second run uses them as they are
    second = run_typed(shlex.join([*tool, "--no-create-tables", "--until-idle", "0.5"]), tmp_path, environment_here())

    assert first.returncode == 0, first.stderr
    assert re.search(r"opts\w+-OrdersTable\w+ stream -> app\.handler \(batch 100, LATEST,", first.stdout)
    assert second.returncode == 0, second.stderr
    assert "created tables" not in second.stdout and re.search(r"table opts\w+-OrdersTable", second.stdout)


def test_setup_force_and_check(tmp_path: Path) -> None:
    environment = {**environment_here(), "DYNAMODB_LOCAL_DIR": str(tmp_path / "installed")}
    source = str(dynamodb_local_home())

    forced = [run_typed(f"python -m constructs_pkg.local setup --from {source} --force", tmp_path, environment)
              for _ in range(2)]  # fmt: skip
    checked = run_typed("python -m constructs_pkg.local setup --check", tmp_path, environment)

    assert [done.stdout.split(" in ")[0] for done in forced] == ["DynamoDB Local installed"] * 2
    assert checked.returncode == 0 and "already installed" in checked.stdout and "answered at" in checked.stdout


class _RedriveWorld:
    def __init__(self, database: DynamoDBLocal, moto: str, tmp_path: Path) -> None:
        self.database = database
        self.environment = {
            **{name: value for name, value in environment_here().items() if not name.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_SQS": moto,
            "AWS_ENDPOINT_URL_S3": moto,
            "AWS_ENDPOINT_URL_LAMBDA": moto,
        }
        clients = {"endpoint_url": moto, "region_name": REGION, "aws_access_key_id": "testing",
                   "aws_secret_access_key": "testing"}  # fmt: skip
        self.sqs, self.s3, self.lambda_ = (boto3.client(name, **clients) for name in ("sqs", "s3", "lambda"))
        self.iam = boto3.client("iam", **clients)
        # A table with a stream, a record on it, and the runtime's quarantine message carrying it.
        client = database.client()
        table = f"redrive-{uuid.uuid4().hex[:8]}"
        client.create_table(TableName=table, KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST",
                            StreamSpecification={"StreamEnabled": True,
                                                 "StreamViewType": "NEW_AND_OLD_IMAGES"})  # fmt: skip
        stream_arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        client.put_item(TableName=table, Item={"PK": {"S": "item-1"}})
        records = StreamReader(database.streams(), stream_arn).read()
        context = type("Context", (), {"aws_request_id": "r", "invoked_function_arn": "arn:aws:lambda:x"})()
        self.message = quarantine_message(lambda_event(records, stream_arn)["Records"], ValueError("bad"), context)
        (tmp_path / "handler").mkdir()
        # The handler records each event; with a layer holding ``helper`` on its path, the helper marks that too.
        (tmp_path / "handler" / "app.py").write_text(
            "import json, pathlib\n"
            "def handler(event, context):\n"
            "    pathlib.Path('seen.json').write_text(json.dumps(event))\n"
            "    try:\n"
            "        import helper\n"
            "    except ImportError:\n"
            "        return {}\n"
            "    return helper.ok()\n"
        )
        (tmp_path / "layer" / "python").mkdir(parents=True)
        (tmp_path / "layer" / "python" / "helper.py").write_text(
            "import pathlib\ndef ok():\n    pathlib.Path('layer-used').touch()\n    return {'batchItemFailures': []}\n"
        )


def _redrive_world(request: pytest.FixtureRequest, tmp_path: Path) -> _RedriveWorld:
    return _RedriveWorld(request.getfixturevalue("dynamodb_local"), request.getfixturevalue("moto_server"), tmp_path)


def test_redrive_reads_files_sns_notifications_and_a_bucket_prefix_into_a_handler_with_a_layer(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # GIVEN the same quarantine message saved as a file, as an SNS notification, and in a bucket under quarantine/
    world = _redrive_world(request, tmp_path)
    (tmp_path / "message.json").write_text(json.dumps(world.message))
    notification = {"Type": "Notification", "MessageId": "1", "Message": json.dumps(world.message)}
    (tmp_path / "notification.json").write_text(json.dumps(notification))
    bucket = f"failures-{uuid.uuid4().hex[:8]}"
    world.s3.create_bucket(Bucket=bucket)
    world.s3.put_object(Bucket=bucket, Key="quarantine/f/1.json", Body=json.dumps(world.message).encode())
    world.s3.put_object(Bucket=bucket, Key="elsewhere/2.json", Body=b"not a message")

    # WHEN redrive reads all three into the handler, whose import comes from the layer
    done = subprocess.run(
        [sys.executable, "-m", "constructs_pkg.local", "redrive", "--message-file", "message.json",
         "--sns-message-file", "notification.json", "--s3-bucket", bucket, "--s3-prefix", "quarantine/",
         "--handler", "app:handler", "--code-dir", "handler", "--layer-dir", "layer",
         "--dynamodb-endpoint", world.database.endpoint_url],
        cwd=tmp_path, env=world.environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    # THEN each was redriven from its payload; the object outside the prefix was not read
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and all("quarantined (ValueError: bad), from payload, delivered 1, failed 0" in line
                                   for line in lines)  # fmt: skip
    assert (tmp_path / "layer-used").is_file()


def test_redrive_invokes_a_deployed_function_by_name(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # GIVEN a function deployed in moto, which runs it without Docker (its simple backend answers with the event)
    world = _redrive_world(request, tmp_path)
    moto = request.getfixturevalue("moto_server")
    configure = urllib.request.Request(f"{moto}/moto-api/config", method="POST",
                                       data=json.dumps({"lambda": {"use_docker": False}}).encode(),
                                       headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(configure, timeout=10).read()
    role = world.iam.create_role(RoleName=f"r-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    name = f"orders-{uuid.uuid4().hex[:6]}"
    world.lambda_.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                                  Code={"ZipFile": code.getvalue()})  # fmt: skip
    (tmp_path / "message.json").write_text(json.dumps(world.message))

    done = subprocess.run(
        [sys.executable, "-m", "constructs_pkg.local", "redrive", "--message-file", "message.json",
         "--function-name", name],
        cwd=tmp_path, env=world.environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "from payload, delivered 1, failed 0" in done.stdout
