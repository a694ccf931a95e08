"""Re-read a range of a DynamoDB stream's records by sequence number, saying by number which ones are gone.

A stream keeps each record for 24 hours: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RereadResult", "SequenceRange", "locate_shard", "read_range"]

# GetRecords returns at most 1,000 records a call:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
GET_RECORDS_LIMIT = 1000
# GetRecords may return an empty page before it reaches the records of an open shard ("it might take multiple calls
# to get to a portion of the shard that contains stream records", same page); an open shard's tip answers empty pages
# forever, so a few empty pages in a row end the read.
EMPTY_PAGES_AT_TIP = 3
# Sequence numbers are decimal strings of at least 21 digits; the API refuses shorter ones, so ints are zero-padded.
SEQUENCE_NUMBER_DIGITS = 21


@dataclass(frozen=True)
class SequenceRange:
    """Sequence numbers ``first`` to ``last``, both included. Sequence numbers are not consecutive: a range says
    where records are missing, not how many."""

    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}..{self.last}"


@dataclass(frozen=True)
class RereadResult:
    """The records of a failed batch still in the stream, in stream order as GetRecords returns them, and the
    sequence ranges known to be gone (trimmed after 24 hours, or never found before the shard ended)."""

    records: list[dict[str, Any]]
    trimmed: list[SequenceRange]


def read_range(streams_client: Any, stream_arn: str, shard_id: str, wanted: SequenceRange) -> RereadResult:
    """Re-read the records ``wanted`` from the shard ``shard_id`` of ``stream_arn``: AT_SEQUENCE_NUMBER its first,
    GetRecords up to its last.

    An expired iterator (they live 15 minutes) is renewed after the last record read; records trimmed from the
    stream are reported by sequence range, never silently dropped.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html#Streams.Processing
    """
    return _ShardReader(streams_client, stream_arn, shard_id, wanted).read()


def locate_shard(streams_client: Any, stream_arn: str, sequence_number: int) -> str | None:
    """The shard of ``stream_arn`` whose sequence number range holds ``sequence_number`` (an open shard's range has
    no end yet); None when none does any more (its shard was trimmed with its records, after 24 hours).
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_DescribeStream.html"""
    arguments: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        description = streams_client.describe_stream(**arguments)["StreamDescription"]
        for shard in description["Shards"]:
            numbers = shard.get("SequenceNumberRange", {})
            first, last = numbers.get("StartingSequenceNumber"), numbers.get("EndingSequenceNumber")
            if first is not None and int(first) <= sequence_number and (last is None or sequence_number <= int(last)):
                return str(shard["ShardId"])
        if not description.get("LastEvaluatedShardId"):
            return None
        arguments["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]


class _ShardReader:
    def __init__(self, streams_client: Any, stream_arn: str, shard_id: str, wanted: SequenceRange) -> None:
        self._client = streams_client
        self._stream_arn = stream_arn
        self._shard_id = shard_id
        self._wanted = wanted
        self._records: list[dict[str, Any]] = []
        self._trimmed: list[SequenceRange] = []
        self._last_read: int | None = None
        # The lowest sequence number not yet accounted for, when the iterator may have skipped records before it.
        self._gap_from: int | None = None

    def read(self) -> RereadResult:
        iterator: str | None = self._start_iterator()
        empty_pages = 0
        while iterator is not None:
            try:
                page = self._client.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
            except self._client.exceptions.ExpiredIteratorException:
                iterator = self._resume_iterator()
                continue
            except self._client.exceptions.TrimmedDataAccessException:
                # The iterator points at records the stream no longer holds: resume at the oldest it still has.
                self._gap_from = self._next_expected()
                iterator = self._iterator("TRIM_HORIZON")
                continue
            records = page["Records"]
            empty_pages = empty_pages + 1 if not records else 0
            if empty_pages >= EMPTY_PAGES_AT_TIP or self._take(records):
                break
            iterator = page.get("NextShardIterator")
        if self._last_read is None or self._last_read < self._wanted.last:
            self._trimmed.append(SequenceRange(self._next_expected(), self._wanted.last))
        return RereadResult(self._records, _merged(self._trimmed))

    def _take(self, records: Sequence[dict[str, Any]]) -> bool:
        """Keeps the records of the batch's range; True once the range is read."""
        for record in records:
            number = int(record["dynamodb"]["SequenceNumber"])
            if number < self._next_expected():
                continue
            expected = self._next_expected()
            at_start = self._last_read is None and number > self._wanted.first
            if (self._gap_from is not None or at_start) and number > expected:
                self._trimmed.append(SequenceRange(expected, min(number - 1, self._wanted.last)))
            self._gap_from = None
            if number > self._wanted.last:
                return True
            self._records.append(record)
            self._last_read = number
            if number == self._wanted.last:
                return True
        return False

    def _next_expected(self) -> int:
        if self._gap_from is not None:
            return self._gap_from
        return self._wanted.first if self._last_read is None else self._last_read + 1

    def _start_iterator(self) -> str | None:
        errors = self._client.exceptions
        try:
            return self._iterator("AT_SEQUENCE_NUMBER", self._wanted.first)
        except errors.TrimmedDataAccessException:
            pass
        except errors.ClientError as error:
            # DynamoDB Local answers a sequence number before its oldest record with a ValidationException where
            # DynamoDB answers TrimmedDataAccessException; the oldest record tells which one this is.
            if error.response["Error"]["Code"] != "ValidationException" or not self._starts_after_trim_horizon():
                raise
        self._gap_from = self._wanted.first
        return self._iterator("TRIM_HORIZON")

    def _starts_after_trim_horizon(self) -> bool:
        oldest = self._client.get_records(ShardIterator=self._iterator("TRIM_HORIZON"), Limit=1)["Records"]
        return bool(oldest) and int(oldest[0]["dynamodb"]["SequenceNumber"]) > self._wanted.first

    def _resume_iterator(self) -> str | None:
        if self._last_read is None:
            return self._start_iterator()
        return self._iterator("AFTER_SEQUENCE_NUMBER", self._last_read)

    def _iterator(self, iterator_type: str, sequence_number: int | None = None) -> str | None:
        position = (
            {} if sequence_number is None else {"SequenceNumber": f"{sequence_number:0{SEQUENCE_NUMBER_DIGITS}d}"}
        )
        answer = self._client.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=self._shard_id, ShardIteratorType=iterator_type, **position
        )
        iterator: str | None = answer.get("ShardIterator")
        return iterator


def _merged(ranges: Iterable[SequenceRange]) -> list[SequenceRange]:
    merged: list[SequenceRange] = []
    for each in sorted(ranges, key=lambda span: span.first):
        if merged and each.first <= merged[-1].last + 1:
            merged[-1] = SequenceRange(merged[-1].first, max(merged[-1].last, each.last))
        else:
            merged.append(each)
    return merged


# --- invoking a handler -------------------------------------------------------------------------------------------
