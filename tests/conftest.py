"""Shared fixtures: apps that skip bundling, a handler asset, and the example app synthesized once per session.

The DynamoDB Local and moto fixtures, the stream reader and the asset-hash scrubbing come from the package's pytest
plugin (``constructs_pkg.testing``), as a user's tests get them. Nothing here imports aws_cdk at module level: where
the CDK is not installed (the runtime's tests under a second Python, see scripts/test), the test modules that need it
are skipped at collection and the fixtures that need it skip their tests.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from constructs_pkg.testing.snapshots import scrub_asset_hashes

if TYPE_CHECKING:
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template
    from aws_cdk.cx_api import CloudAssembly

__all__ = ["HANDLER_DIR", "function_properties", "handler_code", "new_app", "new_stack", "scrub_asset_hashes",
           "synth_like_app"]  # fmt: skip

HANDLER_DIR = Path(__file__).parent / "handlers" / "noop"
# The modules whose absence means "no CDK here": a test module that cannot import one of them needs the CDK.
_CDK_MODULES = ("aws_cdk", "constructs", "cdk_nag", "cfnlint", "syrupy", "jsii")
CDK_INSTALLED = importlib.util.find_spec("aws_cdk") is not None


def _needs_cdk() -> None:
    if not CDK_INSTALLED:
        pytest.skip("needs aws_cdk (not installed in this environment)")


def new_app() -> App:
    """An app whose templates are deterministic: bundling skipped, no path, asset or version metadata."""
    from aws_cdk import App

    return App(
        analytics_reporting=False,
        context={
            "aws:cdk:bundling-stacks": [],
            "aws:cdk:enable-path-metadata": False,
            "aws:cdk:enable-asset-metadata": False,
        },
    )


def synth_like_app(outdir: Path) -> App:
    """An app that synthesizes as `cdk synth` does, into ``outdir``: bundling on (the runtime layer copies lambda_src,
    no Docker) and asset metadata on, so the local runner finds each function's code and layers."""
    from aws_cdk import App

    return App(outdir=str(outdir), analytics_reporting=False, context={"aws:cdk:enable-asset-metadata": True})


@pytest.fixture(scope="session")
def basic_flow_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The BasicFlow example synthesized as `cdk synth` does, once per session."""
    _needs_cdk()
    from examples.basic_flow.stack import BasicFlowStack

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    BasicFlowStack(app, "BasicFlow")
    app.synth()
    return outdir


def new_stack() -> Stack:
    from aws_cdk import Stack

    return Stack(new_app(), "Test")


def handler_code() -> lambda_.Code:
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Code.from_asset(str(HANDLER_DIR))


def function_properties(template: Template) -> dict[str, Any]:
    """The properties of the template's one function."""
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    properties: dict[str, Any] = function["Properties"]
    return properties


@pytest.fixture(scope="session")
def example_app() -> App:
    _needs_cdk()
    from examples.app import build_app

    return build_app(new_app())


@pytest.fixture(scope="session")
def example_assembly(example_app: App) -> CloudAssembly:
    # cdk-nag runs here as a validation plugin: synth raises on any unacknowledged finding.
    return example_app.synth()


@pytest.fixture(scope="session")
def example_templates(example_assembly: CloudAssembly) -> dict[str, dict[str, Any]]:
    return {stack.stack_name: stack.template for stack in example_assembly.stacks}


if not CDK_INSTALLED:

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(collector: pytest.Collector) -> Any:
        """A test module that cannot be imported for lack of the CDK is skipped, not an error: it is not one of the
        tests this environment runs."""
        report = yield
        if report.failed and isinstance(collector, pytest.Module):
            text = str(report.longrepr)
            missing = [name for name in _CDK_MODULES if f"No module named '{name}" in text]
            if missing:
                report.outcome = "skipped"
                report.longrepr = (str(collector.path), 0, f"Skipped: needs {missing[0]} (not installed here)")
        return report
