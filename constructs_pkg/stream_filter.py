"""A typed builder of event source mapping filter patterns for DynamoDB stream records.

A filter pattern is matched against the stream record as Lambda sees it, with DynamoDB's typed JSON intact:
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html. Records that match no filter are
checkpointed without invoking the function. A pattern that names a field the record does not have, or forgets
the DynamoDB type tag, is accepted by AWS and silently matches nothing; ``StreamFilter`` refuses both.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any

from .limits import MAX_FILTER_PATTERN_CHARS, documented

__all__ = ["ItemImage", "StreamFilter"]

_EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
_RECORD_FIELDS = frozenset(
    {"awsRegion", "dynamodb", "eventID", "eventName", "eventSource", "eventSourceARN", "eventVersion", "userIdentity"}
)
_DYNAMODB_FIELDS = frozenset(
    {"ApproximateCreationDateTime", "Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType"}
)
_ITEM_MAPS = frozenset({"Keys", "NewImage", "OldImage"})
_TYPE_TAGS = frozenset({"S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M"})
_OR = "$or"
# TTL deletes are made by the DynamoDB service principal:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html
_TTL_IDENTITY = {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}


class ItemImage(Enum):
    """Which image of the item a filter looks at."""

    NEW = "NewImage"
    OLD = "OldImage"


Scalar = str | int | Decimal | bool


@documented
class StreamFilter:
    """One filter pattern of an event source mapping; a mapping ORs up to $MAX_FILTERS of them.

    Build patterns with the static methods and AND them with ``&`` (or ``StreamFilter.all_of``)::

        StreamFilter.key_prefix("SK", "ORDER#") & StreamFilter.changed_to("status", "SHIPPED")

    ``StreamFilter(pattern)`` takes a raw pattern and checks it: every leaf is a list, fields exist on a stream
    record, item attributes carry a DynamoDB type tag, no ``numeric`` matcher is applied to a DynamoDB number
    (numbers are strings on the wire, so it would never match), and the pattern is at most
    $MAX_FILTER_PATTERN_CHARS characters.
    """

    __slots__ = ("_pattern",)

    def __init__(self, pattern: Mapping[str, Any]) -> None:
        _check_pattern(pattern)
        self._pattern: dict[str, Any] = copy.deepcopy(dict(pattern))
        length = len(self.to_json())
        if length > MAX_FILTER_PATTERN_CHARS:
            raise ValueError(
                f"filter pattern is {length} characters; AWS allows at most {MAX_FILTER_PATTERN_CHARS}: "
                f"{self.to_json()[:80]}..."
            )

    # Event names

    @staticmethod
    def event_names(*names: str) -> StreamFilter:
        """Records whose ``eventName`` is one of ``names`` (INSERT, MODIFY, REMOVE)."""
        return StreamFilter({"eventName": list(names)})

    @staticmethod
    def inserts() -> StreamFilter:
        """New items only."""
        return StreamFilter.event_names("INSERT")

    @staticmethod
    def modifies() -> StreamFilter:
        """Updates of existing items only."""
        return StreamFilter.event_names("MODIFY")

    @staticmethod
    def removes() -> StreamFilter:
        """Deletes only, by users and by TTL alike."""
        return StreamFilter.event_names("REMOVE")

    @staticmethod
    def ttl_deletes() -> StreamFilter:
        """Deletes made by DynamoDB's time to live only (for archiving expired items)."""
        return StreamFilter({"eventName": ["REMOVE"], "userIdentity": copy.deepcopy(_TTL_IDENTITY)})

    @staticmethod
    def user_deletes() -> StreamFilter:
        """Deletes made by callers of the table only, not by time to live."""
        # ``exists`` matches leaf nodes only, and TTL records are the only ones that carry userIdentity.
        return StreamFilter({"eventName": ["REMOVE"], "userIdentity": {"type": [{"exists": False}]}})

    # Keys

    @staticmethod
    def key_prefix(attribute: str, prefix: str) -> StreamFilter:
        """Items whose string key ``attribute`` starts with ``prefix``, e.g. ``key_prefix("SK", "ORDER#")``."""
        _check_name("prefix", prefix)
        return StreamFilter({"dynamodb": {"Keys": {attribute: {"S": [{"prefix": prefix}]}}}})

    @staticmethod
    def key_equals(attribute: str, *values: Scalar) -> StreamFilter:
        """Items whose key ``attribute`` equals one of ``values`` (strings, numbers or bytes' base64)."""
        return StreamFilter({"dynamodb": {"Keys": {attribute: _typed_values(attribute, values)}}})

    # Attributes

    @staticmethod
    def attribute_equals(attribute: str, *values: Scalar, image: ItemImage = ItemImage.NEW) -> StreamFilter:
        """Items whose ``attribute`` equals one of ``values`` in the given image. Default image: the new one.

        Values of one Python type only: ``str`` matches S, ``int``/``Decimal`` match N (in DynamoDB's normal
        form, as the stream carries it), ``bool`` matches BOOL.
        """
        return StreamFilter({"dynamodb": {image.value: {attribute: _typed_values(attribute, values)}}})

    @staticmethod
    def attribute_prefix(attribute: str, prefix: str, *, image: ItemImage = ItemImage.NEW) -> StreamFilter:
        """Items whose string ``attribute`` starts with ``prefix`` in the given image."""
        _check_name("prefix", prefix)
        return StreamFilter({"dynamodb": {image.value: {attribute: {"S": [{"prefix": prefix}]}}}})

    @staticmethod
    def attribute_exists(attribute: str, type_tag: str = "S", *, image: ItemImage = ItemImage.NEW) -> StreamFilter:
        """Items that hold ``attribute`` as the DynamoDB type ``type_tag`` (``exists`` matches typed leaves only)."""
        return StreamFilter({"dynamodb": {image.value: {attribute: {_tag(type_tag): [{"exists": True}]}}}})

    @staticmethod
    def attribute_missing(attribute: str, type_tag: str = "S", *, image: ItemImage = ItemImage.NEW) -> StreamFilter:
        """Items that do not hold ``attribute`` as the DynamoDB type ``type_tag``."""
        return StreamFilter({"dynamodb": {image.value: {attribute: {_tag(type_tag): [{"exists": False}]}}}})

    @staticmethod
    def changed_to(attribute: str, value: Scalar) -> StreamFilter:
        """Updates that set ``attribute`` to ``value`` from another value.

        MODIFY records whose new image holds ``value`` and whose old image holds something else of the same type.
        An update from a missing attribute does not match (``anything-but`` needs the field); combine
        ``inserts()`` filters or use ``attribute_equals`` for that. Needs the NEW_AND_OLD_IMAGES view type.
        """
        typed = _typed_values(attribute, (value,))
        ((tag, values),) = typed.items()
        return StreamFilter(
            {
                "eventName": ["MODIFY"],
                "dynamodb": {
                    "NewImage": {attribute: typed},
                    "OldImage": {attribute: {tag: [{"anything-but": values}]}},
                },
            }
        )

    # Combination and output

    @staticmethod
    def all_of(*filters: StreamFilter) -> StreamFilter:
        """One pattern that matches only the records every one of ``filters`` matches."""
        if not filters:
            raise ValueError("StreamFilter.all_of needs at least one filter")
        merged: dict[str, Any] = {}
        for stream_filter in filters:
            _merge_into(merged, stream_filter._pattern, path=())
        return StreamFilter(merged)

    def __and__(self, other: StreamFilter) -> StreamFilter:
        return StreamFilter.all_of(self, other)

    @property
    def pattern(self) -> dict[str, Any]:
        """A copy of the pattern."""
        return copy.deepcopy(self._pattern)

    @property
    def images(self) -> frozenset[ItemImage]:
        """The images the pattern reads: a stream whose view type lacks one never matches."""
        return frozenset(image for image in ItemImage if _mentions(self._pattern, image.value))

    def to_json(self) -> str:
        """The pattern as the event source mapping stores it."""
        return json.dumps(self._pattern, separators=(",", ":"), sort_keys=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamFilter) and self._pattern == other._pattern

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return f"StreamFilter({self.to_json()})"


def _tag(type_tag: str) -> str:
    if type_tag not in _TYPE_TAGS:
        raise ValueError(f"type_tag must be one of {sorted(_TYPE_TAGS)}, got {type_tag!r}")
    return type_tag


def _check_name(argument: str, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{argument} must be a non-empty string, got {value!r}")


def _typed_values(attribute: str, values: Sequence[Scalar]) -> dict[str, list[Any]]:
    if not values:
        raise ValueError(f"give at least one value to compare {attribute!r} with")
    tags = {_tag_of(value) for value in values}
    if len(tags) != 1:
        raise ValueError(f"values for {attribute!r} must share one DynamoDB type, got {list(values)!r}")
    (tag,) = tags
    return {tag: [_wire_value(value) for value in values]}


def _tag_of(value: Scalar) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int | Decimal):
        return "N"
    if isinstance(value, str):
        return "S"
    raise ValueError(f"filter values must be str, int, Decimal or bool, got {type(value).__name__}")


def _wire_value(value: Scalar) -> Any:
    if isinstance(value, (bool, str)):
        return value
    # DynamoDB stores numbers normalised (no trailing zeros, no exponent), and the stream carries that string:
    # "12.50" is delivered as "12.5", so the filter must compare with the same form.
    return format(Decimal(value).normalize(), "f")


def _check_pattern(pattern: Any) -> None:
    if not isinstance(pattern, Mapping) or not pattern:
        raise ValueError(f"a filter pattern must be a non-empty mapping, got {pattern!r}")
    _check_level(pattern, path=(), allowed=_RECORD_FIELDS)


def _check_level(node: Mapping[str, Any], path: tuple[str, ...], allowed: frozenset[str] | None) -> None:
    for key, value in node.items():
        where = ".".join((*path, key))
        if key == _OR:
            if not isinstance(value, list) or len(value) < 2:
                raise ValueError(f"{where} must list at least two alternative patterns")
            for alternative in value:
                if not isinstance(alternative, Mapping) or not alternative:
                    raise ValueError(f"each alternative of {where} must be a non-empty mapping")
                _check_level(alternative, path, allowed)
            continue
        if allowed is not None and key not in allowed:
            raise ValueError(
                f"filter field {where!r} does not exist on a DynamoDB stream record, so the pattern would never "
                f"match; fields here: {sorted(allowed)}"
            )
        if isinstance(value, Mapping):
            _check_mapping(value, (*path, key))
        elif isinstance(value, list):
            _check_leaf(value, (*path, key))
        else:
            raise ValueError(f"filter field {where!r} must be a list of values or matchers, got {value!r}")


def _check_mapping(value: Mapping[str, Any], path: tuple[str, ...]) -> None:
    if path == ("dynamodb",):
        _check_level(value, path, _DYNAMODB_FIELDS)
    elif len(path) == 2 and path[0] == "dynamodb" and path[1] in _ITEM_MAPS:
        for attribute, typed in value.items():
            if attribute == _OR:
                _check_level({_OR: typed}, path, None)
                continue
            if not isinstance(typed, Mapping) or not typed:
                raise ValueError(
                    f"filter field {'.'.join((*path, attribute))!r} must name the DynamoDB type, e.g. "
                    f"{{{attribute!r}: {{'S': [...]}}}}: stream records carry typed values, so "
                    f"{typed!r} would never match"
                )
            _check_typed(typed, (*path, attribute))
    else:
        _check_level(value, path, None)


def _check_typed(typed: Mapping[str, Any], path: tuple[str, ...]) -> None:
    for tag, value in typed.items():
        where = ".".join((*path, tag))
        if tag not in _TYPE_TAGS and tag != _OR:
            raise ValueError(f"{where!r}: {tag!r} is not a DynamoDB type tag; use one of {sorted(_TYPE_TAGS)}")
        if tag == "N" and _has_numeric(value):
            raise ValueError(
                f"{where!r} uses a numeric matcher on a DynamoDB number; numbers are strings on the wire "
                f"({{'N': '12.5'}}), so a numeric comparison never matches. Filter on an equal string value, or "
                "compare in the handler"
            )
        if isinstance(value, Mapping):
            _check_level(value, (*path, tag), None)
        elif isinstance(value, list):
            _check_leaf(value, (*path, tag))
        else:
            raise ValueError(f"filter field {where!r} must be a list of values or matchers, got {value!r}")


def _check_leaf(values: list[Any], path: tuple[str, ...]) -> None:
    where = ".".join(path)
    if not values:
        raise ValueError(f"filter field {where!r} has an empty list, which matches nothing")
    if path == ("eventName",):
        unknown = [value for value in values if isinstance(value, str) and value not in _EVENT_NAMES]
        if unknown:
            raise ValueError(f"eventName values must be among {list(_EVENT_NAMES)}, got {unknown!r}")


def _has_numeric(node: Any) -> bool:
    if isinstance(node, Mapping):
        return "numeric" in node or any(_has_numeric(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_numeric(value) for value in node)
    return False


def _mentions(node: Any, key: str) -> bool:
    if isinstance(node, Mapping):
        return key in node or any(_mentions(value, key) for value in node.values())
    if isinstance(node, list):
        return any(_mentions(value, key) for value in node)
    return False


def _merge_into(target: dict[str, Any], source: Mapping[str, Any], path: tuple[str, ...]) -> None:
    for key, value in source.items():
        if key not in target:
            target[key] = copy.deepcopy(value)
        elif isinstance(target[key], dict) and isinstance(value, Mapping):
            _merge_into(target[key], value, (*path, key))
        elif target[key] != value:
            raise ValueError(
                f"cannot AND two filters that both constrain {'.'.join((*path, key))!r} differently "
                f"({target[key]!r} and {value!r}); pass them as separate filters to OR them, or write one pattern"
            )
