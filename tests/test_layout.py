"""The tree keeps its promises: runtime code never imports the CDK, so it runs inside Lambda as shipped, the local
tooling runs where the CDK is not installed, and no module grows past what a reader can hold."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import constructs_pkg

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "lambda_src"
# STYLE.md: modules under 600 lines; past that a module holds more than one concern.
MAX_MODULE_LINES = 600


def test_no_aws_cdk_import_under_lambda_src() -> None:
    offenders = []
    for source in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{source}: {name}" for name in names if name.split(".")[0] in ("aws_cdk", "constructs")]
    assert offenders == []


def test_the_local_tooling_runs_without_the_cdk() -> None:
    # The redrive and run --aws tools serve operators whose machines may have boto3 and no Node.js: importing them
    # must not import aws_cdk (whose import starts jsii's Node.js process).
    probe = (
        "import importlib, sys, constructs_pkg.local.__main__ as cli, constructs_pkg.local.redrive, "
        "constructs_pkg.local.deployed, constructs_pkg.local.providers, constructs_pkg.local.runner; "
        "[importlib.import_module(command) for command in cli.COMMANDS]; "
        "print(sorted(name for name in sys.modules if name.startswith('aws_cdk')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)

    assert loaded.stdout.strip() == "[]"


def test_every_public_name_is_declared_for_type_checkers_and_resolves_at_run_time() -> None:
    pytest.importorskip("aws_cdk")
    tree = ast.parse((ROOT / "constructs_pkg" / "__init__.py").read_text())
    (type_checking,) = [node for node in tree.body if isinstance(node, ast.If)]
    declared = {alias.asname for node in type_checking.body if isinstance(node, ast.ImportFrom) for alias in node.names}

    assert declared == set(constructs_pkg.__all__)
    # The aggregation's GroupBy, Measure and AggregateFilter are the handler's own types, shared so that the construct
    # and the handler read an item the same way; every other name is defined in constructs_pkg.
    assert all(
        getattr(constructs_pkg, name).__module__.startswith(("constructs_pkg", "lambda_src.stream_aggregator."))
        for name in declared - {"DEFAULT_RUNTIME"}
    )


def test_no_module_of_the_packages_is_over_600_lines() -> None:
    sources = [*(ROOT / "constructs_pkg").rglob("*.py"), *RUNTIME.rglob("*.py")]
    lengths = {source.relative_to(ROOT).as_posix(): len(source.read_text().splitlines()) for source in sources}

    assert len(lengths) > 20
    assert {path: lines for path, lines in lengths.items() if lines > MAX_MODULE_LINES} == {}
