"""Recompute a StreamAggregator's aggregates from a scan of its source table, compare them with the target's, and
repair the groups that differ.

The recomputation reads each item with the handler's own ``AggregationSpec.contribution`` (an invalid item counts as
nothing on both sides), so a difference is a lost or doubled record, never a difference of interpretation. A repair
SETs the recomputed measures on each differing group and keeps its high-water marks, so records the stream delivers
again later are still skipped; run it while the stream is quiet, or again after it, since a write landing between
the scan and the repair makes the repair stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lambda_src.stream_aggregator.marks import serialize
from lambda_src.stream_aggregator.spec import AGGREGATE_KEY, AggregationSpec, GroupValue, InvalidItemError, group_key

__all__ = ["AggregateDifference", "compare", "read_aggregates", "recompute", "repair"]

Totals = tuple[Decimal, ...]


@dataclass(frozen=True)
class AggregateDifference:
    """A group whose stored measures (``stored``, None when it has no item) differ from the recomputed ones."""

    key: str
    group: dict[str, GroupValue]
    stored: Totals | None
    recomputed: Totals


def recompute(
    spec: AggregationSpec, items: Iterable[Mapping[str, Any]]
) -> dict[str, tuple[dict[str, GroupValue], Totals]]:
    """Each group's values and measures over ``items`` (deserialized), by group key."""
    groups: dict[str, tuple[dict[str, GroupValue], Totals]] = {}
    for item in items:
        try:
            contribution = spec.contribution(item)
        except InvalidItemError:
            continue
        if contribution is None:
            continue
        key = group_key(contribution.group)
        values, totals = groups.get(key, (dict(zip(spec.group_names, contribution.group, strict=True)), spec.zero))
        groups[key] = (values, spec.add(totals, contribution.values))
    return groups


def read_aggregates(spec: AggregationSpec, items: Iterable[Mapping[str, Any]]) -> dict[str, Totals]:
    """The measures of each aggregate item of ``items`` (the target's, deserialized), by group key."""
    return {
        str(item[AGGREGATE_KEY]): tuple(Decimal(item.get(name, 0)) for name in spec.measure_names) for item in items
    }


def compare(
    spec: AggregationSpec, source_items: Iterable[Mapping[str, Any]], target_items: Iterable[Mapping[str, Any]]
) -> list[AggregateDifference]:
    """The groups whose stored measures differ from the recomputation; a group that holds only zeros equals one
    with no item."""
    recomputed = recompute(spec, source_items)
    stored = read_aggregates(spec, target_items)
    differences = []
    for key in sorted(set(recomputed) | set(stored)):
        values, totals = recomputed.get(key, ({}, spec.zero))
        held = stored.get(key)
        if (held if held is not None else spec.zero) != totals:
            differences.append(AggregateDifference(key, values, held, totals))
    return differences


def repair(
    spec: AggregationSpec, dynamodb_client: Any, table_name: str, differences: Iterable[AggregateDifference]
) -> int:
    """SET the recomputed measures (and group values) on each group of ``differences``; the number written."""
    written = 0
    for difference in differences:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets = []
        pairs = [*difference.group.items(), *zip(spec.measure_names, difference.recomputed, strict=True)]
        for index, (name, value) in enumerate(pairs):
            names[f"#a{index}"], values[f":a{index}"] = name, serialize(value)
            sets.append(f"#a{index} = :a{index}")
        dynamodb_client.update_item(
            TableName=table_name,
            Key={AGGREGATE_KEY: {"S": difference.key}},
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        written += 1
    return written
