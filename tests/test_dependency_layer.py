"""The anthropic layer, built for real: pip for Lambda's platform and Python, no Docker (slow: downloads wheels)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_

from constructs_pkg import PythonDependencyLayer


@pytest.mark.slow
@pytest.mark.parametrize(("architecture", "machine"), [(lambda_.Architecture.X86_64, "x86_64"),
                                                       (lambda_.Architecture.ARM_64, "aarch64")])  # fmt: skip
def test_the_anthropic_layer_holds_the_sdk_for_lambda(tmp_path: Path, architecture, machine: str) -> None:
    # GIVEN an app that bundles (no bundling-stacks context), written to a temporary cloud assembly
    app = App(outdir=str(tmp_path / "cdk.out"))
    stack = Stack(app, "Layer")
    PythonDependencyLayer.anthropic(stack, architecture)
    # WHEN it synthesizes
    app.synth()
    # THEN the layer holds the SDK and its dependencies under python/, with compiled parts for Lambda's CPU and
    # Python 3.14, whatever this machine is
    (python_dir,) = (tmp_path / "cdk.out").glob("asset.*/python")
    packages = {path.name for path in python_dir.iterdir()}
    assert {"anthropic", "anyio", "httpx2", "jiter", "pydantic", "pydantic_core"} <= packages, packages
    compiled = [path.name for path in (python_dir / "pydantic_core").glob("*.so")]
    assert compiled and all("cpython-314" in name and machine in name for name in compiled), compiled
    assert not list(python_dir.rglob("__pycache__")), "bytecode for this machine's Python must not ship"
