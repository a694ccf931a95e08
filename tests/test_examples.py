"""Every example stack: a whole-template snapshot, zero unacknowledged cdk-nag findings, zero cfn-lint errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint
from conftest import scrub_asset_hashes

EXAMPLE_STACKS = [
    "BasicFlow",
    "Notifications",
    "SeedAiPipelines",
    "AwsNativeAiPipelines",
    "RealtimeFeed",
    "SearchIndex",
    "Aggregation",
    "Archive",
]


def test_the_app_holds_every_example_stack(example_templates: dict[str, dict[str, Any]]) -> None:
    assert sorted(example_templates) == sorted(EXAMPLE_STACKS)


@pytest.mark.parametrize("stack_name", EXAMPLE_STACKS)
def test_template_snapshot(stack_name: str, example_templates: dict[str, dict[str, Any]], snapshot) -> None:
    assert scrub_asset_hashes(example_templates[stack_name]) == snapshot


@pytest.mark.parametrize("stack_name", EXAMPLE_STACKS)
def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding(stack_name: str, example_app: App) -> None:
    stack = example_app.node.find_child(stack_name)
    assert isinstance(stack, Stack)
    report = AwsSolutionsChecks().validate_scope(stack)
    findings = [
        f"{violation.rule_name}: {[resource.construct_path for resource in violation.violating_resources]}"
        for violation in report.violations
    ]
    assert findings == []
    assert report.success


@pytest.mark.parametrize("stack_name", EXAMPLE_STACKS)
def test_cfn_lint_finds_no_error(stack_name: str, example_templates: dict[str, dict[str, Any]]) -> None:
    matches = lint(json.dumps(example_templates[stack_name]), config=ManualArgs(regions=["us-east-1"]))
    errors = [f"{match.rule.id} {match.message}" for match in matches if match.rule.id.startswith("E")]
    assert errors == []
