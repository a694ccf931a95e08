"""Reading a cloud assembly for the local runner: the mapping's settings, the stack's name, another starting point."""

from __future__ import annotations

import json
from pathlib import Path

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


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    (tmp_path / "Items.template.json").write_text(json.dumps(TEMPLATE))
    artifact = {
        "type": "aws:cloudformation:stack",
        "environment": "aws://unknown-account/unknown-region",
        "properties": {"templateFile": "Items.template.json", "stackName": "items-prod"},
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": {"Items": artifact}}))
    return tmp_path


def test_a_mapping_is_read_with_its_parallelization_factor_and_the_stack_by_its_name(assembly: Path) -> None:
    app = LocalApp.from_assembly(assembly)

    (mapping,) = app.mappings
    assert (mapping.logical_id, mapping.parallelization_factor, app.warnings) == ("Mapping", 4, ())
    assert app.stack_names == ("items-prod",)


def test_the_app_can_start_every_mapping_at_another_position(assembly: Path) -> None:
    app = LocalApp.from_assembly(assembly)

    assert [mapping.starting_position for mapping in app.starting_at("LATEST").mappings] == ["LATEST"]
    with pytest.raises(ValueError, match="position must be one of LATEST, TRIM_HORIZON, got 'AT_TIMESTAMP'"):
        app.starting_at("AT_TIMESTAMP")
