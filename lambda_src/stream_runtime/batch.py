"""Run a handler over a DynamoDB stream batch and answer Lambda with a partial batch response."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from .errors import MalformedRecordError
from .log import get_logger, invocation_context, record_context
from .record import StreamRecord, parse_sequence_number

__all__ = ["DEADLINE_MARGIN_ENV", "DEFAULT_DEADLINE_MARGIN", "partial_batch_response", "process_stream_batch"]

DEFAULT_DEADLINE_MARGIN = timedelta(seconds=5)
DEADLINE_MARGIN_ENV = "STREAM_RUNTIME_DEADLINE_MARGIN_MS"

_logger = get_logger(__name__)


def partial_batch_response(failed_sequence_numbers: Iterable[int]) -> dict[str, list[dict[str, str]]]:
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


def process_stream_batch(
    event: Mapping[str, Any],
    context: Any,
    record_handler: Callable[[StreamRecord], None],
    *,
    continue_after_failure: bool = False,
    deadline_margin: timedelta | None = None,
) -> dict[str, list[dict[str, str]]]:
    """Call ``record_handler`` on each record in delivery order and return the partial batch response.

    A record fails when it cannot be parsed or its handler raises. The failure is logged with the record's ids and
    the batch stops there: Lambda redelivers every record after the first failure anyway, so handling them now would
    only repeat their side effects. ``continue_after_failure=True`` handles every record and still reports the
    first failure. Before each record, when less than ``deadline_margin`` is left before the function times out
    (Default: 5 seconds, or STREAM_RUNTIME_DEADLINE_MARGIN_MS), the batch stops and reports the first record left.
    ``context=None`` means no deadline.

    The response only counts with ReportBatchItemFailures on the event source mapping; without it, Lambda ignores
    it and every record counts as a success. Raises MalformedRecordError before handling any record when the event
    has no Records list or a record has no decimal SequenceNumber: with nothing to name, the whole batch has
    failed, which is also how Lambda would read an empty itemIdentifier.
    """
    raw_records = event.get("Records")
    if not isinstance(raw_records, list):
        raise MalformedRecordError(f"the event has no Records list (got {type(raw_records).__name__})")
    sequence_numbers = [parse_sequence_number(raw_record) for raw_record in raw_records]
    margin = _deadline_margin_from_env() if deadline_margin is None else deadline_margin
    processed = 0
    failed: list[int] = []
    left_by_deadline: list[int] = []
    with invocation_context(getattr(context, "aws_request_id", None)):
        for position, (raw_record, sequence_number) in enumerate(zip(raw_records, sequence_numbers, strict=True)):
            with record_context(raw_record):
                # A timeout fails the whole batch, records already handled included; stopping early keeps them:
                # https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
                if context is not None and timedelta(milliseconds=context.get_remaining_time_in_millis()) < margin:
                    left_by_deadline = sequence_numbers[position:]
                    _logger.warning(
                        "Stopping before the function times out", extra={"recordsLeft": len(left_by_deadline)}
                    )
                    break
                try:
                    record_handler(StreamRecord.from_wire(raw_record))
                except Exception:
                    _logger.exception("Record failed")
                    failed.append(sequence_number)
                    if not continue_after_failure:
                        break
                else:
                    processed += 1
        _logger.info(
            "Batch finished",
            extra={
                "records": len(raw_records),
                "processed": processed,
                "failed": len(failed),
                "skippedByDeadline": len(left_by_deadline),
                "skippedAfterFailure": len(raw_records) - processed - len(failed) - len(left_by_deadline),
            },
        )
    return partial_batch_response(failed + left_by_deadline)


def _deadline_margin_from_env() -> timedelta:
    text = os.environ.get(DEADLINE_MARGIN_ENV)
    if text is None:
        return DEFAULT_DEADLINE_MARGIN
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{DEADLINE_MARGIN_ENV} must be a whole number of milliseconds, got {text!r}")
    return timedelta(milliseconds=int(text))
