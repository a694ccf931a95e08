"""The tree keeps its promises: runtime code never imports the CDK, so it runs inside Lambda as shipped."""

from __future__ import annotations

import ast
from pathlib import Path

RUNTIME = Path(__file__).resolve().parent.parent / "lambda_src"


def test_no_aws_cdk_import_under_lambda_src() -> None:
    offenders = []
    for source in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{source}: {name}" for name in names if name.split(".")[0] in ("aws_cdk", "constructs")]
    assert offenders == []
