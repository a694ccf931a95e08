"""The construct-to-handler contract: every variable a construct sets for its bundled handler is named once, in
``lambda_src.contract``, and the constructs set only those."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from lambda_src.contract import variable_names

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "lambda_src" / "contract.py"


def _literals_outside_all(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of ``tree``, but those listing a module's public names in ``__all__``."""
    exported: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "__all__" for target in node.targets):
            exported.update(id(element) for element in ast.walk(node.value))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in exported
    ]


def test_no_variable_name_is_written_outside_the_contract() -> None:
    names = variable_names()
    offenders = [
        f"{source.relative_to(ROOT)}:{node.lineno}: {node.value}"
        for package in ("constructs_pkg", "lambda_src")
        for source in (ROOT / package).rglob("*.py")
        if source != CONTRACT
        for node in _literals_outside_all(ast.parse(source.read_text()))
        if node.value in names
    ]
    assert offenders == []


def test_the_bundled_handlers_get_only_contract_variables(example_templates: dict[str, dict[str, Any]]) -> None:
    bundled = [
        resource["Properties"]
        for template in example_templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Handler", "").startswith("lambda_src.")
    ]
    assert len(bundled) == 8
    for properties in bundled:
        assert set(properties["Environment"]["Variables"]) <= variable_names()


def test_the_contract_names_are_distinct() -> None:
    tree = ast.parse(CONTRACT.read_text())
    values = [
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        and all(isinstance(target, ast.Name) and target.id.isupper() and not target.id.startswith("DEFAULT")
                for target in node.targets)
        and node.value.value.isupper()
    ]  # fmt: skip
    assert len(values) == len(set(values)) == len(variable_names())
