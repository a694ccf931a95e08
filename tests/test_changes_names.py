"""The changes file of ``run --changes`` (and ``LocalPipelines.put/update/delete``), and the names a table or function
answers to, one function at a time."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from constructs_pkg.local.changes import ChangeError, dynamodb_value, parse_change, read_changes
from constructs_pkg.local.names import UnknownName, resolve


def test_plain_json_becomes_typed_json_with_every_number_as_written() -> None:
    change = parse_change(
        '{"put": "Orders", "item": {"PK": "A", "price": 10.50, "big": 123456789012345678901234567890, '
        '"tiny": 1e-130, "ok": true, "none": null, "lines": [1, {"sku": "x"}]}}'
    )

    assert change.action == "put" and change.table == "Orders"
    assert change.arguments == {
        "Item": {
            "PK": {"S": "A"},
            "price": {"N": "10.50"},
            "big": {"N": "123456789012345678901234567890"},
            "tiny": {"N": "1e-130"},
            "ok": {"BOOL": True},
            "none": {"NULL": True},
            "lines": {"L": [{"N": "1"}, {"M": {"sku": {"S": "x"}}}]},
        }
    }


def test_an_update_sets_and_removes_through_placeholders() -> None:
    to_set = {"status": "SHIPPED", "total": Decimal("2.5")}
    change = parse_change({"update": "Orders", "key": {"PK": "A"}, "set": to_set, "remove": ["note"]})

    assert change.arguments == {
        "Key": {"PK": {"S": "A"}},
        "UpdateExpression": "SET #s0 = :s0, #s1 = :s1 REMOVE #r0",
        "ExpressionAttributeNames": {"#s0": "status", "#s1": "total", "#r0": "note"},
        "ExpressionAttributeValues": {":s0": {"S": "SHIPPED"}, ":s1": {"N": "2.5"}},
    }


def test_dynamodb_json_goes_to_the_api_as_written() -> None:
    line = (
        '{"update": "Orders", "Key": {"PK": {"S": "A"}}, "UpdateExpression": "ADD tags :t", '
        '"ExpressionAttributeValues": {":t": {"SS": ["gift"]}}}'
    )
    assert parse_change(line).arguments == {
        "Key": {"PK": {"S": "A"}},
        "UpdateExpression": "ADD tags :t",
        "ExpressionAttributeValues": {":t": {"SS": ["gift"]}},
    }


def test_python_values_of_the_plugin_take_sets_and_bytes() -> None:
    assert dynamodb_value({"a", "b"}) == {"SS": ["a", "b"]}
    assert dynamodb_value(b"\x00") == {"B": b"\x00"}
    assert parse_change({"put": "T", "item": {"n": {1, 2}}}).arguments["Item"]["n"] == {"NS": ["1", "2"]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1]", "a change is a JSON object, got list"),
        ("{not json", "not JSON"),
        ('{"item": {"PK": "A"}}', "exactly one of put, update, delete"),
        ('{"put": "T", "delete": "T"}', "exactly one of put, update, delete"),
        ('{"put": "", "item": {"PK": "A"}}', "'put' names the table"),
        ('{"put": "T", "itme": {"PK": "A"}}', r"unknown fields for put: itme \(did you mean item\?\)"),
        ('{"put": "T", "item": {"PK": "A"}, "Item": {"PK": {"S": "A"}}}', "plain fields .* in one change"),
        ('{"put": "T", "item": {}}', "item is an object of attributes"),
        ('{"put": "T", "item": {"n": NaN}}', "NaN is no number DynamoDB can hold"),
        ('{"put": "T", "Item": {"n": 1}}', r'a bare number 1 in DynamoDB JSON: write it as \{"N": "1"\}'),
        ('{"update": "T", "key": {"PK": "A"}}', "update needs set or remove"),
        ('{"update": "T", "Key": {"PK": {"S": "A"}}}', "update in DynamoDB JSON needs UpdateExpression"),
    ],
)
def test_a_malformed_change_says_where_and_what(line: str, message: str) -> None:
    with pytest.raises(ChangeError, match=f"^changes.jsonl:7: .*{message}"):
        parse_change(line, where="changes.jsonl:7")


def test_a_file_is_read_in_order_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    path.write_text('{"put": "T", "item": {"PK": "1"}}\n\n{"delete": "T", "key": {"PK": "1"}}\n')

    changes = read_changes(path)

    assert [(change.action, change.where) for change in changes] == [("put", f"{path}:1"), ("delete", f"{path}:3")]


CANDIDATES = {"OrdersTable1F8332C7": ("dev-OrdersTable1F8332C7",), "OrderSummaries85FA0D07": ("summaries",)}
PATHS = {"OrdersTable1F8332C7": "Shop/Orders/Table/Resource", "OrderSummaries85FA0D07": "Shop/OrderSummaries/Resource"}


@pytest.mark.parametrize(
    "name",
    ["OrdersTable1F8332C7", "dev-OrdersTable1F8332C7", "Orders", "Orders/Table", "Shop/Orders/Table",
     "Shop/Orders/Table/Resource", "Shop/Orders"],
)  # fmt: skip
def test_a_table_answers_to_its_ids_names_and_construct_path(name: str) -> None:
    assert resolve(name, CANDIDATES, PATHS) == "OrdersTable1F8332C7"


def test_an_exact_name_wins_over_a_leading_part_of_a_path_and_a_tie_is_refused() -> None:
    paths = {"A": "S/Orders/Resource", "B": "S/Orders/Archive/Table/Resource", "C": "S/Pipeline/Orders/Resource"}
    candidates = {"A": (), "B": (), "C": ()}

    assert resolve("Orders", candidates, paths) == "A"
    assert resolve("Orders/Archive", candidates, paths) == "B"
    with pytest.raises(UnknownName, match="no table 'Pipeline'"):
        resolve("Pipeline", {"A": (), "B": ()}, paths)
    with pytest.raises(UnknownName, match="table 'Orders' is ambiguous: it names A, B"):
        resolve("Orders", {"A": (), "B": ()}, {"A": "S/Orders/X/Resource", "B": "S/Orders/Y/Resource"})
