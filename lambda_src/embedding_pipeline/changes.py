"""From a batch of stream records to the vector changes that bring the store up to date, one per item."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeGuard

from lambda_src.providers import Vector
from lambda_src.stream_runtime import (
    EventName,
    MalformedRecordError,
    PermanentError,
    StreamRecord,
    StreamRuntimeError,
    get_logger,
)
from lambda_src.stream_runtime.log import record_context
from lambda_src.stream_runtime.record import parse_sequence_number

from .vectors import vector_id, vector_metadata

__all__ = ["Action", "Change", "ChangePlan", "plan_changes"]

_logger = get_logger(__name__)


class Action(StrEnum):
    UPSERT = "upsert"  # embed the text and put the whole vector
    UPDATE_METADATA = "update_metadata"
    DELETE = "delete"


@dataclass(frozen=True)
class Change:
    """One item's change to the store. ``sequence_number`` is its first record's in the batch: that is the one
    reported when the change fails, so that Lambda redelivers all of the item's records and the next attempt sees
    the same change. ``vector`` is set once the text is embedded."""

    action: Action
    vector_id: str
    sequence_number: int
    event_ids: tuple[str, ...]
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    vector: Vector | None = None


@dataclass(frozen=True)
class ChangePlan:
    changes: list[Change]
    failed: list[int]  # sequence numbers of records that fail on their own: malformed, or without a usable key
    skipped: int  # items whose text is missing, empty or not a string


def plan_changes(
    raw_records: Sequence[Any],
    *,
    text_attribute: str,
    metadata_attributes: Sequence[str],
    vector_id_attributes: Sequence[str],
    max_id_length: int | None,
    supports_metadata_update: bool,
) -> ChangePlan:
    """The changes for ``raw_records`` (the event's Records, in delivery order), in the order items first appear.

    Raises MalformedRecordError when a record has no sequence number: with nothing to name, the batch has failed.
    """
    sequence_numbers = [parse_sequence_number(raw_record) for raw_record in raw_records]
    failed: list[int] = []
    records_by_item: dict[tuple[tuple[str, Any], ...], list[StreamRecord]] = {}
    for raw_record, sequence_number in zip(raw_records, sequence_numbers, strict=True):
        with record_context(raw_record):
            try:
                record = StreamRecord.from_wire(raw_record)
            except MalformedRecordError:
                _logger.exception("Malformed record")
                failed.append(sequence_number)
                continue
        # Records of one item arrive in the order of its changes: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
        records_by_item.setdefault(record.item_key, []).append(record)

    planner = _Planner(text_attribute, tuple(metadata_attributes), supports_metadata_update)
    changes: list[Change] = []
    for records in records_by_item.values():
        first, last = records[0], records[-1]
        with record_context(last.raw):
            try:
                item_vector_id = vector_id(last.keys, vector_id_attributes)
                if max_id_length is not None and len(item_vector_id) > max_id_length:
                    raise PermanentError(
                        f"the vector id from {', '.join(vector_id_attributes)} is {len(item_vector_id)} characters, "
                        f"over the vector store's limit of {max_id_length}"
                    )
                change = planner.change(records, item_vector_id)
            except StreamRuntimeError:
                _logger.exception("Record failed")
                failed.append(first.sequence_number)
                continue
        if change is not None:
            changes.append(change)
    return ChangePlan(changes=changes, failed=failed, skipped=planner.skipped)


class _Planner:
    def __init__(self, text_attribute: str, metadata_attributes: tuple[str, ...], supports_update: bool) -> None:
        self._text_attribute = text_attribute
        self._metadata_attributes = metadata_attributes
        self._supports_update = supports_update
        self.skipped = 0

    def change(self, records: Sequence[StreamRecord], item_vector_id: str) -> Change | None:
        """The change from the item as it was before its first record to the item as its last left it, or None."""
        first, last = records[0], records[-1]

        def change(action: Action, text: str = "", metadata: Mapping[str, Any] | None = None) -> Change:
            return Change(
                action,
                item_vector_id,
                first.sequence_number,
                tuple(record.event_id for record in records),
                text=text,
                metadata=metadata or {},
            )

        if last.event_name is EventName.REMOVE:
            return change(Action.DELETE)
        if last.new_image is None:
            raise PermanentError(
                f"this {last.stream_view_type} stream carries no new image to embed: use NEW_AND_OLD_IMAGES"
            )
        text = last.new_image.get(self._text_attribute)
        metadata, left_out = vector_metadata(last.new_image, self._metadata_attributes)
        if left_out:
            _logger.info("Metadata attributes left out: not flat values", extra={"attributes": left_out})
        existed_before = first.event_name is not EventName.INSERT
        if not _usable(text):
            # An old image the stream does not carry might have held text: deleting a missing vector is harmless.
            if existed_before and (first.old_image is None or _usable(first.old_image.get(self._text_attribute))):
                # The item had text and lost it: a vector left behind would find the item for words it no longer
                # holds.
                return change(Action.DELETE)
            self._skip(text)
            return None
        # The whole batch's change, for attribute_changed: before the item's first record, after its last.
        whole = dataclasses.replace(last, event_name=EventName.MODIFY, old_image=first.old_image)
        if not existed_before or self._changed(whole, self._text_attribute):
            return change(Action.UPSERT, text, metadata)
        old_metadata, _ = vector_metadata(first.old_image or {}, self._metadata_attributes)
        if old_metadata == metadata:
            return None
        # An update sets the fields it names and keeps the rest, so a field that went away needs the whole vector.
        if self._supports_update and old_metadata.keys() <= metadata.keys():
            return change(Action.UPDATE_METADATA, metadata=metadata)
        return change(Action.UPSERT, text, metadata)

    def _changed(self, whole: StreamRecord, name: str) -> bool:
        try:
            return whole.attribute_changed(name)
        except StreamRuntimeError:
            _logger.warning("The stream carries no old image: re-embedding, as the text may have changed")
            return True

    def _skip(self, text: object) -> None:
        reason = "missing" if text is None else "not a string" if not isinstance(text, str) else "empty"
        _logger.info("Skipped: no text to embed", extra={"textAttribute": self._text_attribute, "reason": reason})
        self.skipped += 1


def _usable(text: object) -> TypeGuard[str]:
    return isinstance(text, str) and bool(text.strip())
