"""The archive's format, shared by the TtlArchiver's handler that writes it and the ``restore`` command that reads it.

An object holds the items one batch deleted on one expiry day, as gzip-compressed JSON Lines under Hive-style keys
``<prefix>expiry_date=YYYY-MM-DD/<table>-<first sequence number, 40 digits>.jsonl.gz``, so Athena and Glue read the day
as a partition. Each line is one deleted item, in the shape of DynamoDB's own export to S3 (``Item`` in DynamoDB JSON:
numbers as exact decimal strings, binary as base64) with what the stream said of its deletion::

    {"Item": {"PK": {"S": "SESSION#1"}, "expiresAt": {"N": "1764720000"}},
     "Keys": {"PK": {"S": "SESSION#1"}}, "deletedBy": "ttl", "expiresAt": 1764720000, "deletedAt": 1764723600,
     "sequenceNumber": "4421584500000000017450439091", "eventID": "..."}

``deletedBy`` is ``ttl`` for DynamoDB's time to live and ``caller`` for a delete by anyone else. An object's key is
that of the first record of its day in the batch: a retried batch writes its objects again under the same keys.
Standard library only.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "DAY_PARTITION",
    "OBJECT_SUFFIX",
    "archive_line",
    "day_of_key",
    "day_prefix",
    "decoded_lines",
    "encoded_lines",
    "expiry_day",
    "object_key",
]

DAY_PARTITION = "expiry_date"
OBJECT_SUFFIX = ".jsonl.gz"
_DAY = re.compile(rf"(^|/){DAY_PARTITION}=(\d{{4}}-\d{{2}}-\d{{2}})/")


def expiry_day(image: Mapping[str, Any], ttl_attribute: str, deleted_at: float | None) -> str:
    """The day (UTC) the item expired: its TTL attribute's, a Number of epoch seconds; for an item without one (a
    caller's delete), the day it was deleted; ``unknown`` when neither can be read."""
    value = image.get(ttl_attribute)
    if isinstance(value, Mapping) and isinstance(value.get("N"), str):
        try:
            return _day(Decimal(value["N"]))
        except (InvalidOperation, ValueError, OverflowError, OSError):
            pass
    if deleted_at is not None:
        return _day(Decimal(str(deleted_at)))
    return "unknown"


def archive_line(raw_record: Mapping[str, Any], *, is_ttl_delete: bool, ttl_attribute: str) -> dict[str, Any]:
    """The line for a REMOVE record as Lambda delivers it; KeyError when it has no OldImage."""
    stream = raw_record["dynamodb"]
    image = stream["OldImage"]
    ttl_value = image.get(ttl_attribute)
    expires_at = None
    if isinstance(ttl_value, Mapping) and isinstance(ttl_value.get("N"), str):
        expires_at = _number(ttl_value["N"])
    return {
        "Item": image,
        "Keys": stream["Keys"],
        "deletedBy": "ttl" if is_ttl_delete else "caller",
        "expiresAt": expires_at,
        "deletedAt": stream.get("ApproximateCreationDateTime"),
        "sequenceNumber": str(stream["SequenceNumber"]),
        "eventID": raw_record.get("eventID"),
    }


def object_key(prefix: str, day: str, table: str, first_sequence_number: int) -> str:
    return f"{day_prefix(prefix, day)}{table}-{first_sequence_number:040d}{OBJECT_SUFFIX}"


def day_prefix(prefix: str, day: str) -> str:
    return f"{prefix}{DAY_PARTITION}={day}/"


def day_of_key(key: str) -> str | None:
    """The expiry day in an object key, or None for a key outside the archive's partitions."""
    match = _DAY.search(key)
    return match[2] if match else None


def encoded_lines(lines: Iterable[Mapping[str, Any]]) -> bytes:
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    # mtime=0: the same lines give the same bytes, so a retried batch writes identical objects.
    return gzip.compress(text.encode(), mtime=0)


def decoded_lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines() if line.strip()]


def _day(seconds: Decimal) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%d")


def _number(text: str) -> int | str:
    """An epoch-seconds Number as an int when it is whole, else its text as is (exact either way)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    return int(value) if value == value.to_integral_value() else text
