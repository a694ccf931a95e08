"""What a StreamAggregator counts, and how much each item adds to which group: the one reading of an item shared by
the handler and the recomputation (``python -m constructs_pkg.local recompute-aggregates``), so both agree exactly.

An item's *contribution* is its group (one value per ``GroupBy``) and one number per ``Measure``: 1 for a count, the
attribute's exact ``Decimal`` for a sum. An item the filter leaves out contributes nothing. So does an *invalid* item
(a group attribute missing or of another type, a time the bucket cannot read, a summed attribute that is missing or not
a number): ``contribution`` raises ``InvalidItemError`` with the reason, and both sides count it as nothing, the
handler logging it and counting it in a metric. A stream record's delta is its new image's contribution minus its old
image's, so the deltas of an item's records add up to the contribution of the item as the table holds it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import quote

__all__ = [
    "AGGREGATE_KEY",
    "MARK_PREFIX",
    "AggregateFilter",
    "AggregationSpec",
    "Contribution",
    "EpochUnit",
    "GroupBy",
    "InvalidItemError",
    "Measure",
    "MeasureKind",
    "TimeBucket",
    "group_key",
]

# The target table's partition key: the group's values, each escaped, joined by "|" (see ``group_key``).
AGGREGATE_KEY = "aggregate"
# Each aggregate item's high-water marks, one attribute per stream shard (see lambda_src.stream_aggregator.marks).
MARK_PREFIX = "mark:"

GroupValue = str | Decimal


class TimeBucket(StrEnum):
    """The time buckets of ``GroupBy.time_bucket``, in UTC; the bucket's value is the text of its start."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


_BUCKET_FORMATS = {TimeBucket.HOUR: "%Y-%m-%dT%H", TimeBucket.DAY: "%Y-%m-%d", TimeBucket.MONTH: "%Y-%m"}


class EpochUnit(StrEnum):
    """What a time attribute that is a number counts from the epoch."""

    SECONDS = "seconds"
    MILLISECONDS = "milliseconds"


class MeasureKind(StrEnum):
    COUNT = "count"
    SUM = "sum"


class InvalidItemError(ValueError):
    """An item the aggregation cannot read (the reason is the message); it contributes nothing."""


@dataclass(frozen=True)
class GroupBy:
    """One part of the group: an attribute's value, or the time bucket of a time attribute (an ISO-8601 string, naive
    meaning UTC, or a number of epoch seconds or milliseconds). ``name`` is the aggregate item's attribute for it."""

    source: str
    name: str
    bucket: str | None = None
    epoch_unit: str = EpochUnit.SECONDS

    @classmethod
    def attribute(cls, attribute: str, *, name: str | None = None) -> GroupBy:
        """Group by the value (a string or a number) of ``attribute``.

        - ``name``: the aggregate item's attribute holding the value. Default: - ``attribute``.
        """
        return cls(attribute, name or attribute)

    @classmethod
    def time_bucket(
        cls, attribute: str, bucket: str, *, name: str | None = None, epoch_unit: str = EpochUnit.SECONDS
    ) -> GroupBy:
        """Group by the hour, day or month (``TimeBucket``, in UTC) of ``attribute``.

        - ``name``: the aggregate item's attribute holding the bucket, e.g. "2026-12-02". Default: - ``bucket``.
        - ``epoch_unit``: what a number counts, "seconds" or "milliseconds". Default: seconds.
        """
        return cls(attribute, name or str(bucket), str(bucket), str(epoch_unit))

    def problems(self) -> list[str]:
        problems = []
        if not self.source:
            problems.append("a GroupBy needs an attribute name")
        if self.bucket is not None and self.bucket not in set(TimeBucket):
            problems.append(f"time bucket must be one of {_listing(TimeBucket)}, got {self.bucket!r}")
        if self.epoch_unit not in set(EpochUnit):
            problems.append(f"epoch_unit must be one of {_listing(EpochUnit)}, got {self.epoch_unit!r}")
        return problems

    def value_of(self, image: Mapping[str, Any]) -> GroupValue:
        if self.source not in image:
            raise InvalidItemError(f"no group attribute {self.source}")
        value = image[self.source]
        if self.bucket is None:
            if isinstance(value, str | Decimal):
                return value
            raise InvalidItemError(f"group attribute {self.source} is a {type(value).__name__}, not a string or number")
        return _bucket_text(_instant(self.source, value, EpochUnit(self.epoch_unit)), TimeBucket(self.bucket))


@dataclass(frozen=True)
class Measure:
    """A count of the group's items, or the exact sum of a number attribute over them."""

    kind: str
    name: str
    source: str | None = None

    @classmethod
    def count(cls, *, name: str = "count") -> Measure:
        """The number of items in the group.

        - ``name``: the aggregate item's attribute. Default: count.
        """
        return cls(MeasureKind.COUNT, name)

    @classmethod
    def sum(cls, attribute: str, *, name: str | None = None) -> Measure:
        """The exact sum of number attribute ``attribute`` over the group.

        - ``name``: the aggregate item's attribute. Default: - ``attribute``.
        """
        return cls(MeasureKind.SUM, name or attribute, attribute)

    def problems(self) -> list[str]:
        if self.kind not in set(MeasureKind):
            return [f"a measure's kind must be one of {_listing(MeasureKind)}, got {self.kind!r}"]
        if self.kind == MeasureKind.SUM and not self.source:
            return [f"sum measure {self.name!r} needs an attribute name"]
        return []

    def value_of(self, image: Mapping[str, Any]) -> Decimal:
        if self.kind == MeasureKind.COUNT:
            return Decimal(1)
        value = image.get(self.source or "")
        if not isinstance(value, Decimal):
            found = "missing" if value is None else f"a {type(value).__name__}"
            raise InvalidItemError(f"summed attribute {self.source} is {found}, not a number")
        return value


@dataclass(frozen=True)
class AggregateFilter:
    """Which items count: every condition holds (an attribute present, with one of the values when any are given).
    Read from each image by the handler and the recomputation alike: a mapping filter would drop the MODIFY that
    takes an item out of the filter, and with it the subtraction."""

    conditions: tuple[tuple[str, tuple[GroupValue | bool, ...]], ...] = field(default=())

    @classmethod
    def equals(cls, attribute: str, *values: str | int | Decimal | bool) -> AggregateFilter:
        """Items whose ``attribute`` is one of ``values`` (strings, whole numbers, Decimals, booleans)."""
        return cls(((attribute, tuple(v if isinstance(v, str | bool | Decimal) else Decimal(v) for v in values)),))

    @classmethod
    def exists(cls, attribute: str) -> AggregateFilter:
        """Items that have ``attribute``."""
        return cls(((attribute, ()),))

    def __and__(self, other: AggregateFilter) -> AggregateFilter:
        return AggregateFilter(self.conditions + other.conditions)

    def matches(self, image: Mapping[str, Any]) -> bool:
        for attribute, values in self.conditions:
            if attribute not in image:
                return False
            value = image[attribute]
            # bool is an int, and Decimal(1) == True: compare the type as well as the value.
            if values and not any(type(value) is type(wanted) and value == wanted for wanted in values):
                return False
        return True


@dataclass(frozen=True)
class Contribution:
    group: tuple[GroupValue, ...]
    values: tuple[Decimal, ...]


@dataclass(frozen=True)
class AggregationSpec:
    """The groups, the measures and the filter; ``to_json``/``from_json`` carry it to the function."""

    group_by: tuple[GroupBy, ...]
    measures: tuple[Measure, ...]
    item_filter: AggregateFilter = field(default_factory=AggregateFilter)

    def problems(self) -> list[str]:
        """What is wrong with the spec, for a synth-time error."""
        problems = []
        if not self.group_by:
            problems.append("group_by needs at least one GroupBy.attribute(...) or GroupBy.time_bucket(...)")
        if not self.measures:
            problems.append("measures needs at least one Measure.count() or Measure.sum(...)")
        for part in self.group_by:
            problems += part.problems() if isinstance(part, GroupBy) else [f"group_by takes GroupBy, got {part!r}"]
        for measure in self.measures:
            problems += (
                measure.problems() if isinstance(measure, Measure) else [f"measures takes Measure, got {measure!r}"]
            )
        names = [getattr(each, "name", "") for each in (*self.group_by, *self.measures)]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            problems.append(f"the group and measure names must be distinct, got {', '.join(duplicates)} twice")
        reserved = sorted(name for name in set(names) if name == AGGREGATE_KEY or name.startswith(MARK_PREFIX))
        if reserved:
            problems.append(
                f"{', '.join(reserved)} are reserved: {AGGREGATE_KEY!r} is the target's key and {MARK_PREFIX!r}* its "
                "high-water marks"
            )
        return problems

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(part.name for part in self.group_by)

    @property
    def measure_names(self) -> tuple[str, ...]:
        return tuple(measure.name for measure in self.measures)

    def contribution(self, image: Mapping[str, Any] | None) -> Contribution | None:
        """What ``image`` (a deserialized item, None for no item) adds to its group; None when nothing. Raises
        InvalidItemError for an item the filter lets in but the spec cannot read."""
        if image is None or not self.item_filter.matches(image):
            return None
        return Contribution(
            tuple(part.value_of(image) for part in self.group_by),
            tuple(measure.value_of(image) for measure in self.measures),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "groupBy": [vars(part) for part in self.group_by],
                "measures": [vars(measure) for measure in self.measures],
                "filter": [
                    {"attribute": attribute, "values": [_tagged(value) for value in values]}
                    for attribute, values in self.item_filter.conditions
                ],
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> AggregationSpec:
        """Raises ValueError (naming what is wrong) for text that is not a valid spec."""
        document = json.loads(text)
        spec = cls(
            tuple(GroupBy(**part) for part in document["groupBy"]),
            tuple(Measure(**measure) for measure in document["measures"]),
            AggregateFilter(
                tuple(
                    (condition["attribute"], tuple(_untagged(value) for value in condition["values"]))
                    for condition in document.get("filter", ())
                )
            ),
        )
        problems = spec.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return spec

    def add(self, totals: Sequence[Decimal], values: Iterable[Decimal], sign: int = 1) -> tuple[Decimal, ...]:
        return tuple(total + sign * value for total, value in zip(totals, values, strict=True))

    @property
    def zero(self) -> tuple[Decimal, ...]:
        return tuple(Decimal(0) for _ in self.measures)


def group_key(group: Sequence[GroupValue]) -> str:
    """The aggregate item's key for ``group``: strings percent-escaped, numbers as "#" and their normal form, so that
    distinct groups never share a key and equal numbers (1, 1.0) always do."""
    return "|".join(quote(value, safe="") if isinstance(value, str) else f"#{value.normalize():f}" for value in group)


def _instant(attribute: str, value: Any, unit: EpochUnit) -> datetime:
    try:
        if isinstance(value, str):
            instant = datetime.fromisoformat(value)
            return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
        if isinstance(value, Decimal) and value.is_finite():
            seconds = value / 1000 if unit is EpochUnit.MILLISECONDS else value
            return datetime.fromtimestamp(int(seconds.to_integral_value(ROUND_FLOOR)), UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise InvalidItemError(f"time attribute {attribute} is not a time: {value!r} ({error})") from error
    raise InvalidItemError(f"time attribute {attribute} is a {type(value).__name__}, not an ISO-8601 string or number")


def _bucket_text(instant: datetime, bucket: TimeBucket) -> str:
    return instant.strftime(_BUCKET_FORMATS[bucket])


def _tagged(value: GroupValue | bool) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    return {"S": value} if isinstance(value, str) else {"N": str(value)}


def _untagged(value: Mapping[str, Any]) -> GroupValue | bool:
    if "BOOL" in value:
        return bool(value["BOOL"])
    return value["S"] if "S" in value else Decimal(value["N"])


def _listing(choices: Iterable[StrEnum]) -> str:
    return ", ".join(str(choice) for choice in choices)
