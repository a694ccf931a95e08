"""Typed DynamoDB stream records, deserialized losslessly from the JSON that Lambda delivers."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from operator import itemgetter
from typing import Any, TypeVar

from .errors import MalformedRecordError, StreamRuntimeError

__all__ = [
    "EventName",
    "StreamRecord",
    "attribute_changed",
    "deserialize_attribute",
    "deserialize_image",
    "parse_sequence_number",
]

_T = TypeVar("_T")
_TYPE_TAGS = frozenset({"S", "N", "B", "SS", "NS", "BS", "L", "M", "BOOL", "NULL"})
# DynamoDB's number grammar. Decimal() alone would also take "NaN", "Infinity", "1_000" and padding spaces.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEQUENCE_NUMBER = re.compile(r"[0-9]+")
# How DynamoDB marks the deletes its TTL process makes:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html
_TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_ABSENT = object()


class EventName(StrEnum):
    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


def deserialize_attribute(value: Mapping[str, Any], *, path: str = "attribute") -> Any:
    """Turn one DynamoDB JSON attribute value (``{"N": "12.50"}``) into Python without losing anything.

    N becomes an exact ``Decimal``, B the decoded bytes, SS/NS/BS sets, L a list, M a dict, NULL None.
    Raises MalformedRecordError naming ``path`` for anything DynamoDB never sends.
    """
    if not isinstance(value, Mapping) or len(value) != 1:
        found = sorted(value) if isinstance(value, Mapping) else type(value).__name__
        raise MalformedRecordError(f"{path}: expected exactly one DynamoDB type tag, got {found}")
    ((tag, payload),) = value.items()
    match tag:
        case "S" if isinstance(payload, str):
            return payload
        case "N":
            return _number(payload, path)
        case "B":
            return _binary(payload, path)
        case "BOOL" if isinstance(payload, bool):
            return payload
        case "NULL" if payload is True:
            return None
        case "SS" if isinstance(payload, list) and all(isinstance(text, str) for text in payload):
            return set(payload)
        case "NS" if isinstance(payload, list):
            return {_number(number, path) for number in payload}
        case "BS" if isinstance(payload, list):
            return {_binary(blob, path) for blob in payload}
        case "L" if isinstance(payload, list):
            return [deserialize_attribute(item, path=f"{path}[{index}]") for index, item in enumerate(payload)]
        case "M" if isinstance(payload, Mapping):
            return deserialize_image(payload, path=path)
    if tag in _TYPE_TAGS:
        raise MalformedRecordError(f"{path}: a {tag} value cannot be a JSON {type(payload).__name__}")
    raise MalformedRecordError(f"{path}: unknown DynamoDB type tag {tag!r}")


def deserialize_image(image: Mapping[str, Any] | None, *, path: str = "image") -> dict[str, Any]:
    """Turn a DynamoDB JSON item (Keys, NewImage, OldImage or an M value) into a dict; None gives ``{}``."""
    if image is None:
        return {}
    if not isinstance(image, Mapping):
        raise MalformedRecordError(f"{path}: expected a map of attributes, got {type(image).__name__}")
    return {name: deserialize_attribute(value, path=f"{path}.{name}") for name, value in image.items()}


def parse_sequence_number(raw_record: object) -> int:
    """The wire record's ``dynamodb.SequenceNumber`` as an int, the only safe way to compare two of them.

    They are decimal strings of 21 to 40 digits, so as strings "9" * 21 sorts after "1" + "0" * 23:
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html
    """
    stream = raw_record.get("dynamodb") if isinstance(raw_record, Mapping) else None
    text = stream.get("SequenceNumber") if isinstance(stream, Mapping) else None
    if not isinstance(text, str) or not _SEQUENCE_NUMBER.fullmatch(text):
        raise MalformedRecordError(f"dynamodb.SequenceNumber must be a string of decimal digits, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class StreamRecord:
    """One change to one item, as delivered by a DynamoDB stream; build it with ``from_wire``."""

    event_id: str
    event_name: EventName
    event_source_arn: str | None
    aws_region: str | None
    keys: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None
    sequence_number: int
    size_bytes: int | None
    stream_view_type: str | None
    approximate_creation_time: datetime | None
    is_ttl_delete: bool
    raw: Mapping[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> StreamRecord:
        """Build a record from one element of the event's ``Records`` list, exactly as Lambda delivers it."""
        if not isinstance(raw, Mapping) or not isinstance(stream := raw.get("dynamodb"), Mapping):
            raise MalformedRecordError("a stream record must be a JSON object with a 'dynamodb' object")
        event_id = _optional(raw, "eventID", str)
        if not event_id:
            raise MalformedRecordError("the record has no eventID")
        try:
            event_name = EventName(raw["eventName"])
        except (KeyError, ValueError):
            raise MalformedRecordError(
                f"eventName must be INSERT, MODIFY or REMOVE, got {raw.get('eventName')!r}"
            ) from None
        if "Keys" not in stream:
            raise MalformedRecordError("the record has no dynamodb.Keys")
        identity = raw.get("userIdentity")
        is_ttl_delete = (
            event_name is EventName.REMOVE
            and isinstance(identity, Mapping)
            and all(identity.get(name) == value for name, value in _TTL_IDENTITY.items())
        )
        return cls(
            event_id=event_id,
            event_name=event_name,
            event_source_arn=_optional(raw, "eventSourceARN", str),
            aws_region=_optional(raw, "awsRegion", str),
            keys=deserialize_image(stream["Keys"], path="Keys"),
            # An absent image means the view type leaves it out (or REMOVE has nothing new), not an empty item.
            new_image=deserialize_image(stream["NewImage"], path="NewImage") if "NewImage" in stream else None,
            old_image=deserialize_image(stream["OldImage"], path="OldImage") if "OldImage" in stream else None,
            sequence_number=parse_sequence_number(raw),
            size_bytes=_optional(stream, "SizeBytes", int),
            stream_view_type=_optional(stream, "StreamViewType", str),
            approximate_creation_time=_creation_time(stream.get("ApproximateCreationDateTime")),
            is_ttl_delete=is_ttl_delete,
            raw=raw,
        )

    @property
    def table_name(self) -> str | None:
        """The table's name, from ``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>``."""
        if self.event_source_arn is None:
            return None
        kind, _, rest = self.event_source_arn.split(":", 5)[-1].partition("/")
        name = rest.partition("/")[0]
        return name if kind == "table" and name else None

    @property
    def item_key(self) -> tuple[tuple[str, Any], ...]:
        """A hashable identity of the changed item, e.g. to keep only the last change per item in a batch."""
        return tuple(sorted(self.keys.items(), key=itemgetter(0)))

    def attribute_changed(self, name: str) -> bool:
        """Whether this change touched attribute ``name``; adding or removing it counts as a change.

        Raises StreamRuntimeError when the stream's view type leaves out an image needed to tell.
        """
        return attribute_changed(name, self.event_name, self.old_image, self.new_image, self.stream_view_type)


def attribute_changed(
    name: str,
    event_name: EventName,
    old_image: Mapping[str, Any] | None,
    new_image: Mapping[str, Any] | None,
    stream_view_type: str | None,
) -> bool:
    """Whether ``name`` differs between ``old_image`` and ``new_image`` of an ``event_name`` change (an INSERT had
    nothing before, a REMOVE has nothing after); raises StreamRuntimeError when an image needed to tell is missing."""
    old = {} if event_name is EventName.INSERT else old_image
    new = {} if event_name is EventName.REMOVE else new_image
    if old is None or new is None:
        missing = " and ".join(label for label, image in (("old", old), ("new", new)) if image is None)
        raise StreamRuntimeError(
            f"attribute_changed({name!r}) needs the {missing} image of this {event_name} change, which a "
            f"{stream_view_type or 'stream of unknown view type'} stream does not carry; "
            "use the NEW_AND_OLD_IMAGES view type"
        )
    return old.get(name, _ABSENT) != new.get(name, _ABSENT)


def _optional(mapping: Mapping[str, Any], key: str, kind: type[_T]) -> _T | None:
    value = mapping.get(key)
    # isinstance(True, int) holds, yet a JSON true is never a size.
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise MalformedRecordError(f"{key} must be a JSON {kind.__name__}, got {type(value).__name__}")


def _number(text: object, path: str) -> Decimal:
    if not isinstance(text, str) or not _NUMBER.fullmatch(text):
        raise MalformedRecordError(f"{path}: not a DynamoDB number string")
    # Built from the string, Decimal keeps every digit: no context precision applies to the constructor, and
    # DynamoDB numbers carry up to 38 significant digits:
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
    return Decimal(text)


def _binary(text: object, path: str) -> bytes:
    # Lambda delivers B and BS values base64-encoded: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
    if not isinstance(text, str):
        raise MalformedRecordError(f"{path}: binary must be a base64 string, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as error:
        raise MalformedRecordError(f"{path}: binary is not valid base64") from error


def _creation_time(epoch_seconds: object) -> datetime | None:
    if epoch_seconds is None:
        return None
    if isinstance(epoch_seconds, int | float | Decimal) and not isinstance(epoch_seconds, bool):
        try:
            return datetime.fromtimestamp(float(epoch_seconds), tz=UTC)
        except (OverflowError, ValueError, OSError) as error:
            raise MalformedRecordError("ApproximateCreationDateTime is out of range") from error
    raise MalformedRecordError(f"ApproximateCreationDateTime must be epoch seconds, got {type(epoch_seconds).__name__}")
