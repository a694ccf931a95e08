"""The tumbling-window mode: a window's records summed per group in the mapping's state, written once at its end.

Lambda hands each invocation of a window the state the previous one returned, and keeps only the state of an
invocation that succeeded, so a retried batch is summed again from the same state and counts once
(https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html). The final invocation writes each group's
sums as one ``GroupUpdate`` covering the group's first to last record of the window, guarded by the same per-shard
mark as a batch's update: a retried final invocation skips the groups it wrote before. State is JSON: per group key,
the group's values and the window's sums as DynamoDB typed values, and its first and last sequence numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lambda_src.stream_runtime import deserialize_attribute

from .marks import GroupUpdate, serialize
from .spec import AggregationSpec

__all__ = ["WindowState"]


@dataclass
class WindowState:
    """The window's sums so far, by group key."""

    spec: AggregationSpec
    groups: dict[str, GroupUpdate] = field(default_factory=dict)

    @classmethod
    def from_event(cls, spec: AggregationSpec, state: Mapping[str, Any] | None) -> WindowState:
        window = cls(spec)
        for key, entry in ((state or {}).get("groups") or {}).items():
            group = {name: deserialize_attribute(value) for name, value in entry["group"].items()}
            totals = tuple(Decimal(total) for total in entry["totals"])
            window.groups[key] = GroupUpdate(key, group, [(int(entry["last"]), totals)], int(entry["first"]))
        return window

    def add(self, updates: Iterable[GroupUpdate]) -> None:
        """Sum ``updates`` (a batch's, per record) into the window's groups."""
        for update in updates:
            totals = self.spec.zero
            for _sequence, delta in update.deltas:
                totals = self.spec.add(totals, delta)
            known = self.groups.get(update.key)
            if known is None:
                self.groups[update.key] = GroupUpdate(update.key, update.group, [(update.deltas[-1][0], totals)],
                                                      update.deltas[0][0])  # fmt: skip
            else:
                known.deltas = [(update.deltas[-1][0], self.spec.add(known.deltas[-1][1], totals))]

    def to_event(self) -> dict[str, Any]:
        return {
            "groups": {
                key: {
                    "group": {name: serialize(value) for name, value in update.group.items()},
                    "totals": [str(total) for total in update.deltas[-1][1]],
                    "first": str(update.covers_from),
                    "last": str(update.deltas[-1][0]),
                }
                for key, update in self.groups.items()
            }
        }
