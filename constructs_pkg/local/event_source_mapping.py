"""Lambda's DynamoDB event source mapping, emulated on one machine: poll a stream, hand each batch to a function.

A ``MappingEmulator`` reads one mapping's stream shard by shard (parents before children), drops the records its
FilterCriteria rejects, batches the rest (BatchSize, the batching window, the 6 MB payload limit, one lane per
ParallelizationFactor) and invokes the function with the event Lambda would deliver. Failures follow the mapping's own
settings: partial batch responses, bisection, bounded retries and record age, tumbling windows, then an on-failure
message. Semantics from https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html and the pages it links.

Everything it works with is handed to it: the streams client and the stream's ARN, the function, the statistics to
add to, the wall clock, and where on-failure messages go.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from constructs_pkg.local.assembly import MappingSpec
from constructs_pkg.local.filter_patterns import matches_any
from constructs_pkg.local.lambda_host import LocalFunction
from constructs_pkg.local.payload_limits import (
    EVENT_ENVELOPE_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_WINDOW_STATE_BYTES,
    payload_bytes,
    payload_json,
    record_bytes,
    records_that_fit,
    surely_fits,
)
from constructs_pkg.local.ttl import TtlSweeper
from constructs_pkg.local.wire import lambda_event, lambda_record

__all__ = ["Invocation", "MappingEmulator", "OnFailureSender", "RunStats"]

_logger = logging.getLogger(__name__)

# GetRecords returns at most 1,000 records a call:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
_GET_RECORDS_LIMIT = 1000
_SHARD_REFRESH_SECONDS = 1.0
# Sends an on-failure message; the Lambda event of the discarded batch goes along for the S3 destination's payload.
OnFailureSender = Callable[[dict[str, Any], dict[str, Any]], None]


@dataclass(frozen=True)
class Invocation:
    """One call of a handler: which mapping and shard, the sequence numbers delivered (in order) and the outcome.

    ``item_keys`` are the records' ``Keys`` as GetRecords returned them; ``failed_from`` is the index of the first
    record Lambda would redeliver (None: the batch succeeded).
    """

    mapping: str
    shard_id: str
    sequence_numbers: tuple[int, ...]
    item_keys: tuple[Mapping[str, Any], ...]
    failed_from: int | None
    error: str | None

    @property
    def keys(self) -> tuple[str, ...]:
        """Each record's keys as JSON with sorted names: the same item gives the same string."""
        # Made when asked, not for every record delivered: the run itself never needs them.
        return tuple(_keys_json(keys) for keys in self.item_keys)


@dataclass
class RunStats:
    """What a run did: records read and filtered out, invocations, records discarded and on-failure messages sent."""

    records_read: int = 0
    records_filtered_out: int = 0
    records_succeeded: int = 0
    records_discarded: int = 0
    invocations: list[Invocation] = field(default_factory=list)
    on_failure_messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed_invocations(self) -> int:
        return sum(1 for invocation in self.invocations if invocation.failed_from is not None)

    def summary(self) -> str:
        return (
            f"{self.records_read} records read, {self.records_filtered_out} filtered out, "
            f"{len(self.invocations)} invocations ({self.failed_invocations} failed), "
            f"{self.records_succeeded} records processed, {self.records_discarded} sent to on-failure destinations"
        )


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    started: bool = False
    closed: bool = False
    # The last record read (the filtered out included), where a renewed iterator starts after.
    last_sequence: str | None = None
    # ParallelizationFactor lanes: each item's records go to one lane, in order; each lane has one batch in flight.
    lanes: list[_Lane] = field(default_factory=list)

    @property
    def exhausted(self) -> bool:
        """Closed and read to its end (a shard never read has no iterator yet either)."""
        return self.started and self.closed and self.iterator is None

    @property
    def finished(self) -> bool:
        return self.exhausted and all(lane.empty for lane in self.lanes)

    @property
    def buffered(self) -> int:
        return sum(len(lane.buffer) for lane in self.lanes)


@dataclass
class _Lane:
    """The records of a shard waiting for one batch slot, and that slot's retry, bisection and window state."""

    shard: _Shard
    buffer: list[dict[str, Any]] = field(default_factory=list)
    # When the batching window began: the first record's read, then each completed invocation.
    gathering_since: float | None = None
    # The payload of the buffer's first ``sized`` records as one event, counted while a batching window gathers.
    sized: int = 0
    sized_bytes: int = 0
    # Since the checkpoint last moved: failed invocations not followed by a bisection (retries), and every invocation,
    # bisected ones included (the on-failure message's approximateInvokeCount).
    retries: int = 0
    invocations: int = 0
    bisect_limit: int | None = None
    # The open tumbling window (its start in epoch seconds) and the state its invocations have returned so far.
    window_start: int | None = None
    window_state: Any = field(default_factory=dict)
    window_terminated_early: bool = False

    @property
    def empty(self) -> bool:
        return not self.buffer and self.window_start is None


class MappingEmulator:
    """One enabled event source mapping: ``spec``'s settings applied to the stream ``stream_arn`` read with
    ``streams_client`` (boto3 ``dynamodbstreams``), each batch handed to ``function``. Every record read, filtered,
    processed or discarded and every invocation is added to ``stats``; record ages and tumbling windows are measured
    against ``clock`` (epoch seconds); ``on_failure`` sends the on-failure messages (None: they are only logged, and
    kept in ``stats``). ``ttl`` (Default: None) marks the REMOVE records of the items it deleted as TTL deletes.

    The shards are listed when it is made: a LATEST mapping starts at their tips then.
    """

    def __init__(
        self,
        spec: MappingSpec,
        function: LocalFunction,
        *,
        streams_client: Any,
        stream_arn: str,
        stats: RunStats,
        clock: Callable[[], float],
        on_failure: OnFailureSender | None,
        ttl: TtlSweeper | None = None,
    ) -> None:
        self.spec = spec
        self.function = function
        self.stream_arn = stream_arn
        self._streams = streams_client
        self._stats = stats
        self._clock = clock
        self._on_failure = on_failure
        self._ttl = ttl
        self.shards: dict[str, _Shard] = {}
        self._refreshed_at = 0.0
        self._refresh_shards()
        # LATEST applies to the shards open when the mapping starts; shards found later are read from their start.
        self._initial_shards = set(self.shards)

    @property
    def idle(self) -> bool:
        return all(not shard.buffered for shard in self.shards.values())

    def poll(self) -> bool:
        """Read and dispatch once on every readable shard; whether anything was read or invoked."""
        if time.monotonic() - self._refreshed_at >= _SHARD_REFRESH_SECONDS:
            self._refresh_shards()
        progressed = False
        for shard in self.shards.values():
            if shard.finished or not self._parent_done(shard):
                continue
            progressed |= self._read(shard)
            for lane in shard.lanes:
                progressed |= self._dispatch(lane)
        return progressed

    def _refresh_shards(self) -> None:
        self._refreshed_at = time.monotonic()
        arguments: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**arguments)["StreamDescription"]
            for shard in description["Shards"]:
                known = self.shards.get(shard["ShardId"])
                if known is None:
                    known = _Shard(shard["ShardId"], shard.get("ParentShardId"))
                    known.lanes = [_Lane(known) for _ in range(self.spec.parallelization_factor)]
                    self.shards[shard["ShardId"]] = known
                known.closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            if not description.get("LastEvaluatedShardId"):
                break
            arguments["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]

    def _parent_done(self, shard: _Shard) -> bool:
        # A parent shard must be read to its end before its children, to keep each item's changes in order:
        # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html#Streams.Processing
        parent = self.shards.get(shard.parent_id or "")
        return parent is None or parent.finished

    def _read(self, shard: _Shard) -> bool:
        if not shard.started:
            position = self.spec.starting_position if shard.shard_id in self._initial_shards else "TRIM_HORIZON"
            shard.iterator = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard.shard_id, ShardIteratorType=position
            )["ShardIterator"]
            shard.started = True
        # Read ahead no further than a full batch for each lane.
        if shard.iterator is None or shard.buffered >= self.spec.batch_size * len(shard.lanes):
            return False
        try:
            page = self._streams.get_records(ShardIterator=shard.iterator, Limit=_GET_RECORDS_LIMIT)
        except self._streams.exceptions.TrimmedDataAccessException:
            page = self._streams.get_records(ShardIterator=self._renewed_iterator(shard), Limit=_GET_RECORDS_LIMIT)
        shard.iterator = page.get("NextShardIterator")
        if page["Records"]:
            shard.last_sequence = page["Records"][-1]["dynamodb"]["SequenceNumber"]
        stats = self._stats
        stats.records_read += len(page["Records"])
        for record in page["Records"]:
            if self._ttl is not None:
                record = self._ttl.marked(self.stream_arn, record)
            # Records the filters reject are checkpointed without an invocation:
            # https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
            if self.spec.filter_patterns and not matches_any(
                self.spec.filter_patterns, lambda_record(record, self.stream_arn)
            ):
                stats.records_filtered_out += 1
                continue
            lane = shard.lanes[self._lane_of(record, len(shard.lanes))]
            lane.buffer.append(record)
            if lane.gathering_since is None:
                lane.gathering_since = time.monotonic()
        return bool(page["Records"])

    @staticmethod
    def _lane_of(record: Mapping[str, Any], lanes: int) -> int:
        """The lane of the record's item: Lambda keeps each item's (partition and sort key's) changes in order."""
        if lanes == 1:
            return 0
        return zlib.crc32(_keys_json(record["dynamodb"]["Keys"]).encode()) % lanes

    def _renewed_iterator(self, shard: _Shard) -> str:
        """An iterator after the last record read from ``shard``, else at its oldest record.

        DynamoDB Local refuses, as trimmed, an iterator taken while the shard was empty once other tables' writes have
        moved its sequence counter (shared by every table); a real stream refuses one whose records aged out (after
        24 hours: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
        """
        if shard.last_sequence is not None:
            arguments = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_sequence}
        else:
            if self.spec.starting_position == "LATEST":
                _logger.warning("%s: %s read again from TRIM_HORIZON", self.spec.logical_id, shard.shard_id)
            arguments = {"ShardIteratorType": "TRIM_HORIZON"}
        iterator: str = self._streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard.shard_id, **arguments
        )["ShardIterator"]
        return iterator

    def _dispatch(self, lane: _Lane) -> bool:
        dispatched = False
        while True:
            if self._window_over(lane):
                dispatched = True
                if not self._invoke_final(lane):
                    break
            elif lane.buffer and self._batch_ready(lane):
                dispatched = True
                self._invoke_head(lane)
                if lane.invocations:
                    # The batch failed and waits for its retry or bisection: one attempt a pass, so a batch that
                    # keeps failing holds up its own shard only, as in Lambda, not every other shard and mapping.
                    break
            else:
                break
        return dispatched

    def _window_of(self, record: Mapping[str, Any]) -> int:
        # Windows are aligned to the epoch and records fall in by their arrival in the stream:
        # https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html
        seconds = self.spec.tumbling_window_seconds
        return int(_arrival(record).timestamp()) // seconds * seconds

    def _window_over(self, lane: _Lane) -> bool:
        """Whether the open window got its last record: a later window's is next, the shard ended, or time is up."""
        if lane.window_start is None:
            return False
        if lane.window_terminated_early:
            return True
        if lane.buffer:
            return self._window_of(lane.buffer[0]) != lane.window_start
        window_end = lane.window_start + self.spec.tumbling_window_seconds
        return lane.shard.exhausted or self._clock() >= window_end

    def _window_fields(self, lane: _Lane, *, final: bool) -> dict[str, Any]:
        assert lane.window_start is not None
        start = datetime.fromtimestamp(lane.window_start, UTC)
        end = datetime.fromtimestamp(lane.window_start + self.spec.tumbling_window_seconds, UTC)
        return {
            "window": {"start": _iso(start), "end": _iso(end)},
            # A copy, as the payload's would be: the handler may change what it is given.
            "state": json.loads(payload_json(lane.window_state)),
            "shardId": lane.shard.shard_id,
            "eventSourceARN": self.stream_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": final and lane.window_terminated_early,
        }

    def _invoke_final(self, lane: _Lane) -> bool:
        """The window's last invocation (no records, its state) for the handler to act on; whether it succeeded.

        A failed one is retried at the next poll up to MaximumRetryAttempts; then the window's state is dropped.
        """
        event = {"Records": [], **self._window_fields(lane, final=True)}
        error: str | None = None
        try:
            _request_id, response = self.function.invoke(event)
            if not isinstance(response, Mapping) or "state" not in response:
                error = "the response returned no state"
        except Exception as raised:
            _logger.warning("%s: the handler raised %r on a window's final invocation", self.spec.logical_id, raised)
            error = repr(raised)
        failed_from = None if error is None else 0
        self._stats.invocations.append(
            Invocation(self.spec.logical_id, lane.shard.shard_id, (), (), failed_from=failed_from, error=error)
        )
        if error is not None and not self._retries_exhausted(lane):
            lane.retries += 1
            return False
        if error is not None:
            _logger.warning(
                "%s: window %s dropped after its final invocation failed", self.spec.logical_id, event["window"]
            )
        lane.window_start, lane.window_state, lane.window_terminated_early = None, {}, False
        lane.retries = 0
        return error is None

    def _retries_exhausted(self, lane: _Lane) -> bool:
        retries = self.spec.maximum_retry_attempts
        return retries >= 0 and lane.retries >= retries

    def _batch_ready(self, lane: _Lane) -> bool:
        # Lambda waits up to MaximumBatchingWindowInSeconds for a full batch (BatchSize records or a 6 MB payload); a
        # closed shard has nothing more to wait for, and a retry (a batch already invoked) goes out at once.
        if len(lane.buffer) >= self.spec.batch_size or lane.shard.iterator is None or lane.invocations:
            return True
        waited = time.monotonic() - (lane.gathering_since or time.monotonic())
        if waited >= self.spec.maximum_batching_window_seconds:
            return True
        # Each record is sized once, when the window first sees it.
        for record in lane.buffer[lane.sized :]:
            lane.sized_bytes += record_bytes(record, self.stream_arn)
            lane.sized += 1
        return EVENT_ENVELOPE_BYTES + lane.sized_bytes >= MAX_PAYLOAD_BYTES

    def _invoke_head(self, lane: _Lane) -> None:
        spec = self.spec
        batch = lane.buffer[: min(spec.batch_size, lane.bisect_limit or spec.batch_size)]
        windowed = spec.tumbling_window_seconds > 0
        if windowed:
            # One invocation holds the records of one window.
            window_start = self._window_of(batch[0])
            batch = list(itertools.takewhile(lambda record: self._window_of(record) == window_start, batch))
        expired = self._expired(batch)
        if expired:
            self._discard(lane, batch[:expired], "RecordAgeExceeded", request_id=None, function_error=None)
            return
        event = lambda_event(batch, self.stream_arn)
        if windowed:
            if lane.window_start is None:
                lane.window_start, lane.window_state = window_start, {}
            event.update(self._window_fields(lane, final=False))
        # A windowed event carries the state too: it is always measured.
        if (windowed or not surely_fits(batch, self.stream_arn)) and payload_bytes(event) > MAX_PAYLOAD_BYTES:
            del batch[records_that_fit(batch, event, self.stream_arn) :]
            del event["Records"][len(batch) :]
        error: str | None = None
        request_id = ""
        lane.invocations += 1
        try:
            request_id, response = self.function.invoke(event)
            failed_from = self._failed_from(batch, response)
            if windowed and (not isinstance(response, Mapping) or "state" not in response):
                # A windowed invocation must hand its state back, else it counts as failed:
                # https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html
                error, failed_from = "the response returned no state", 0
            elif windowed and failed_from != 0:
                # The records checkpointed (all, or those before the lowest failure) are in the returned state.
                lane.window_state = response["state"]
                lane.window_terminated_early = payload_bytes(response["state"]) > MAX_WINDOW_STATE_BYTES
        except Exception as raised:
            _logger.warning("%s: the handler raised %r", spec.logical_id, raised)
            error, failed_from = repr(raised), 0
        self._stats.invocations.append(
            Invocation(
                mapping=spec.logical_id,
                shard_id=lane.shard.shard_id,
                sequence_numbers=tuple(int(record["dynamodb"]["SequenceNumber"]) for record in batch),
                item_keys=tuple(record["dynamodb"]["Keys"] for record in batch),
                failed_from=failed_from,
                error=error,
            )
        )
        if failed_from is None:
            self._checkpoint(lane, len(batch))
            return
        if failed_from:
            # Lambda checkpoints at the lowest failed sequence number and retries from there; with bisection on, it
            # splits at that record: https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
            self._checkpoint(lane, failed_from)
            if spec.bisect_batch_on_function_error:
                lane.bisect_limit = len(batch) - failed_from
            return
        failing = batch
        if spec.bisect_batch_on_function_error and len(failing) > 1:
            # Splits do not use up retries: https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
            lane.bisect_limit = (len(failing) + 1) // 2
            return
        if self._retries_exhausted(lane):
            self._discard(
                lane,
                failing,
                "RetryAttemptsExhausted",
                request_id=request_id or None,
                function_error="Unhandled" if error else None,
            )
            return
        lane.retries += 1

    def _failed_from(self, batch: Sequence[Mapping[str, Any]], response: Any) -> int | None:
        """The index of the lowest reported failure, 0 for a response that fails the whole batch, None for success."""
        # Without ReportBatchItemFailures, Lambda ignores the response: every record counts as a success.
        if not self.spec.report_batch_item_failures or not isinstance(response, Mapping):
            return None
        failures = response.get("batchItemFailures")
        if not failures:
            return None
        positions = {int(record["dynamodb"]["SequenceNumber"]): index for index, record in enumerate(batch)}
        lowest: int | None = None
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
            # An empty, null or unknown identifier (or a misspelt key) fails the whole batch.
            if not isinstance(identifier, str) or not identifier.isdigit() or int(identifier) not in positions:
                return 0
            index = positions[int(identifier)]
            lowest = index if lowest is None else min(lowest, index)
        return lowest

    def _expired(self, batch: Sequence[Mapping[str, Any]]) -> int:
        """How many records at the head of ``batch`` are older than MaximumRecordAgeInSeconds (-1: never)."""
        if self.spec.maximum_record_age_seconds < 0:
            return 0
        now = self._clock()
        count = 0
        for record in batch:
            if now - _arrival(record).timestamp() <= self.spec.maximum_record_age_seconds:
                break
            count += 1
        return count

    def _checkpoint(self, lane: _Lane, count: int) -> None:
        del lane.buffer[:count]
        self._stats.records_succeeded += count
        self._moved(lane)

    def _moved(self, lane: _Lane) -> None:
        lane.retries = lane.invocations = lane.sized = lane.sized_bytes = 0
        lane.bisect_limit = None
        # For streams the next batching window begins as soon as the previous invocation completes:
        # https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
        lane.gathering_since = time.monotonic()

    def _discard(
        self,
        lane: _Lane,
        batch: Sequence[Mapping[str, Any]],
        condition: str,
        *,
        request_id: str | None,
        function_error: str | None,
    ) -> None:
        # The message carries the batch's place in the stream, never its records:
        # https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error is not None:
            response_context["functionError"] = function_error
        message = {
            "requestContext": {
                "requestId": request_id or str(uuid.uuid4()),
                "functionArn": self.function.arn,
                "condition": condition,
                "approximateInvokeCount": lane.invocations,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _iso(datetime.now(UTC), milliseconds=True),
            "DDBStreamBatchInfo": {
                "shardId": lane.shard.shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(_arrival(batch[0])),
                "approximateArrivalOfLastRecord": _iso(_arrival(batch[-1])),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        stats = self._stats
        stats.on_failure_messages.append(message)
        stats.records_discarded += len(batch)
        if self._on_failure is not None:
            self._on_failure(message, lambda_event(batch, self.stream_arn))
        else:
            _logger.warning(
                "%s: no on-failure destination; records dropped: %s", self.spec.logical_id, json.dumps(message)
            )
        del lane.buffer[: len(batch)]
        self._moved(lane)


def _arrival(record: Mapping[str, Any]) -> datetime:
    created = record["dynamodb"]["ApproximateCreationDateTime"]
    return created if isinstance(created, datetime) else datetime.fromtimestamp(float(created), UTC)


def _iso(moment: datetime, *, milliseconds: bool = False) -> str:
    moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds" if milliseconds else "seconds").replace("+00:00", "Z")


def _keys_json(keys: Mapping[str, Any]) -> str:
    return json.dumps(keys, sort_keys=True, default=str)
