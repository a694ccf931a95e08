"""Shared fixtures: apps that skip bundling, a handler asset, and the example app synthesized once per session."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from aws_cdk.cx_api import CloudAssembly

from examples.app import build_app
from examples.basic_flow.stack import BasicFlowStack

HANDLER_DIR = Path(__file__).parent / "handlers" / "noop"
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def new_app() -> App:
    """An app whose templates are deterministic: bundling skipped, no path, asset or version metadata."""
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
    return App(outdir=str(outdir), analytics_reporting=False, context={"aws:cdk:enable-asset-metadata": True})


@pytest.fixture(scope="session")
def basic_flow_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The BasicFlow example synthesized as `cdk synth` does, once per session."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    BasicFlowStack(app, "BasicFlow")
    app.synth()
    return outdir


def new_stack() -> Stack:
    return Stack(new_app(), "Test")


def handler_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(HANDLER_DIR))


def function_properties(template: Template) -> dict[str, Any]:
    """The properties of the template's one function."""
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    properties: dict[str, Any] = function["Properties"]
    return properties


def scrub_asset_hashes(template: Any) -> Any:
    """The template with every asset hash replaced, so a handler edit does not rewrite the snapshots."""
    if isinstance(template, dict):
        return {key: scrub_asset_hashes(value) for key, value in template.items()}
    if isinstance(template, list):
        return [scrub_asset_hashes(value) for value in template]
    if isinstance(template, str):
        return _ASSET_HASH.sub("<asset-hash>", template)
    return template


@pytest.fixture(scope="session")
def example_app() -> App:
    return build_app(new_app())


@pytest.fixture(scope="session")
def example_assembly(example_app: App) -> CloudAssembly:
    # cdk-nag runs here as a validation plugin: synth raises on any unacknowledged finding.
    return example_app.synth()


@pytest.fixture(scope="session")
def example_templates(example_assembly: CloudAssembly) -> dict[str, dict[str, Any]]:
    return {stack.stack_name: stack.template for stack in example_assembly.stacks}


pytest_plugins = ["dynamodb_local"]
