"""The batch-level entry: a stream batch folded into one net change per item, for handlers that work on a whole batch.

A handler that calls a provider once per batch (embeddings), writes each item once (replication, aggregation), or runs
items concurrently (summaries) needs the batch as changes to items, not as records: a record stream may hold several
changes of one item, and only the difference between before the first and after the last matters. Records of one item
arrive in the order of its changes (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html), which is what makes
the fold sound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

from .batch import BatchFailures, PartialBatchResponse, batch_records
from .deadline import Deadline
from .errors import MalformedRecordError
from .log import get_logger, invocation_context, record_context
from .quarantine import Quarantine
from .record import EventName, StreamRecord, attribute_changed

__all__ = ["BatchHandler", "ChangeFailure", "ItemChange", "fold_changes", "process_item_changes"]

_logger = get_logger(__name__)


@dataclass(frozen=True)
class ItemChange:
    """One item's net change in a batch: the item as it was before its first record and as its last left it.

    ``event_name`` is INSERT when the item did not exist before the batch and does after it, MODIFY when it existed
    before and after (even if deleted and created again in between), REMOVE when it is gone after the batch (whether
    or not it existed before: a delete of what is not there is harmless, a missed delete is not). ``old_image`` is the
    first record's old image (None for an item the batch created, or a stream that carries no old images),
    ``new_image`` the last record's new image (None when the item is gone). ``records`` are the item's records in
    the batch, in order.
    """

    keys: dict[str, Any]
    event_name: EventName
    old_image: dict[str, Any] | None
    new_image: dict[str, Any] | None
    records: tuple[StreamRecord, ...] = field(repr=False)

    @property
    def sequence_number(self) -> int:
        """The item's lowest sequence number in the batch: the one a failure reports, so that Lambda redelivers all of
        the item's records and the next attempt sees the same change."""
        return self.records[0].sequence_number

    @property
    def item_key(self) -> tuple[tuple[str, Any], ...]:
        return self.records[0].item_key

    @property
    def recreated(self) -> bool:
        """Whether the item was created within the batch (an INSERT among its records), after any earlier state."""
        return any(record.event_name is EventName.INSERT for record in self.records)

    @property
    def is_ttl_delete(self) -> bool:
        """Whether the item is gone because time to live deleted it."""
        return self.event_name is EventName.REMOVE and self.records[-1].is_ttl_delete

    def attribute_changed(self, name: str) -> bool:
        """Whether attribute ``name`` differs between before the batch and after it; appearing or going counts.

        Raises StreamRuntimeError when the stream's view type leaves out an image needed to tell.
        """
        return attribute_changed(
            name, self.event_name, self.old_image, self.new_image, self.records[-1].stream_view_type
        )


class ChangeFailure(NamedTuple):
    """A change the handler could not apply, and why. A final ``error`` (PermanentError, MalformedRecordError) sends
    the change's records to quarantine; any other is reported for the mapping to retry."""

    change: ItemChange
    error: BaseException


BatchHandler = Callable[[Sequence[ItemChange], Deadline], Iterable[ChangeFailure] | None]


def fold_changes(records: Iterable[StreamRecord]) -> list[ItemChange]:
    """One net change per item of ``records`` (in delivery order), in the order the items first appear."""
    by_item: dict[tuple[tuple[str, Any], ...], list[StreamRecord]] = {}
    for record in records:
        by_item.setdefault(record.item_key, []).append(record)
    changes = []
    for item_records in by_item.values():
        first, last = item_records[0], item_records[-1]
        existed_before = first.event_name is not EventName.INSERT
        if last.event_name is EventName.REMOVE:
            event_name = EventName.REMOVE
        else:
            event_name = EventName.MODIFY if existed_before else EventName.INSERT
        changes.append(
            ItemChange(
                keys=last.keys,
                event_name=event_name,
                old_image=first.old_image if existed_before else None,
                new_image=None if event_name is EventName.REMOVE else last.new_image,
                records=tuple(item_records),
            )
        )
    return changes


def process_item_changes(
    event: Mapping[str, Any],
    context: Any,
    batch_handler: BatchHandler,
    *,
    deadline_margin: timedelta | None = None,
    quarantine: bool = True,
) -> PartialBatchResponse:
    """Fold the batch into one ``ItemChange`` per item, call ``batch_handler(changes, deadline)``, and answer with the
    partial batch response for the changes it returned as failed (``ChangeFailure``s).

    A record that cannot be parsed fails alone, before the handler runs. A final failure is quarantined when the
    function has a quarantine (STREAM_RUNTIME_QUARANTINE; ``quarantine=False``, Default: True, leaves final failures to
    the mapping's retries), and the batch moves on; the rest are reported by the lowest sequence number among their
    records. ``deadline`` tells how long the handler may still spend (``deadline_margin`` before the function times
    out; Default: 5 seconds, or STREAM_RUNTIME_DEADLINE_MARGIN_MS); the handler decides what to leave undone, reporting
    it as failed with a RetryableError. A handler that raises fails the whole batch. Raises MalformedRecordError as
    ``batch_records`` does.
    """
    raw_records, sequence_numbers = batch_records(event)
    deadline = Deadline.of(context, deadline_margin)
    failures = BatchFailures(Quarantine.from_env() if quarantine else None, context)
    with invocation_context(getattr(context, "aws_request_id", None)):
        records: list[StreamRecord] = []
        for raw_record, sequence_number in zip(raw_records, sequence_numbers, strict=True):
            with record_context(raw_record):
                try:
                    records.append(StreamRecord.from_wire(raw_record))
                except MalformedRecordError as error:
                    _logger.exception("Record failed", extra={"itemIdentifier": str(sequence_number)})
                    failures.add([raw_record], sequence_number, error)
        changes = fold_changes(records)
        given = {id(change) for change in changes}
        for failure in batch_handler(changes, deadline) or ():
            change = failure.change
            if id(change) not in given:
                raise TypeError(f"the batch handler reported a failure of a change it was not given: {change!r}")
            with record_context(change.records[-1].raw):
                failures.add([record.raw for record in change.records], change.sequence_number, failure.error)
        _logger.info(
            "Batch finished",
            extra={
                "records": len(raw_records),
                "items": len(changes),
                "failed": len(failures.reported),
                "quarantined": failures.quarantined,
            },
        )
    return failures.response()
