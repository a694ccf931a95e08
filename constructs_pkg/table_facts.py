"""What the library knows of a table without asking jsii twice: its template properties, stream, keys and readers.

Each read of a construct's property is a round trip to jsii's Node.js process: what Python already knows about the
tables and triggers of this app is kept here instead of read back.
"""

from __future__ import annotations

import weakref
from typing import Any

import jsii
from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct, IValidation

from .limits import MAX_READERS_PER_GLOBAL_TABLE_STREAM, MAX_READERS_PER_STREAM

__all__ = [
    "key_attributes_of",
    "nag_resource_name",
    "register_reader",
    "remember_stream_view_type",
    "stream_view_type_of",
    "table_properties",
]

# Readers per table, to refuse a third before AWS throttles it at run time.
_readers: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()
# The stream view types of the tables StreamTriggeredTable created.
_stream_view_types: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def table_properties(table: dynamodb.ITable) -> dict[str, Any] | None:
    """The CloudFormation properties of a table defined in this app (Table or TableV2); None for an imported one."""
    resource = table.node.default_child
    if not isinstance(resource, dynamodb.CfnTable | dynamodb.CfnGlobalTable):
        return None
    # The L1s' typed getters cannot read back TableV2's lazy values; the resolved properties can.
    properties: dict[str, Any] = Stack.of(table).resolve(resource._cfn_properties)
    return properties


def key_attributes_of(table: dynamodb.ITable) -> list[str] | None:
    """The table's key attribute names, partition key first, when the table is defined in this app."""
    properties = table_properties(table)
    if properties is None:
        return None
    schema = sorted(properties.get("keySchema") or [], key=lambda key: key.get("keyType") != "HASH")
    return [key["attributeName"] for key in schema]


def remember_stream_view_type(table: dynamodb.ITable, view_type: dynamodb.StreamViewType) -> None:
    """Record the view type of a table the library creates, so triggers need not read it back."""
    _stream_view_types[table] = view_type.value


def stream_view_type_of(table: dynamodb.ITable) -> str | None:
    """The view type of the table's stream, when the table is defined in this app and has one."""
    if table in _stream_view_types:
        return _stream_view_types[table]
    properties = table_properties(table)
    view_type = ((properties or {}).get("streamSpecification") or {}).get("streamViewType")
    return view_type if isinstance(view_type, str) else None


def register_reader(table: dynamodb.ITable, trigger: Construct, path: str) -> None:
    """Count ``trigger`` (at ``path``) among the table's stream readers; raise ValueError past DynamoDB's limit."""
    readers = _readers.setdefault(table, [])
    readers.append(path)
    if len(readers) > MAX_READERS_PER_GLOBAL_TABLE_STREAM:
        _ReaderLimit(table, readers).check(raise_error=True)
    if isinstance(table, dynamodb.TableV2):
        # TableV2.add_replica after this trigger can make the table global: check again at synthesis.
        trigger.node.add_validation(_ReaderLimit(table, readers))


@jsii.implements(IValidation)
class _ReaderLimit:
    def __init__(self, table: dynamodb.ITable, readers: list[str]) -> None:
        self._table = table
        self._readers = readers

    def validate(self) -> list[str]:
        return self.check(raise_error=False)

    def check(self, *, raise_error: bool) -> list[str]:
        is_global = _is_global_table(self._table)
        limit = MAX_READERS_PER_GLOBAL_TABLE_STREAM if is_global else MAX_READERS_PER_STREAM
        if len(self._readers) <= limit:
            return []
        message = (
            f"the stream of table {self._table.node.path} would have {len(self._readers)} readers "
            f"({', '.join(self._readers)}); DynamoDB allows at most {limit} per shard"
            f"{' on a global table' if is_global else ''} before it throttles them. Fan out from one reader "
            "instead (e.g. EventBridge Pipes or an SNS topic)"
        )
        if raise_error:
            raise ValueError(message)
        return [message]


def _is_global_table(table: dynamodb.ITable) -> bool:
    if isinstance(table.node.default_child, dynamodb.CfnGlobalTable):
        replicas = (table_properties(table) or {}).get("replicas") or []
        return len(replicas) > 1
    # Table's replication_regions creates one custom resource per replica region.
    return any(child.node.id.startswith("Replica") for child in table.node.children)


def nag_resource_name(resolved: Any) -> str:
    """A resolved template value as cdk-nag writes it in a finding's id: ``<Id.Attribute>`` for Fn::GetAtt,
    ``<Id>`` for Ref (``<AWS::Partition>`` for a pseudo parameter), the parts of Fn::Join joined, a string as it is."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        return f"<{'.'.join(resolved['Fn::GetAtt'])}>"
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return str(separator).join(nag_resource_name(part) for part in parts)
    raise ValueError(f"no cdk-nag name for {resolved!r}")
