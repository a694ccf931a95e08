"""How large an invocation's payload is, against Lambda's limits for a DynamoDB stream: 6 MB for an event, 1 MB for a
tumbling window's state.

Sizes are those of compact JSON in UTF-8. Writing a large event out to measure it costs as much as building it, so a
batch whose records' SizeBytes show it cannot reach the limit is not measured at all (``surely_fits``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from constructs_pkg.local.wire import lambda_record

__all__ = [
    "EVENT_ENVELOPE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_WINDOW_STATE_BYTES",
    "payload_bytes",
    "payload_json",
    "record_bytes",
    "records_that_fit",
    "surely_fits",
]

# An invocation's event carries at most 6 MB; a batch being gathered goes out once it holds that much:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html and
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# A tumbling window's state may hold 1 MB; a larger one ends the window early:
# https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html
MAX_WINDOW_STATE_BYTES = 1024 * 1024
# The bound of a record's JSON, per byte of its SizeBytes and for the rest: see surely_fits.
_JSON_BYTES_PER_STREAM_BYTE = 32
_RECORD_ENVELOPE_BYTES = 1024


def payload_json(value: Any) -> str:
    """``value`` as an invocation's payload: compact JSON, its text unescaped (UTF-8 on the wire). The encoder's
    check for cycles is skipped: an event, made of JSON, has none."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, check_circular=False)


def payload_bytes(value: Any) -> int:
    """The size of ``value``'s payload in UTF-8, what the limits count."""
    payload = payload_json(value)
    # A check of one flag when it is all ASCII.
    return len(payload) if payload.isascii() else len(payload.encode())


EVENT_ENVELOPE_BYTES = payload_bytes({"Records": []})


def record_bytes(record: Mapping[str, Any], stream_arn: str) -> int:
    """What ``record`` (from GetRecords) adds to an event's payload: itself and the separator before it."""
    return payload_bytes(lambda_record(record, stream_arn)) + len(",")


def surely_fits(records: Sequence[Mapping[str, Any]], stream_arn: str) -> bool:
    """Whether the event of ``records`` is certain to fit in a payload, by each record's SizeBytes, unwritten.

    SizeBytes counts the record's keys' and images' attribute names and values as DynamoDB does
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html); JSON writes none
    of them in more than _JSON_BYTES_PER_STREAM_BYTE times that (the most is 13 bytes for one: a one-letter attribute
    holding an empty string; an escaped control character takes 6), and the rest of a record (ids, sequence number,
    the stream's ARN) in less than _RECORD_ENVELOPE_BYTES. A record without SizeBytes makes the answer False.
    """
    bound = EVENT_ENVELOPE_BYTES
    for record in records:
        size = record["dynamodb"].get("SizeBytes")
        if not isinstance(size, int):
            return False
        bound += _RECORD_ENVELOPE_BYTES + len(stream_arn) + _JSON_BYTES_PER_STREAM_BYTE * size
    return bound <= MAX_PAYLOAD_BYTES


def records_that_fit(records: Sequence[Mapping[str, Any]], event: Mapping[str, Any], stream_arn: str) -> int:
    """How many of ``records``, from the first, fit in one payload with the rest of ``event`` (its other fields)."""
    budget = MAX_PAYLOAD_BYTES - payload_bytes({**event, "Records": []})
    count = 0
    for record in records:
        budget -= record_bytes(record, stream_arn)
        if budget < 0:
            break
        count += 1
    # One record always goes: a DynamoDB item of at most 400 KB, twice in a stream record, fits in 6 MB.
    return max(count, 1)
