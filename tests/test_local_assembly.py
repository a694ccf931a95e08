"""Reading a cloud assembly for the local runner: the mapping's settings, the stacks' names and resources kept apart,
another starting point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constructs_pkg.local.assembly import LocalApp

TEMPLATE = {
    "Resources": {
        "Items": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
                "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            },
        },
        "Handler": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Handler": "index.handler", "Code": {"ZipFile": "def handler(event, context): pass"}},
        },
        "Mapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Items", "StreamArn"]},
                "FunctionName": {"Ref": "Handler"},
                "StartingPosition": "TRIM_HORIZON",
                "ParallelizationFactor": 4,
            },
        },
    }
}


def _stack(root: Path, artifact_id: str, **properties: str) -> dict[str, Any]:
    (root / f"{artifact_id}.template.json").write_text(json.dumps(TEMPLATE))
    return {
        "type": "aws:cloudformation:stack",
        "environment": "aws://unknown-account/unknown-region",
        "properties": {"templateFile": f"{artifact_id}.template.json", **properties},
    }


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    """Two stacks of the same template, so of the same logical ids: Items (deployed as items-prod) and ItemsCopy."""
    artifacts = {"Items": _stack(tmp_path, "Items", stackName="items-prod"), "ItemsCopy": _stack(tmp_path, "ItemsCopy")}
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return tmp_path


def test_a_mapping_is_read_with_its_parallelization_factor_and_the_stack_by_its_name(assembly: Path) -> None:
    app = LocalApp.from_assembly(assembly, ["Items"])

    (mapping,) = app.mappings
    assert (mapping.logical_id, mapping.parallelization_factor, app.warnings) == ("Mapping", 4, ())
    assert app.stack_names == ("items-prod",)
    assert app.tables["Items"].name == "Items" and app.origins["Handler"] == ("items-prod", "Handler")


def test_stacks_read_together_keep_their_resources_apart_when_their_logical_ids_are_the_same(assembly: Path) -> None:
    app = LocalApp.from_assembly(assembly)

    # Each stack's resources are known by Stack/LogicalId and named Stack-LogicalId, as two deployed stacks would be
    assert {key: table.name for key, table in app.tables.items()} == {
        "Items/Items": "Items-Items",
        "ItemsCopy/Items": "ItemsCopy-Items",
    }
    assert [
        (mapping.logical_id, mapping.table_logical_id, mapping.function_logical_id) for mapping in app.mappings
    ] == [
        ("Items/Mapping", "Items/Items", "Items/Handler"),
        ("ItemsCopy/Mapping", "ItemsCopy/Items", "ItemsCopy/Handler"),
    ]
    assert app.origins["ItemsCopy/Handler"] == ("ItemsCopy", "Handler")
    assert app.stack_names == ("items-prod", "ItemsCopy")


def test_the_app_can_start_every_mapping_at_another_position(assembly: Path) -> None:
    app = LocalApp.from_assembly(assembly, ["Items"])

    assert [mapping.starting_position for mapping in app.starting_at("LATEST").mappings] == ["LATEST"]
    with pytest.raises(ValueError, match="position must be one of LATEST, TRIM_HORIZON, got 'AT_TIMESTAMP'"):
        app.starting_at("AT_TIMESTAMP")
