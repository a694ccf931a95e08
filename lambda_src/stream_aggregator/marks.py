"""One conditional UpdateItem per group and batch, made idempotent by a per-shard high-water mark on the group's item.

Attribute ``mark:<shardId>`` of an aggregate item holds ``<sequence>@<epoch seconds>``: the 40-digit, zero-padded
sequence number of the last record of that shard applied to the group (text order is number order), and when it was
written. Lambda delivers a shard's records in order and moves on only past records it counts as processed, so the
records of a shard applied to a group are exactly those at or below its mark. A batch's update ADDs the sum of the
deltas of its records above the mark and moves the mark to the last of them, on the condition that the mark is what
the writer assumed: first that it is absent or below the batch's first record; after a ConditionalCheckFailed, the
mark then read, with the records at or below it dropped. A duplicate, a retry after a partial failure, a bisected
half or a redriven old batch so adds each record once, however often it comes. ADD alone is not idempotent, and a
transaction's ClientRequestToken lasts 10 minutes:
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html

Marks of other shards older than the retention (the stream's 24 hours plus the longest a quarantined or discarded
batch may wait for a redrive) are removed, conditionally, after an update that returns them, so an item keeps a
bounded number of marks as shards close and new ones open.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lambda_src.providers import ProviderError, RetryPolicy, call_with_retries
from lambda_src.providers.aws import AwsClient
from lambda_src.stream_runtime import RetryableError, deserialize_attribute

from .spec import AGGREGATE_KEY, MARK_PREFIX, AggregationSpec, GroupValue

__all__ = ["CONDITION_FAILED", "AggregateWriter", "GroupUpdate", "OverlapError", "mark_sequence", "serialize"]

CONDITION_FAILED = "ConditionalCheckFailedException"
_SEQUENCE_DIGITS = 40
# DynamoDB answers a single-item write in milliseconds; past this a fresh attempt is the better bet.
_MAX_CALL_SECONDS = 5.0


@dataclass
class GroupUpdate:
    """A group's share of a batch: its values, and each record's delta to it, in sequence order.

    ``covers_from`` is set for a window's sums (``lambda_src.stream_aggregator.window``): one delta standing for every
    record of the group from that sequence number to its own, applied whole or not at all. Default: None.
    """

    key: str
    group: dict[str, GroupValue]
    deltas: list[tuple[int, tuple[Decimal, ...]]]
    covers_from: int | None = None

    def pending(self, floor: int) -> list[tuple[int, tuple[Decimal, ...]]]:
        """The deltas of the records above ``floor`` (a mark's sequence, -1 for none). Raises OverlapError for a
        window's sums that a mark splits: part of them is in the group already, and they cannot be told apart."""
        if self.covers_from is None:
            return [(sequence, delta) for sequence, delta in self.deltas if sequence > floor]
        if floor >= self.deltas[-1][0]:
            return []
        if floor >= self.covers_from:
            raise OverlapError(
                f"group {self.key}: its mark ({floor}) lies inside the window's records ({self.covers_from} to "
                f"{self.deltas[-1][0]}), written by an invocation outside the window (a redrive); run "
                "recompute-aggregates --repair"
            )
        return self.deltas


class OverlapError(RuntimeError):
    """A window's sums that a group's mark splits (see ``GroupUpdate.pending``)."""


def mark_sequence(mark: str) -> int:
    return int(mark.partition("@")[0])


def serialize(value: GroupValue) -> dict[str, str]:
    return {"S": value} if isinstance(value, str) else {"N": str(value)}


class AggregateWriter:
    """Applies ``GroupUpdate``s to ``table`` through ``client`` (an ``AwsClient`` for dynamodb)."""

    def __init__(
        self,
        spec: AggregationSpec,
        table: str,
        client: AwsClient,
        *,
        mark_retention_seconds: int,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.table = table
        self.client = client
        self.mark_retention_seconds = mark_retention_seconds
        self.policy = policy or RetryPolicy()
        self.clock = clock

    def apply(self, update: GroupUpdate, shard_id: str, remaining_seconds: Callable[[], float]) -> int:
        """Apply the deltas above the group's mark for ``shard_id``; the number of writes made (0 when every delta
        was applied before). Raises ProviderError when a write fails for good or the time runs out."""
        mark_attribute = MARK_PREFIX + shard_id
        seen: str | None = None
        assumed_known = False
        writes = 0
        while True:
            if remaining_seconds() <= 0:
                raise RetryableError(f"no time left to update group {update.key}")
            pending = update.pending(mark_sequence(seen) if seen is not None else -1)
            if not pending:
                return writes
            totals = self.spec.zero
            for _sequence, delta in pending:
                totals = self.spec.add(totals, delta)
            mark = f"{pending[-1][0]:0{_SEQUENCE_DIGITS}d}@{int(self.clock())}"
            names = {"#mark": mark_attribute}
            values: dict[str, Any] = {":mark": {"S": mark}}
            sets = ["#mark = :mark"]
            for index, (name, value) in enumerate(update.group.items()):
                names[f"#g{index}"], values[f":g{index}"] = name, serialize(value)
                sets.append(f"#g{index} = :g{index}")
            adds = []
            for index, (name, total) in enumerate(zip(self.spec.measure_names, totals, strict=True)):
                names[f"#m{index}"], values[f":m{index}"] = name, {"N": str(total)}
                adds.append(f"#m{index} :m{index}")
            if not assumed_known:
                condition = "attribute_not_exists(#mark) OR #mark < :first"
                first = pending[0][0] if update.covers_from is None else update.covers_from
                values[":first"] = {"S": f"{first:0{_SEQUENCE_DIGITS}d}"}
            elif seen is None:
                condition = "attribute_not_exists(#mark)"
            else:
                condition, values[":seen"] = "#mark = :seen", {"S": seen}
            arguments = {
                "TableName": self.table,
                "Key": {AGGREGATE_KEY: {"S": update.key}},
                "UpdateExpression": f"SET {', '.join(sets)} ADD {', '.join(adds)}",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ReturnValues": "ALL_NEW",
            }
            try:
                answer = self._call(functools.partial(_update_item, arguments=arguments), remaining_seconds)
            except ProviderError as error:
                if error.code != CONDITION_FAILED:
                    raise
                seen, assumed_known = self._read_mark(update.key, mark_attribute, remaining_seconds), True
                continue
            writes += 1
            return writes + self._prune(update.key, mark_attribute, answer.get("Attributes", {}), remaining_seconds)

    def _read_mark(self, key: str, mark_attribute: str, remaining_seconds: Callable[[], float]) -> str | None:
        answer = self._call(
            lambda client: client.get_item(
                TableName=self.table,
                Key={AGGREGATE_KEY: {"S": key}},
                ConsistentRead=True,
                ProjectionExpression="#mark",
                ExpressionAttributeNames={"#mark": mark_attribute},
            ),
            remaining_seconds,
        )
        mark = answer.get("Item", {}).get(mark_attribute)
        return None if mark is None else str(deserialize_attribute(mark))

    def _prune(self, key: str, kept: str, item: Mapping[str, Any], remaining_seconds: Callable[[], float]) -> int:
        oldest = self.clock() - self.mark_retention_seconds
        stale = sorted(
            name
            for name, value in item.items()
            if name.startswith(MARK_PREFIX) and name != kept and int(value["S"].partition("@")[2] or 0) < oldest
        )
        if not stale:
            return 0
        names = {f"#s{index}": name for index, name in enumerate(stale)}
        values = {f":s{index}": item[name] for index, name in enumerate(stale)}
        try:
            self._call(
                lambda client: client.update_item(
                    TableName=self.table,
                    Key={AGGREGATE_KEY: {"S": key}},
                    UpdateExpression="REMOVE " + ", ".join(names),
                    # Only the marks as read: one another writer moved since is a live shard's.
                    ConditionExpression=" AND ".join(f"{name} = {name.replace('#', ':')}" for name in names),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                ),
                remaining_seconds,
            )
        except ProviderError as error:
            if error.code != CONDITION_FAILED:
                raise
        return 1

    def _call(self, operation: Callable[[Any], Any], remaining_seconds: Callable[[], float]) -> Any:
        return call_with_retries(
            lambda: self.client.call(min(_MAX_CALL_SECONDS, max(1.0, remaining_seconds())), operation),
            policy=self.policy,
            remaining_seconds=remaining_seconds,
        )


def _update_item(client: Any, *, arguments: Mapping[str, Any]) -> Any:
    return client.update_item(**arguments)
