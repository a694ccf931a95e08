"""The pytest plugin users get (``constructs_pkg.testing``), used here as they would use it: loaded through its
``pytest11`` entry point, its fixtures requested by name, on stacks built in the test."""

from __future__ import annotations

import copy
import importlib.metadata
import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_

import constructs_pkg.stream_runtime_layer as layer_module
from constructs_pkg import StreamFilter, StreamTriggeredTable, SummaryEnricher, SummaryModel
from constructs_pkg.local.names import UnknownName
from constructs_pkg.testing import template_snapshot

ROOT = Path(__file__).resolve().parent.parent
PK = dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING)
# More digits than a float holds: it reaches the handler as written only if nothing on the way is a float.
BIG = "12345678901234567890.5"
# A handler of the user's: quarantines an order without a total, fails (retryably) one marked "flaky", else
# writes nothing and answers with the totals it saw.
HANDLER = """
from lambda_src.stream_runtime import PermanentError, process_stream_batch

seen = []


def handle(record):
    image = record.new_image or {}
    if image.get("flaky"):
        raise RuntimeError("flaky downstream")
    if record.event_name.value != "REMOVE" and "total" not in image:
        raise PermanentError("an order without a total")
    seen.append(str(image.get("total")))


def handler(event, context):
    response = process_stream_batch(event, context, handle)
    return {**response, "totals": list(seen)}
"""


def orders_stack(code_dir: Path, **options: Any) -> Stack:
    stack = Stack(App(), "Shop")
    StreamTriggeredTable(
        stack,
        "Orders",
        partition_key=PK,
        code=lambda_.Code.from_asset(str(code_dir)),
        handler="app.handler",
        filters=[StreamFilter.key_prefix("PK", "ORDER#")],
        **options,
    )
    return stack


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    return tmp_path / "src"


def test_the_plugin_is_registered_with_the_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    entry_points = importlib.metadata.entry_points(group="pytest11")
    (entry_point,) = [entry for entry in entry_points if entry.name == "dynamodb_stream_constructs"]
    assert entry_point.value == "constructs_pkg.testing.plugin"
    assert pytestconfig.pluginmanager.has_plugin("dynamodb_stream_constructs")


def test_importing_the_plugin_and_its_helpers_imports_neither_aws_cdk_nor_boto3() -> None:
    probe = (
        "import sys, constructs_pkg.testing, constructs_pkg.testing.plugin; constructs_pkg.testing.StreamReader; "
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'aws_cdk', 'jsii', 'boto3', 'moto'}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"


def test_local_pipelines_runs_a_stack_with_the_users_handler(local_pipelines: Any, code_dir: Path) -> None:
    # GIVEN a StreamTriggeredTable with the user's handler, running locally
    pipelines = local_pipelines(orders_stack(code_dir))

    # WHEN the test writes an order, changes it, deletes it, and writes a profile the filter drops
    pipelines.put("Orders", {"PK": "ORDER#1", "total": Decimal(BIG), "tags": {"gift"}})
    pipelines.update("Orders", {"PK": "ORDER#1"}, set={"total": 13.75, "note": "two"}, remove=["tags"])
    pipelines.delete("Orders", {"PK": "ORDER#1"})
    pipelines.put("Orders", {"PK": "PROFILE#1", "name": "Ada"})
    pipelines.wait_until_idle()

    # THEN the function got the records as Lambda delivers them, numbers exact, and answered each batch
    calls = pipelines.calls("Orders")
    records = [record for call in calls for record in call.event["Records"]]
    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0]["dynamodb"]["NewImage"]["total"] == {"N": BIG}
    assert records[0]["dynamodb"]["NewImage"]["tags"] == {"SS": ["gift"]}
    assert records[1]["dynamodb"]["NewImage"]["total"] == {"N": "13.75"}
    assert calls[-1].error is None and calls[-1].response["batchItemFailures"] == []
    assert calls[-1].response["totals"] == [BIG, "13.75", "None"]
    assert pipelines.items("Orders") == [{"PK": "PROFILE#1", "name": "Ada"}]
    assert pipelines.on_failure == [] and pipelines.quarantined == []
    assert pipelines.stats.records_filtered_out == 1


def test_local_pipelines_shows_quarantined_and_on_failure_records(local_pipelines: Any, code_dir: Path) -> None:
    # GIVEN the user's handler with two retries and no bisection, so a flaky record runs out of them quickly
    pipelines = local_pipelines(orders_stack(code_dir, retry_attempts=2, bisect_batch_on_error=False))

    # WHEN an order without a total (final) and a flaky one (retryable) are written
    pipelines.put("Orders", {"PK": "ORDER#2"})
    pipelines.wait_until_idle()
    pipelines.put("Orders", {"PK": "ORDER#3", "total": 1, "flaky": True})
    pipelines.wait_until_idle()

    # THEN the first was quarantined at once with its record, the second reached the on-failure queue after retries
    (quarantined,) = pipelines.quarantined
    assert quarantined.reason == "PermanentError: an order without a total"
    assert quarantined.message["payload"]["Records"][0]["dynamodb"]["Keys"] == {"PK": {"S": "ORDER#2"}}
    (exhausted,) = pipelines.on_failure
    assert (exhausted.condition, exhausted.records) == ("RetryAttemptsExhausted", 1)
    assert [call.event["Records"][0]["dynamodb"]["Keys"]["PK"]["S"] for call in pipelines.calls()[1:]] == [
        "ORDER#3"
    ] * 3
    (function,) = pipelines.report().functions
    assert (function.quarantined, function.sent_on_failure, function.invocations) == (1, 1, 4)


def test_tables_and_functions_are_named_as_the_app_names_them(local_pipelines: Any, code_dir: Path) -> None:
    pipelines = local_pipelines(orders_stack(code_dir))
    name = pipelines.table_name("Orders")

    assert pipelines.table_name("Orders/Table") == name == pipelines.table_name("Shop/Orders/Table/Resource")
    assert name.startswith("t") and "OrdersTable" in name
    with pytest.raises(UnknownName, match=r"no table 'Customers'; the tables are: OrdersTable\w+ \(.*Orders/Table"):
        pipelines.table_name("Customers")
    assert pipelines.calls("Orders/Trigger/Function") == pipelines.calls("Orders") == []


def test_a_stack_synthesized_without_bundling_is_refused_with_the_fix(local_pipelines: Any, code_dir: Path) -> None:
    stack = Stack(App(context={"aws:cdk:bundling-stacks": []}), "Shop")
    StreamTriggeredTable(stack, "Orders", partition_key=PK, code=lambda_.Code.from_asset(str(code_dir)),
                         handler="app.handler")  # fmt: skip

    with pytest.raises(ValueError, match=r"staged without bundling .* build the stack in an App with bundling on"):
        local_pipelines(stack)


def test_provider_stub_fixtures_serve_the_pipeline_under_test(
    local_pipelines: Any, bedrock_claude_stub: Any, dynamodb_local: Any
) -> None:
    # GIVEN a SummaryEnricher on Claude in Bedrock, and the Bedrock Claude stub of the test
    stack = Stack(App(), "Summaries")
    docs = dynamodb.Table(stack, "Docs", partition_key=PK, stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
    SummaryEnricher(stack, "Summaries", table=docs, model=SummaryModel.bedrock())
    pipelines = local_pipelines(stack)

    # WHEN a document is written
    pipelines.put("Docs", {"PK": "DOC#1", "body": "DynamoDB Streams carry every change in order, per item."})
    pipelines.wait_until_idle()

    # THEN the pipeline called the test's stub, and wrote its summary back
    assert bedrock_claude_stub.prompts() and "every change in order" in bedrock_claude_stub.prompts()[0]
    assert pipelines.providers.bedrock_models and set(pipelines.providers.bedrock_models.values()) == {
        bedrock_claude_stub
    }
    (item,) = pipelines.items("Docs")
    assert item["aiSummary"]


def test_template_snapshot_scrubs_what_changes_without_the_users_resources_changing(code_dir: Path) -> None:
    # GIVEN a stack synthesized as cdk synth does it, with path, asset and version metadata
    app = App(context={"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True},
              analytics_reporting=True)  # fmt: skip
    stack = Stack(app, "Shop")
    StreamTriggeredTable(stack, "Orders", partition_key=PK, code=lambda_.Code.from_asset(str(code_dir)),
                         handler="app.handler")  # fmt: skip
    raw = app.synth().get_stack_by_name("Shop").template

    # WHEN it is made a snapshot
    snapshot = template_snapshot(stack)

    # THEN no asset hash, bootstrap version or CDK metadata is left, and every resource of the user's is there
    text = json.dumps(snapshot)
    assert not any(len(word) == 64 and set(word) <= set("0123456789abcdef") for word in text.replace('"', " ").split())
    assert "BootstrapVersion" not in text and "aws:cdk:path" not in text and "aws:asset:path" not in text
    assert "AWS::CDK::Metadata" in json.dumps(raw) and "AWS::CDK::Metadata" not in text
    assert set(snapshot["Resources"]) == {
        logical_id for logical_id, resource in raw["Resources"].items() if resource["Type"] != "AWS::CDK::Metadata"
    }
    assert snapshot == template_snapshot(copy.deepcopy(raw))


def test_template_snapshot_is_unchanged_by_a_new_runtime_and_changed_by_the_users_resources(
    code_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def snapshot_of(**options: Any) -> dict[str, Any]:
        return template_snapshot(orders_stack(code_dir, **options))

    before = snapshot_of()
    # GIVEN this library's runtime changed (the layer's asset is another), and the user's handler too
    (code_dir / "app.py").write_text(HANDLER + "\n# edited\n")
    runtime_copy = tmp_path / "lambda_src"
    shutil.copytree(layer_module._SOURCE, runtime_copy)
    (runtime_copy / "stream_runtime" / "__init__.py").write_text(
        (runtime_copy / "stream_runtime" / "__init__.py").read_text() + "\n# a new release\n"
    )
    monkeypatch.setattr(layer_module, "_SOURCE", runtime_copy)

    # THEN the snapshot is the same, and a change to the user's own resources still shows
    assert snapshot_of() == before
    assert snapshot_of(batch_size=10) != before


def test_local_pipelines_runs_a_cloud_assembly_directory(local_pipelines: Any, basic_flow_outdir: Path) -> None:
    # GIVEN the BasicFlow example synthesized into a cdk.out of its own
    pipelines = local_pipelines(basic_flow_outdir, stacks=["BasicFlow"])

    # WHEN an order is written to its Orders table (named by logical id: this assembly has no path metadata)
    order = {"PK": "CUSTOMER#5", "SK": "ORDER#5", "lines": [{"price": "2.25", "quantity": 4}]}
    pipelines.put("OrdersTable1F8332C7", order)
    pipelines.wait_until_idle()

    # THEN the example's handler wrote its summary, and the report counts the items
    (summary,) = pipelines.items("OrderSummaries85FA0D07")
    assert (summary["orderId"], summary["total"], summary["lineCount"]) == ("5", Decimal("9"), Decimal("1"))
    (function,) = pipelines.report().functions
    assert (function.invocations, function.records, function.records_on_failure) == (1, 1, 0)
