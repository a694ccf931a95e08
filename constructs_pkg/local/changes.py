"""A user's own changes to a local run's tables: ``run --changes FILE`` and ``LocalPipelines.put/update/delete``.

The file holds JSON lines, each one put, update or delete of an item, applied in order:

    {"put": "Orders", "item": {"PK": "CUSTOMER#1", "SK": "ORDER#1", "total": 10.50, "lines": [{"sku": "A", "n": 2}]}}
    {"update": "Orders", "key": {"PK": "CUSTOMER#1", "SK": "ORDER#1"}, "set": {"status": "SHIPPED"}, "remove": ["note"]}
    {"delete": "Orders", "key": {"PK": "CUSTOMER#1", "SK": "ORDER#1"}}

Lowercase fields take plain JSON: a string is S, a number N exactly as written (10.50 stays "10.50", no float in
between), true/false BOOL, null NULL, a list L, an object M. The DynamoDB API's own fields take DynamoDB JSON as the
API and the AWS CLI do, for sets and binary: ``Item``, ``Key``, ``UpdateExpression``, ``ConditionExpression``,
``ExpressionAttributeNames``, ``ExpressionAttributeValues``. The table is named as ``constructs_pkg.local.names``
finds it (``Orders``, the construct's id, will do). Blank lines are skipped.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["ACTIONS", "Change", "ChangeError", "apply_change", "dynamodb_value", "parse_change", "read_changes"]

ACTIONS = ("put", "update", "delete")
_PLAIN_FIELDS = {"put": {"item"}, "update": {"key", "set", "remove"}, "delete": {"key"}}
_API_FIELDS = {
    "put": {"Item", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues"},
    "update": {
        "Key",
        "UpdateExpression",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
    },
    "delete": {"Key", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues"},
}
_REQUIRED_API = {"put": {"Item"}, "update": {"Key", "UpdateExpression"}, "delete": {"Key"}}


class ChangeError(ValueError):
    """A change that is malformed or was refused, with where it came from (``file:line``)."""


class _Number(str):
    """A JSON number's text as written: DynamoDB's N, with no float on the way."""


@dataclass(frozen=True)
class Change:
    """One change: ``action`` (put, update or delete) on the table named ``table``, with ``arguments`` for the
    DynamoDB API call (PutItem, UpdateItem, DeleteItem) but its TableName; ``where`` says where it was read."""

    action: str
    table: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    where: str = ""

    @property
    def operation(self) -> str:
        return {"put": "put_item", "update": "update_item", "delete": "delete_item"}[self.action]


def read_changes(path: str | Path) -> list[Change]:
    """The changes of the JSON-lines file ``path``, in order.

    Raises ChangeError naming the file and line of the first malformed change.
    """
    changes = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if line.strip():
            changes.append(parse_change(line, where=f"{path}:{number}"))
    return changes


def parse_change(text: str | Mapping[str, Any], *, where: str = "change") -> Change:
    """One change from its JSON line (or the object it holds). Raises ChangeError saying what is wrong."""
    if isinstance(text, str):
        try:
            line = json.loads(text, parse_float=_Number, parse_int=_Number, parse_constant=_no_constant)
        except ValueError as error:
            raise ChangeError(f"{where}: not JSON: {error}") from None
    else:
        # Given as Python values (the pytest plugin): a number goes as its text, Decimal, int or float alike.
        line = _from_python(dict(text))
    if not isinstance(line, dict):
        raise ChangeError(f"{where}: a change is a JSON object, got {type(line).__name__}")
    actions = [action for action in ACTIONS if action in line]
    if len(actions) != 1:
        raise ChangeError(f"{where}: a change has exactly one of {', '.join(ACTIONS)} (naming the table)")
    (action,) = actions
    table = line.pop(action)
    if not isinstance(table, str) or not table:
        raise ChangeError(f"{where}: {action!r} names the table, got {json.dumps(table)}")
    plain, api = _PLAIN_FIELDS[action], _API_FIELDS[action]
    unknown = sorted(set(line) - plain - api)
    if unknown:
        hints = [_closest(name, sorted(plain | api)) for name in unknown]
        raise ChangeError(f"{where}: unknown fields for {action}: {', '.join(hints)}")
    if set(line) & plain and set(line) & api:
        raise ChangeError(
            f"{where}: plain fields ({', '.join(sorted(set(line) & plain))}) and DynamoDB JSON ones "
            f"({', '.join(sorted(set(line) & api))}) in one change: use one form"
        )
    try:
        arguments = _api_arguments(action, line) if set(line) & api else _plain_arguments(action, line)
    except (TypeError, ValueError) as error:
        raise ChangeError(f"{where}: {error}") from None
    return Change(action, table, arguments, where)


def dynamodb_value(value: Any) -> dict[str, Any]:
    """A plain value as DynamoDB's typed JSON: S, N (the number's text), BOOL, NULL, L, M; from Python also bytes
    (B) and sets of strings, numbers or bytes (SS, NS, BS)."""
    if isinstance(value, _Number):
        return {"N": str(value)}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, list | tuple):
        return {"L": [dynamodb_value(item) for item in value]}
    if isinstance(value, dict):
        return {"M": {str(name): dynamodb_value(item) for name, item in value.items()}}
    if isinstance(value, set | frozenset) and value:
        members = [dynamodb_value(item) for item in value]
        tags = {next(iter(member)) for member in members}
        if len(tags) == 1 and tags <= {"S", "N", "B"}:
            (tag,) = tags
            return {f"{tag}S": sorted(member[tag] for member in members)}
    raise TypeError(
        f"{value!r} has no DynamoDB type here: in a changes file, sets and binary are written in DynamoDB JSON "
        "(Item, Key, ...)"
    )


def apply_change(change: Change, client: Any, table_name: str) -> None:
    """Apply ``change`` to the table ``table_name`` through ``client`` (boto3 ``dynamodb``).

    Raises ChangeError with DynamoDB's message when it refuses the change (a missing key, a failed condition).
    """
    from botocore.exceptions import ClientError

    call: Callable[..., Any] = getattr(client, change.operation)
    try:
        call(TableName=table_name, **change.arguments)
    except ClientError as error:
        details = error.response.get("Error", {})
        raise ChangeError(
            f"{change.where}: {change.action} on {table_name} refused: {details.get('Code')}: {details.get('Message')}"
        ) from None


def apply_changes(changes: Iterable[Change], client: Any, table_name_of: Callable[[str], str]) -> int:
    """Apply ``changes`` in order, each to the table ``table_name_of(change.table)``; returns how many."""
    count = 0
    for change in changes:
        apply_change(change, client, table_name_of(change.table))
        count += 1
    return count


def _plain_arguments(action: str, line: Mapping[str, Any]) -> dict[str, Any]:
    if action == "put":
        return {"Item": _attributes(line.get("item"), "item")}
    key = _attributes(line.get("key"), "key")
    if action == "delete":
        return {"Key": key}
    to_set = line.get("set") or {}
    to_remove = line.get("remove") or []
    names_only = isinstance(to_remove, list) and all(isinstance(name, str) for name in to_remove)
    if not isinstance(to_set, dict) or not names_only:
        raise ValueError("update takes set (an object of attributes) and remove (a list of attribute names)")
    if not to_set and not to_remove:
        raise ValueError("update needs set or remove")
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    clauses = []
    if to_set:
        assignments = []
        for index, (name, value) in enumerate(to_set.items()):
            names[f"#s{index}"] = name
            values[f":s{index}"] = dynamodb_value(value)
            assignments.append(f"#s{index} = :s{index}")
        clauses.append("SET " + ", ".join(assignments))
    if to_remove:
        for index, name in enumerate(to_remove):
            names[f"#r{index}"] = name
        clauses.append("REMOVE " + ", ".join(f"#r{index}" for index in range(len(to_remove))))
    arguments: dict[str, Any] = {"Key": key, "UpdateExpression": " ".join(clauses), "ExpressionAttributeNames": names}
    if values:
        arguments["ExpressionAttributeValues"] = values
    return arguments


def _attributes(value: Any, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{field_name} is an object of attributes, got {json.dumps(value)}")
    return {str(name): dynamodb_value(item) for name, item in value.items()}


def _api_arguments(action: str, line: Mapping[str, Any]) -> dict[str, Any]:
    missing = sorted(_REQUIRED_API[action] - set(line))
    if missing:
        raise ValueError(f"{action} in DynamoDB JSON needs {', '.join(missing)}")
    return {name: _typed_numbers(value) for name, value in line.items()}


def _typed_numbers(value: Any) -> Any:
    """DynamoDB JSON as read: its N values are strings already; a bare number left in it is an error of the file."""
    if isinstance(value, _Number):
        raise ValueError(f'a bare number {value} in DynamoDB JSON: write it as {{"N": "{value}"}}')
    if isinstance(value, list):
        return [_typed_numbers(item) for item in value]
    if isinstance(value, dict):
        return {name: _typed_numbers(item) for name, item in value.items()}
    return value


def _from_python(value: Any) -> Any:
    """Python values as ``json.loads`` with ``_Number`` would give them, bytes and sets kept as they are."""
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float | Decimal) and not math.isfinite(value):
            raise ChangeError(f"{value} is no number DynamoDB can hold")
        return _Number(str(value))
    if isinstance(value, Mapping):
        return {str(name): _from_python(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_from_python(item) for item in value]
    if isinstance(value, set | frozenset):
        return {_from_python(item) for item in value}
    raise ChangeError(f"{value!r} has no DynamoDB type")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is no number DynamoDB can hold")


def _closest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"{name} (did you mean {close[0]}?)" if close else name
