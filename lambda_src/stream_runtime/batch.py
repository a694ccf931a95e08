"""Run a handler over a DynamoDB stream batch, record by record, and answer Lambda with a partial batch response."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from .deadline import DEFAULT_DEADLINE_MARGIN, Deadline
from .errors import MalformedRecordError, is_final
from .log import get_logger, invocation_context, record_context
from .quarantine import Quarantine
from .record import StreamRecord, parse_sequence_number

__all__ = [
    "DEFAULT_DEADLINE_MARGIN",
    "BatchFailures",
    "batch_records",
    "partial_batch_response",
    "process_stream_batch",
]

PartialBatchResponse = dict[str, list[dict[str, str]]]

_logger = get_logger(__name__)


def partial_batch_response(failed_sequence_numbers: Iterable[int]) -> PartialBatchResponse:
    """The response naming the lowest failed sequence number, or no failure at all.

    Lambda checkpoints at the lowest reported sequence number and redelivers every record from there, so that
    one identifier says everything: https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
    """
    failed = list(failed_sequence_numbers)
    # Sequence numbers are decimal strings on the wire, and as strings "9" * 21 sorts after "1" + "0" * 23.
    if any(type(number) is not int or number < 0 for number in failed):
        raise TypeError(f"failed_sequence_numbers must be non-negative ints, got {failed!r}")
    if not failed:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": str(min(failed))}]}


def batch_records(event: Mapping[str, Any]) -> tuple[list[Any], list[int]]:
    """The event's records and their sequence numbers, as ints.

    Raises MalformedRecordError when the event has no Records list or a record has no decimal SequenceNumber: with
    nothing to name, the whole batch has failed, which is also how Lambda would read an empty itemIdentifier.
    """
    raw_records = event.get("Records")
    if not isinstance(raw_records, list):
        raise MalformedRecordError(f"the event has no Records list (got {type(raw_records).__name__})")
    return raw_records, [parse_sequence_number(raw_record) for raw_record in raw_records]


class BatchFailures:
    """A batch's failed records: each final failure goes to ``quarantine`` (when the function has one) and out of the
    batch; every other failure, and a final one whose quarantine failed, is reported in the partial batch response."""

    def __init__(self, quarantine: Quarantine | None, context: Any) -> None:
        self._quarantine = quarantine
        self._context = context
        self.reported: list[int] = []
        self.quarantined = 0

    def add(self, raw_records: Sequence[Mapping[str, Any]], sequence_number: int, error: BaseException) -> bool:
        """Record the failure of ``raw_records`` (one record, or one item's), whose lowest sequence number is
        ``sequence_number``; True when it was quarantined, False when it is reported."""
        if (
            is_final(error)
            and self._quarantine is not None
            and self._quarantine.take(raw_records, error, self._context)
        ):
            self.quarantined += len(raw_records)
            return True
        self.reported.append(sequence_number)
        return False

    def response(self) -> PartialBatchResponse:
        return partial_batch_response(self.reported)


def process_stream_batch(
    event: Mapping[str, Any],
    context: Any,
    record_handler: Callable[[StreamRecord], None],
    *,
    continue_after_failure: bool = False,
    deadline_margin: timedelta | None = None,
    quarantine: bool = True,
) -> PartialBatchResponse:
    """Call ``record_handler`` on each record in delivery order and return the partial batch response.

    A record fails when it cannot be parsed or its handler raises. A final failure (MalformedRecordError,
    PermanentError) is quarantined when the function has a quarantine (STREAM_RUNTIME_QUARANTINE, which the constructs
    set), and the batch goes on; ``quarantine=False`` (Default: True) leaves final failures to the mapping's retries.
    Any other failure is logged with the record's ids and the batch stops there: Lambda redelivers every record after
    the first failure anyway, so handling them now would only repeat their side effects.
    ``continue_after_failure=True`` handles every record and still reports the first failure. Before each record,
    when the deadline (``deadline_margin`` before the function times out; Default: 5 seconds, or
    STREAM_RUNTIME_DEADLINE_MARGIN_MS) has passed, the batch stops and reports the first record left.
    ``context=None`` means no deadline.

    The response only counts with ReportBatchItemFailures on the event source mapping; without it, Lambda ignores
    it and every record counts as a success. Raises MalformedRecordError as ``batch_records`` does.
    """
    raw_records, sequence_numbers = batch_records(event)
    deadline = Deadline.of(context, deadline_margin)
    failures = BatchFailures(Quarantine.from_env() if quarantine else None, context)
    processed = 0
    left_by_deadline: list[int] = []
    with invocation_context(getattr(context, "aws_request_id", None)):
        for position, (raw_record, sequence_number) in enumerate(zip(raw_records, sequence_numbers, strict=True)):
            with record_context(raw_record):
                if deadline.passed:
                    left_by_deadline = sequence_numbers[position:]
                    _logger.warning(
                        "Stopping before the function times out", extra={"recordsLeft": len(left_by_deadline)}
                    )
                    break
                try:
                    record_handler(StreamRecord.from_wire(raw_record))
                except Exception as error:
                    _logger.exception("Record failed")
                    if not failures.add([raw_record], sequence_number, error) and not continue_after_failure:
                        break
                else:
                    processed += 1
        failed = len(failures.reported)
        _logger.info(
            "Batch finished",
            extra={
                "records": len(raw_records),
                "processed": processed,
                "failed": failed,
                "quarantined": failures.quarantined,
                "skippedByDeadline": len(left_by_deadline),
                "skippedAfterFailure": len(raw_records)
                - processed
                - failed
                - failures.quarantined
                - len(left_by_deadline),
            },
        )
    return partial_batch_response(failures.reported + left_by_deadline)
