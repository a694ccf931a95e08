"""From a batch's net item changes to the vector changes that bring the store up to date, one per item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeGuard

from lambda_src.providers import Vector
from lambda_src.stream_runtime import (
    ChangeFailure,
    EventName,
    ItemChange,
    PermanentError,
    StreamRuntimeError,
    get_logger,
)
from lambda_src.stream_runtime.log import record_context

from .vectors import vector_id, vector_metadata

__all__ = ["Action", "Change", "ChangePlan", "plan_changes"]

_logger = get_logger(__name__)


class Action(StrEnum):
    UPSERT = "upsert"  # embed the text and put the whole vector
    UPDATE_METADATA = "update_metadata"
    DELETE = "delete"


@dataclass(frozen=True)
class Change:
    """One item's change to the store, for the net change ``item`` of the batch. ``vector`` is set once the text is
    embedded."""

    action: Action
    vector_id: str
    item: ItemChange = field(repr=False)
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    vector: Vector | None = None

    @property
    def sequence_number(self) -> int:
        return self.item.sequence_number

    @property
    def event_ids(self) -> tuple[str, ...]:
        return tuple(record.event_id for record in self.item.records)


@dataclass(frozen=True)
class ChangePlan:
    changes: list[Change]
    failed: list[ChangeFailure]  # items that fail on their own: without a usable key or image
    skipped: int  # items whose text is missing, empty or not a string


def plan_changes(
    items: Sequence[ItemChange],
    *,
    text_attribute: str,
    metadata_attributes: Sequence[str],
    vector_id_attributes: Sequence[str],
    max_id_length: int | None,
    supports_metadata_update: bool,
) -> ChangePlan:
    """The store changes for the batch's net item changes ``items``, in their order; None where nothing is to send."""
    failed: list[ChangeFailure] = []
    planner = _Planner(text_attribute, tuple(metadata_attributes), supports_metadata_update)
    changes: list[Change] = []
    for item in items:
        with record_context(item.records[-1].raw):
            try:
                item_vector_id = vector_id(item.keys, vector_id_attributes)
                if max_id_length is not None and len(item_vector_id) > max_id_length:
                    raise PermanentError(
                        f"the vector id from {', '.join(vector_id_attributes)} is {len(item_vector_id)} characters, "
                        f"over the vector store's limit of {max_id_length}"
                    )
                change = planner.change(item, item_vector_id)
            except StreamRuntimeError as error:
                _logger.exception("Record failed")
                failed.append(ChangeFailure(item, error))
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

    def change(self, item: ItemChange, item_vector_id: str) -> Change | None:
        """The change from the item as it was before the batch to the item as the batch left it, or None."""

        def change(action: Action, text: str = "", metadata: Mapping[str, Any] | None = None) -> Change:
            return Change(action, item_vector_id, item, text=text, metadata=metadata or {})

        if item.event_name is EventName.REMOVE:
            return change(Action.DELETE)
        if item.new_image is None:
            raise PermanentError(
                f"this {item.records[-1].stream_view_type} stream carries no new image to embed: use NEW_AND_OLD_IMAGES"
            )
        text = item.new_image.get(self._text_attribute)
        metadata, left_out = vector_metadata(item.new_image, self._metadata_attributes)
        if left_out:
            _logger.info("Metadata attributes left out: not flat values", extra={"attributes": left_out})
        existed_before = item.event_name is EventName.MODIFY
        if not _usable(text):
            # An old image the stream does not carry might have held text: deleting a missing vector is harmless.
            if existed_before and (item.old_image is None or _usable(item.old_image.get(self._text_attribute))):
                # The item had text and lost it: a vector left behind would find the item for words it no longer
                # holds.
                return change(Action.DELETE)
            self._skip(text)
            return None
        if not existed_before or self._changed(item, self._text_attribute):
            return change(Action.UPSERT, text, metadata)
        old_metadata, _ = vector_metadata(item.old_image or {}, self._metadata_attributes)
        if old_metadata == metadata:
            return None
        # An update sets the fields it names and keeps the rest, so a field that went away needs the whole vector.
        if self._supports_update and old_metadata.keys() <= metadata.keys():
            return change(Action.UPDATE_METADATA, metadata=metadata)
        return change(Action.UPSERT, text, metadata)

    def _changed(self, item: ItemChange, name: str) -> bool:
        try:
            return item.attribute_changed(name)
        except StreamRuntimeError:
            _logger.warning("The stream carries no old image: re-embedding, as the text may have changed")
            return True

    def _skip(self, text: object) -> None:
        reason = "missing" if text is None else "not a string" if not isinstance(text, str) else "empty"
        _logger.info("Skipped: no text to embed", extra={"textAttribute": self._text_attribute, "reason": reason})
        self.skipped += 1


def _usable(text: object) -> TypeGuard[str]:
    return isinstance(text, str) and bool(text.strip())
