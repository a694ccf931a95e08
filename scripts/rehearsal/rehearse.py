"""The deploy rehearsal's steps: moto on a free loopback port (with ``moto_fixes``), then the project's pinned CDK CLI
as the README has users run it (``cdk bootstrap``, ``cdk deploy --all --require-approval never``), a check of every
deployed stack through the services' own APIs, ``python -m constructs_pkg.local run --aws`` carrying an order written
to BasicFlow's table to its summaries table through the deployed configuration, ``cdk destroy --all --force``, and a
check that nothing is left but what the templates retain.

Each step says what it ran; a step that fails stops the rehearsal with what failed (the command's last lines of
output, or each problem found) and exit status 1. The last line on success is
``deploy rehearsal: N stacks deployed, R resources created, X resource types left out``.
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
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

from scripts.rehearsal.deployed import DeployedStack, StackTemplate
from scripts.rehearsal.moto_server import running_rehearsal_moto

__all__ = ["RehearsalFailed", "cli_environment", "main", "read_stacks", "summary_line"]

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# BasicFlow, the stack `run --aws` is rehearsed on: its mapping's table takes the order, its function's variable names
# the summaries table.
RUN_AWS_STACK = "BasicFlow"
TOOLKIT_STACK = "CDKToolkit"
SUMMARY_TABLE_VARIABLE = "SUMMARY_TABLE_NAME"
_TAIL_LINES = 40
_MOTO_ERRORS = 5
# moto's request log and the banner of its development server.
_MOTO_NOISE = (
    "127.0.0.1 - - [",
    "Traceback",
    "During handling",
    "The above exception",
    "\x1b",
    " * Running",
    "WARNING",
)
_CLI_TIMEOUT_SECONDS = 300


class RehearsalFailed(Exception):
    """A step failed: ``step`` names it, ``details`` say what failed."""

    def __init__(self, step: str, details: Sequence[str]) -> None:
        super().__init__(f"{step}: {'; '.join(details)}")
        self.step = step
        self.details = list(details)


def say(line: str) -> None:
    print(line, flush=True)


def cli_environment(endpoint: str, workdir: Path) -> dict[str, str]:
    """The environment the CDK CLI and ``run --aws`` run in: this process's, without any AWS setting of the
    developer's (profile, keys, endpoints, config files), pointed at moto with dummy credentials."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "rehearsal",
            "AWS_SECRET_ACCESS_KEY": "rehearsal",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            # moto's fault, worked around with the CLI's own setting. The CLI hands CloudFormation the template as a
            # TemplateURL at the S3 endpoint it resolves, here moto's http://127.0.0.1:PORT/BUCKET/KEY; moto's
            # CloudFormation reads a path-style URL only on `localhost` or an amazonaws.com host and takes anything
            # else as virtual-hosted, so it looks for bucket "127" ("The specified bucket does not exist"). With
            # this, the CLI names S3's regional endpoint instead, the URL a real account gets; moto reads it from
            # its own S3 and never fetches it.
            "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": f"https://s3.{REGION}.amazonaws.com",
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }
    )
    return environment


def run_step(step: str, command: Sequence[str], environment: Mapping[str, str], *, verbose: bool) -> str:
    """Run ``command`` from the checkout; its output, or RehearsalFailed with its last lines."""
    say(f"{step}: {shlex.join(command)}")
    started = time.monotonic()
    try:
        finished = subprocess.run(
            command,
            cwd=ROOT,
            env=dict(environment),
            stdout=None if verbose else subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=_CLI_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as timeout:
        output = timeout.output.decode() if isinstance(timeout.output, bytes) else (timeout.output or "")
        raise RehearsalFailed(step, [f"no answer in {_CLI_TIMEOUT_SECONDS} s", *_tail(output)]) from None
    output = finished.stdout or ""
    if finished.returncode != 0:
        raise RehearsalFailed(step, [f"exited with {finished.returncode}", *_tail(output)])
    say(f"{step}: done in {time.monotonic() - started:.0f} s")
    return output


def _tail(output: str) -> list[str]:
    return output.rstrip().splitlines()[-_TAIL_LINES:]


def read_stacks(assembly: Path) -> list[StackTemplate]:
    """Every stack of the cloud assembly in ``assembly``, in the manifest's order."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = []
    for artifact_id, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        template = json.loads((assembly / properties["templateFile"]).read_text())
        stacks.append(StackTemplate(properties.get("stackName", artifact_id), template))
    return stacks


def summary_line(stacks: int, resources: int, left_out_types: int) -> str:
    return (
        f"deploy rehearsal: {stacks} stacks deployed, {resources} resources created, "
        f"{left_out_types} resource types left out"
    )


def _clients(endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal", region_name=REGION
    )
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = session.client(service, endpoint_url=endpoint)
        return made[service]

    return client


def check_deployed(stacks: Sequence[StackTemplate], services: Any) -> list[DeployedStack]:
    deployed, problems = [], []
    cloudformation = services("cloudformation")
    for stack in stacks:
        try:
            (described,) = cloudformation.describe_stacks(StackName=stack.name)["Stacks"]
        except cloudformation.exceptions.ClientError as error:
            problems.append(f"{stack.name}: not deployed ({error})")
            continue
        if described["StackStatus"] != "CREATE_COMPLETE":
            # Listing a failed stack's resources makes moto try to create the missing ones again: not done.
            problems.append(f"{stack.name}: {described['StackStatus']}")
            continue
        found = DeployedStack.read(stack, services)
        deployed.append(found)
        problems += found.problems(services)
    if problems:
        raise RehearsalFailed("check deployed stacks", problems)
    for found in deployed:
        left_out = found.stack.left_out()
        say(
            f"{found.stack.name}: {len(found.stack.resources)} resources, {len(found.created)} created"
            + (
                "; left out (moto lacks the type): "
                + ", ".join(f"{kind} ({n})" for kind, n in sorted(left_out.items()))
                if left_out
                else ""
            )
        )
    return deployed


def check_run_aws(
    deployed: Sequence[DeployedStack], assembly: Path, environment: Mapping[str, str], services: Any
) -> None:
    """An order written to BasicFlow's table reaches its summaries table through ``run --aws``."""
    step = "run --aws"
    basic_flow = next((stack for stack in deployed if stack.stack.name == RUN_AWS_STACK), None)
    if basic_flow is None:
        raise RehearsalFailed(step, [f"the app has no {RUN_AWS_STACK} stack"])
    orders, summaries = _basic_flow_tables(basic_flow, services)
    order_id = f"rehearsal-{uuid.uuid4().hex[:8]}"
    services("dynamodb").put_item(
        TableName=orders,
        Item={
            "PK": {"S": "CUSTOMER#rehearsal"},
            "SK": {"S": f"ORDER#{order_id}"},
            "status": {"S": "NEW"},
            "lines": {"L": [{"M": {"price": {"N": "2.50"}, "quantity": {"N": "4"}}}]},
        },
    )
    say(f"{step}: wrote order {order_id} to {orders}")
    command = [
        sys.executable, "-m", "constructs_pkg.local", "run", "--aws", "--app", str(assembly), "--stack",
        RUN_AWS_STACK, "--starting-position", "TRIM_HORIZON", "--until-idle", "2", "--timeout", "120",
    ]  # fmt: skip
    output = run_step(step, command, environment, verbose=False)
    summary = (
        services("dynamodb")
        .get_item(TableName=summaries, Key={"customerId": {"S": "rehearsal"}, "orderId": {"S": order_id}})
        .get("Item")
    )
    if summary is None or summary.get("total", {}).get("N") not in ("10", "10.0", "10.00"):
        raise RehearsalFailed(step, [f"no summary of order {order_id} in {summaries}: {summary}", *_tail(output)])
    say(f"{step}: the order's summary is in {summaries} (total {summary['total']['N']})")


def _basic_flow_tables(basic_flow: DeployedStack, services: Any) -> tuple[str, str]:
    """(BasicFlow's orders table, its summaries table): the table its mapping reads, the one its function writes."""
    resources = basic_flow.stack.resources
    (mapping,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    table_id = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
    function_id = mapping["Properties"]["FunctionName"]["Ref"]
    configuration = services("lambda").get_function_configuration(FunctionName=basic_flow.physical_ids[function_id])
    variables = configuration.get("Environment", {}).get("Variables", {})
    if SUMMARY_TABLE_VARIABLE not in variables:
        raise RehearsalFailed("run --aws", [f"the deployed function has no {SUMMARY_TABLE_VARIABLE}: {variables}"])
    return basic_flow.physical_ids[table_id], variables[SUMMARY_TABLE_VARIABLE]


def check_destroyed(deployed: Sequence[DeployedStack], services: Any) -> list[str]:
    """Raises when a stack or a resource it does not retain outlived ``cdk destroy``; returns the retained ones."""
    problems, retained = [], []
    cloudformation = services("cloudformation")
    for found in deployed:
        with contextlib.suppress(cloudformation.exceptions.ClientError):
            (stack,) = cloudformation.describe_stacks(StackName=found.stack.name)["Stacks"]
            if stack["StackStatus"] != "DELETE_COMPLETE":
                problems.append(f"{found.stack.name}: {stack['StackStatus']} after cdk destroy")
        left, kept = found.left_behind(services)
        problems += [f"{line}: left behind by cdk destroy" for line in left]
        retained += kept
    if problems:
        raise RehearsalFailed("check destroyed stacks", problems)
    return retained


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Any error inside is the failure of step ``name``, with its traceback on stderr."""
    try:
        yield
    except RehearsalFailed:
        raise
    except Exception as error:
        traceback.print_exc()
        raise RehearsalFailed(name, [f"{type(error).__name__}: {error}"]) from error


def check_bootstrapped(services: Any) -> None:
    """The toolkit stack hands back its outputs: the CLI reads BootstrapVersion there."""
    (toolkit,) = services("cloudformation").describe_stacks(StackName=TOOLKIT_STACK)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in toolkit.get("Outputs") or []}
    if "BootstrapVersion" not in outputs:
        raise RehearsalFailed("cdk bootstrap", [f"{TOOLKIT_STACK} has no BootstrapVersion output: {outputs}"])
    bucket = outputs.get("BucketName")
    say(f"cdk bootstrap: {TOOLKIT_STACK} version {outputs['BootstrapVersion']}, assets bucket {bucket}")


def rehearse(*, verbose: bool = False) -> str:
    """Run the rehearsal; returns its summary line. Raises RehearsalFailed, with the end of moto's log."""
    with tempfile.TemporaryDirectory(prefix="deploy-rehearsal.") as workdir:
        moto_log = Path(workdir) / "moto.log"
        try:
            with moto_log.open("w") as log, running_rehearsal_moto(log) as endpoint:
                return _rehearse(endpoint, Path(workdir), verbose=verbose)
        except RehearsalFailed as failure:
            raise RehearsalFailed(failure.step, [*failure.details, *_moto_errors(moto_log)]) from failure


def _moto_errors(moto_log: Path) -> list[str]:
    """The errors at the end of moto's log: each traceback's last line, without its frames or the request lines."""
    lines = moto_log.read_text().splitlines()
    errors = [line for line in lines if line and not line[0].isspace() and not line.startswith(_MOTO_NOISE)]
    return ["moto's log, last errors:", *errors[-_MOTO_ERRORS:]] if errors else []


def _rehearse(endpoint: str, workdir: Path, *, verbose: bool) -> str:
    cli = [str(ROOT / ".tools" / "node" / "node_modules" / ".bin" / "cdk")]
    started = time.monotonic()
    say(f"moto: CloudFormation, S3, SSM, IAM, Lambda, DynamoDB and the rest at {endpoint}")
    environment = cli_environment(endpoint, workdir)
    services = _clients(endpoint)
    assembly = workdir / "cdk.out"
    with step("cdk bootstrap"):
        account = services("sts").get_caller_identity()["Account"]
        bootstrap = [*cli, "bootstrap", f"aws://{account}/{REGION}", "--no-notices"]
        run_step("cdk bootstrap", bootstrap, environment, verbose=verbose)
        check_bootstrapped(services)
    deploy = [*cli, "deploy", "--all", "--require-approval", "never", "--no-notices", "--output", str(assembly)]
    with step("cdk deploy"):
        run_step("cdk deploy", deploy, environment, verbose=verbose)
    with step("check deployed stacks"):
        deployed = check_deployed(read_stacks(assembly), services)
    with step("run --aws"):
        check_run_aws(deployed, assembly, environment, services)
    # The assembly the deploy wrote: the same stacks, without synthesizing the app a second time.
    destroy = [*cli, "destroy", "--all", "--force", "--no-notices", "--app", str(assembly)]
    with step("cdk destroy"):
        run_step("cdk destroy", destroy, environment, verbose=verbose)
    with step("check destroyed stacks"):
        retained = check_destroyed(deployed, services)
    for line in retained:
        say(f"kept by its template (DeletionPolicy Retain), as in an account: {line}")
    left_out_types: Counter[str] = Counter()
    for found in deployed:
        left_out_types.update(found.stack.left_out())
    say(f"rehearsed in {time.monotonic() - started:.0f} s")
    return summary_line(len(deployed), sum(len(found.created) for found in deployed), len(left_out_types))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/deploy-rehearsal", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--verbose", action="store_true", help="show the CDK CLI's output as it runs (Default: off)")
    args = parser.parse_args(argv)
    try:
        line = rehearse(verbose=args.verbose)
    except RehearsalFailed as failure:
        say(f"deploy rehearsal FAILED at {failure.step}:")
        for detail in failure.details:
            say(f"  {detail}")
        return 1
    say(line)
    return 0
