"""``run --aws``: the runner reads a deployed table's stream and runs the handler here, with boto3's default
credentials. The "account" is moto in server mode, reached the way any AWS account is (boto3's default session,
its endpoint redirected by AWS_ENDPOINT_URL), with BasicFlow deployed by moto's CloudFormation from the synthesized
template (the tables and the function; the function's code there is a placeholder, as it never runs in moto)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from constructs_pkg.local.__main__ import main
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.deployed import as_deployed
from constructs_pkg.local.runner import LocalRunner, running_moto_server

ORDERS = "OrdersTable1F8332C7"
SUMMARIES = "OrderSummaries85FA0D07"
FUNCTION = "OrdersTriggerFunctionA1BFF0B6"
QUEUE = "OrdersTriggerDeadLetterQueueB594E854"


@pytest.fixture(scope="module")
def account() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def default_session(account: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's default credential chain and endpoint resolution, pointed at the moto account only."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEPLOYEDACCOUNT1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "deployed-account-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", account)


@pytest.fixture(scope="module")
def deployed_names(basic_flow_outdir: Path, account: str) -> dict[str, str]:
    """Deploy BasicFlow's tables and function to the moto account; returns logical id -> physical name."""
    return deploy_basic_flow(basic_flow_outdir, account)


def deploy_basic_flow(basic_flow_outdir: Path, account: str) -> dict[str, str]:
    """BasicFlow's tables and function deployed by the CloudFormation of the moto server at ``account`` (once per
    server: its role and stack names are fixed); logical id -> physical name."""
    clients = {"endpoint_url": account, "region_name": "eu-west-1"}
    credentials = {"aws_access_key_id": "AKIADEPLOYEDACCOUNT1", "aws_secret_access_key": "deployed-account-secret"}
    session = boto3.session.Session(**credentials)
    role = session.client("iam", **clients).create_role(RoleName="basic-flow", AssumeRolePolicyDocument="{}")
    template = json.loads((basic_flow_outdir / "BasicFlow.template.json").read_text())
    # The function's environment names the on-failure queue (its quarantine target): deployed with it.
    resources: dict[str, Any] = {name: template["Resources"][name] for name in (ORDERS, SUMMARIES, QUEUE)}
    function = template["Resources"][FUNCTION]["Properties"]
    resources[FUNCTION] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Code": {"ZipFile": "def handler(event, context): pass"},
            "Handler": function["Handler"],
            "Runtime": function["Runtime"],
            "Role": role["Role"]["Arn"],
            "Environment": function["Environment"],
        },
    }
    cloudformation = session.client("cloudformation", **clients)
    cloudformation.create_stack(StackName="BasicFlow", TemplateBody=json.dumps({"Resources": resources}))
    summaries = cloudformation.list_stack_resources(StackName="BasicFlow")["StackResourceSummaries"]
    return {resource["LogicalResourceId"]: resource["PhysicalResourceId"] for resource in summaries}


def _order(order_id: str) -> dict[str, Any]:
    return {
        "PK": {"S": "CUSTOMER#7"},
        "SK": {"S": f"ORDER#{order_id}"},
        "status": {"S": "NEW"},
        "lines": {"L": [{"M": {"price": {"N": "2.50"}, "quantity": {"N": "4"}}}]},
    }


def _summary_ids(names: dict[str, str]) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=names[SUMMARIES])["Items"]
    return sorted(item["orderId"]["S"] for item in items)


def test_a_deployed_stream_is_read_from_its_tip_and_the_handler_runs_here_with_the_deployed_environment(
    basic_flow_outdir: Path, deployed_names: dict[str, str], default_session: None
) -> None:
    # GIVEN BasicFlow deployed, an order written before the debugging session starts
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(TableName=deployed_names[ORDERS], Item=_order("before"))
    app = as_deployed(LocalApp.from_assembly(basic_flow_outdir, ["BasicFlow"]), boto3.session.Session())

    # THEN the app names the deployed tables and function, with the function's deployed environment
    assert app.tables[ORDERS].name == deployed_names[ORDERS]
    assert app.functions[FUNCTION].name == deployed_names[FUNCTION]
    assert app.functions[FUNCTION].environment == {
        "SUMMARY_TABLE_NAME": deployed_names[SUMMARIES],
        "STREAM_RUNTIME_QUARANTINE": "sqs",
        "STREAM_RUNTIME_QUARANTINE_TARGET": deployed_names[QUEUE],
    }

    # WHEN the runner reads the stream from its tip (LATEST) and another order is written
    runner = LocalRunner(app.starting_at("LATEST"), None)
    runner.start()
    dynamodb.put_item(TableName=deployed_names[ORDERS], Item=_order("during"))
    stats = runner.run_until_idle(timeout=30, quiet_seconds=0.5)

    # THEN only the new order reached the handler, which wrote its summary to the deployed table
    assert stats.records_succeeded == 1 and stats.failed_invocations == 0
    assert _summary_ids(deployed_names) == ["during"]


def test_the_cli_reads_a_deployed_stream_and_refuses_local_only_options(
    basic_flow_outdir: Path,
    deployed_names: dict[str, str],
    default_session: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an order in the deployed table that no handler has seen
    boto3.client("dynamodb").put_item(TableName=deployed_names[ORDERS], Item=_order("replayed"))

    # WHEN `run --aws` replays the stream from TRIM_HORIZON until quiet
    status = main(
        ["run", "--aws", "--app", str(basic_flow_outdir), "--stack", "BasicFlow", "--starting-position",
         "TRIM_HORIZON", "--until-idle", "0.5"]
    )  # fmt: skip

    # THEN every order written so far has its summary in the deployed table, and the run said what it read
    out = capsys.readouterr().out
    assert status == 0
    assert "reading the deployed stacks BasicFlow in eu-west-1" in out
    assert f"mapping OrdersTriggerEventSourceMapping11A898CB: {deployed_names[ORDERS]} stream" in out
    assert "replayed" in _summary_ids(deployed_names)
    with pytest.raises(SystemExit, match="--real, --table-prefix only apply to a local run"):
        main(["run", "--aws", "--app", str(basic_flow_outdir), "--real", "anthropic", "--table-prefix", "x-"])


def test_a_stack_that_is_not_deployed_is_named(basic_flow_outdir: Path, account: str, default_session: None) -> None:
    app = LocalApp.from_assembly(basic_flow_outdir, ["BasicFlow"])

    with pytest.raises(ValueError, match="stack BasicFlowStaging is not deployed here"):
        as_deployed(dataclasses.replace(app, stack_names=("BasicFlowStaging",)), boto3.session.Session())


def test_the_cli_says_what_boto3_lacks_instead_of_a_traceback(
    basic_flow_outdir: Path, default_session: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "staging")

    with pytest.raises(SystemExit, match=r"--aws: The config profile \(staging\) could not be found"):
        main(["run", "--aws", "--app", str(basic_flow_outdir), "--stack", "BasicFlow"])
