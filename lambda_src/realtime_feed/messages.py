"""What the RealtimeFeed publishes: the channel of each change, and the message it carries.

Channels follow the Events API's rules: a path of at most five segments whose first is the namespace, each segment 1 to
50 letters, digits and dashes, not starting or ending with a dash (the namespace name's pattern:
https://docs.aws.amazon.com/appsync/latest/APIReference/API_ChannelNamespace.html). An attribute value that is already
such a segment is used as it is; any other value (``CHAT#42``, a long text) becomes a readable prefix and a hash of
the value, ``CHAT-42-h<16 hex digits>``, so that two values never share a channel by accident.

Each message is one JSON object: ``type`` (``put``, ``delete``, or ``changed`` for an item too large to publish:
fetch it), ``eventName``, ``key``, ``sequence`` (the stream sequence number of the item's last change, zero-padded to
40 digits so that comparing the texts compares the numbers: a client keeps, per key, the highest it has applied and
drops any message whose sequence is not higher) and, for ``put``, ``item``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lambda_src.contract import FEED_MAX_EVENT_BYTES
from lambda_src.stream_runtime import EventName, ItemChange, PermanentError

__all__ = [
    "MAX_CHANNEL_SEGMENTS",
    "SEQUENCE_DIGITS",
    "ChannelTemplate",
    "FeedMessage",
    "channel_segment",
    "message_for",
    "to_json_value",
]

MAX_CHANNEL_SEGMENTS = 5
SEQUENCE_DIGITS = 40
_SEGMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
_PLACEHOLDER = re.compile(r"\{([^{}/]+)\}")
_NOT_SEGMENT_CHARACTERS = re.compile(r"[^A-Za-z0-9]+")
# JavaScript numbers are doubles: integers beyond 2**53 lose digits in a browser's JSON.parse.
_SAFE_INTEGER = 2**53


def channel_segment(value: object) -> str:
    """``value`` (a string or a number) as one channel segment: itself when valid, else a prefix and a hash."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise PermanentError(f"a channel segment comes from a string or a number, got a {type(value).__name__}")
    text = str(value)
    if _SEGMENT.fullmatch(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    readable = _NOT_SEGMENT_CHARACTERS.sub("-", text).strip("-")[:30].strip("-")
    return f"{readable}-h{digest}" if readable else f"h{digest}"


@dataclass(frozen=True)
class ChannelTemplate:
    """A channel path such as ``/items/{PK}``: literal segments and whole-segment ``{attribute}`` placeholders."""

    text: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ChannelTemplate:
        """Raises ValueError naming what is wrong with ``text``."""
        if not text.startswith("/"):
            raise ValueError(f"a channel starts with '/' and its namespace, got {text!r}")
        segments = tuple(text[1:].split("/"))
        if len(segments) > MAX_CHANNEL_SEGMENTS:
            raise ValueError(f"a channel has at most {MAX_CHANNEL_SEGMENTS} segments, got {len(segments)} in {text!r}")
        for position, segment in enumerate(segments):
            placeholder = _PLACEHOLDER.fullmatch(segment)
            if placeholder is not None and position > 0:
                continue
            if not _SEGMENT.fullmatch(segment):
                what = "the namespace" if position == 0 else f"segment {segment!r}"
                raise ValueError(
                    f"{what} of channel {text!r} must be 1 to 50 letters, digits or dashes (not first or last), "
                    "or a whole-segment {attribute} after the namespace"
                )
        return cls(text, segments)

    @property
    def namespace(self) -> str:
        return self.segments[0]

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes the channel is built from, in order."""
        return tuple(match[1] for segment in self.segments if (match := _PLACEHOLDER.fullmatch(segment)))

    @property
    def subscription(self) -> str:
        """The wildcard channel that receives every channel of the template: ``/items/*``."""
        fixed = []
        for segment in self.segments:
            if _PLACEHOLDER.fullmatch(segment):
                break
            fixed.append(segment)
        return "/" + "/".join(fixed) + "/*"

    def render(self, values: Mapping[str, Any]) -> str:
        """The channel for an item's ``values``; raises PermanentError when one it names is missing."""
        rendered = []
        for segment in self.segments:
            placeholder = _PLACEHOLDER.fullmatch(segment)
            if placeholder is None:
                rendered.append(segment)
                continue
            name = placeholder[1]
            if name not in values:
                raise PermanentError(f"channel {self.text!r} names attribute {name!r}, which this item does not have")
            rendered.append(channel_segment(values[name]))
        return "/" + "/".join(rendered)


@dataclass(frozen=True)
class FeedMessage:
    """One event to publish: its channel, the stringified JSON, and the change it comes from."""

    channel: str
    event: str
    change: ItemChange
    oversized: bool


def to_json_value(value: Any) -> Any:
    """A DynamoDB value as JSON: numbers as numbers where a browser reads them exactly (else as text), binary as
    base64, sets as sorted lists."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < _SAFE_INTEGER:
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, set | frozenset):
        return sorted((to_json_value(member) for member in value), key=lambda member: (str(type(member)), member))
    if isinstance(value, Mapping):
        return {name: to_json_value(member) for name, member in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(member) for member in value]
    return value


def message_for(
    change: ItemChange,
    channel: ChannelTemplate,
    *,
    attributes: Sequence[str] = (),
    private_attributes: Sequence[str] = (),
    max_event_bytes: int = FEED_MAX_EVENT_BYTES,
) -> FeedMessage:
    """The message of ``change``: a delete for a REMOVE, else the item with ``attributes`` only (Default: - all
    but ``private_attributes``), or a ``changed`` notice with the key when it would exceed ``max_event_bytes``.

    Raises PermanentError when the channel cannot be built for this item.
    """
    gone = change.event_name is EventName.REMOVE
    image = (change.old_image if gone else change.new_image) or {}
    channel_name = channel.render({**image, **change.keys})
    envelope = {
        "eventName": str(change.event_name),
        "key": to_json_value(change.keys),
        "sequence": str(change.records[-1].sequence_number).zfill(SEQUENCE_DIGITS),
    }
    if gone:
        return FeedMessage(channel_name, _dumps({"type": "delete", **envelope}), change, oversized=False)
    assert change.new_image is not None
    if attributes:
        shown = {name: value for name, value in change.new_image.items() if name in attributes}
    else:
        shown = {name: value for name, value in change.new_image.items() if name not in private_attributes}
    event = _dumps({"type": "put", **envelope, "item": to_json_value(shown)})
    if len(event.encode()) <= max_event_bytes:
        return FeedMessage(channel_name, event, change, oversized=False)
    notice = _dumps({"type": "changed", **envelope, "reason": "too large to publish: fetch the item"})
    return FeedMessage(channel_name, notice, change, oversized=True)


def _dumps(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
