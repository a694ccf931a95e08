"""Lambda's DynamoDB event source mapping, emulated on one machine: poll a stream, invoke the handler in-process.

Each mapping of a ``LocalApp`` reads its table's stream in DynamoDB Local shard by shard (parents before children),
drops the records its FilterCriteria rejects, batches the rest and calls the function's handler in this process with
the event Lambda would deliver. Failures follow the mapping's own settings: partial batch responses, bisection,
bounded retries and record age, then an on-failure message to a local SQS queue, SNS topic or S3 bucket. Semantics from
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html and the pages it links.

One thread polls every shard of every mapping in turn, so a handler's environment can be swapped in around each call.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import logging
import os
import re
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from constructs_pkg.local.assembly import FunctionSpec, LocalApp, MappingSpec, ResourceRef, TableRef
from constructs_pkg.local.dynamodb_local import REGION, free_port, local_client
from constructs_pkg.local.filter_patterns import matches_any
from constructs_pkg.local.sandbox import ModuleSandbox
from constructs_pkg.local.wire import lambda_event, lambda_record

__all__ = [
    "FunctionTimedOut",
    "Invocation",
    "LambdaContext",
    "LocalRunner",
    "RunStats",
    "aws_session_environment",
    "running_moto_server",
]

_logger = logging.getLogger(__name__)

ACCOUNT_ID = "000000000000"
# Lambda polls each shard about four times a second: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
POLL_INTERVAL_SECONDS = 0.25
DEFAULT_QUIET_SECONDS = 1.0
# GetRecords returns at most 1,000 records a call:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
_GET_RECORDS_LIMIT = 1000
_SHARD_REFRESH_SECONDS = 1.0
_QUEUE_NAME = re.compile(r"[^A-Za-z0-9_-]")
_BUCKET_NAME = re.compile(r"[^a-z0-9.-]")
# A tumbling window's state may hold 1 MB; a larger one ends the window early:
# https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html
_MAX_WINDOW_STATE_BYTES = 1024 * 1024
# An invocation's event carries at most 6 MB; a batch being gathered goes out once it holds that much:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html and the batching page linked at _moved.
_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_EVENT_ENVELOPE_BYTES = len(json.dumps({"Records": []}))
# A Secrets Manager secret the template generates (GenerateSecretString) gets this value locally.
LOCAL_SECRET_VALUE = "local-secret"


@dataclass(frozen=True)
class Invocation:
    """One call of a handler: which mapping and shard, the sequence numbers delivered (in order) and the outcome.

    ``failed_from`` is the index of the first record Lambda would redeliver (None: the batch succeeded).
    """

    mapping: str
    shard_id: str
    sequence_numbers: tuple[int, ...]
    keys: tuple[str, ...]
    failed_from: int | None
    error: str | None


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
class LambdaContext:
    """The parts of Lambda's context object handlers use; the remaining time counts down from the function's timeout."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class FunctionTimedOut(Exception):
    """A handler ran past its function's timeout: Lambda would have stopped it, and counts that as a function error."""


class _Function:
    """A function's handler loaded once (its cold start) in a module sandbox of its own, called with its environment."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str]) -> None:
        self.spec = spec
        self.arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.name}"
        self._environment = environment
        self._handler: Callable[[Any, Any], Any] | None = None
        self._inline_dir: tempfile.TemporaryDirectory[str] | None = None
        self._sandbox = ModuleSandbox([self._code_dir(), *self.spec.layer_dirs])

    def invoke(self, payload: str) -> tuple[str, Any]:
        """Call the handler with the event ``payload`` (JSON text, as Lambda hands it over); returns the request id and
        the response, or raises what the handler raised."""
        request_id = str(uuid.uuid4())
        with self._applied(), self._sandbox.entered():
            handler = self._handler or self._load()
            context = LambdaContext(
                function_name=self.spec.name,
                invoked_function_arn=self.arn,
                memory_limit_in_mb=self.spec.memory_mb,
                aws_request_id=request_id,
                deadline=time.monotonic() + self.spec.timeout_seconds,
            )
            try:
                response = handler(json.loads(payload), context)
            except Exception:
                self._check_deadline(context)
                raise
            self._check_deadline(context)
            return request_id, response

    def _check_deadline(self, context: LambdaContext) -> None:
        # Lambda stops a call at the timeout and counts it as a function error; an in-process call cannot be stopped,
        # so one that ran past it ends as Lambda's would have, only later (its side effects stay).
        if time.monotonic() > context.deadline:
            raise FunctionTimedOut(f"Task timed out after {self.spec.timeout_seconds:.2f} seconds")

    def _load(self) -> Callable[[Any, Any], Any]:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        self._handler = getattr(importlib.import_module(module_name), attribute)
        return self._handler

    def _code_dir(self) -> Path:
        if self.spec.code_dir is not None:
            return self.spec.code_dir.resolve()
        # Lambda saves inline Python code as index.py:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html
        self._inline_dir = tempfile.TemporaryDirectory(prefix="inline-code.")
        code_dir = Path(self._inline_dir.name).resolve()
        (code_dir / "index.py").write_text(self.spec.inline_code or "")
        return code_dir

    @contextlib.contextmanager
    def _applied(self) -> Iterator[None]:
        saved = {name: os.environ.get(name) for name in self._environment}
        os.environ.update(self._environment)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


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


# Sends an on-failure message; the Lambda event of the discarded batch goes along for the S3 destination's payload.
_Deliver = Callable[[dict[str, Any], dict[str, Any]], None]


class _MappingPoller:
    def __init__(self, runner: LocalRunner, spec: MappingSpec, function: _Function, deliver: _Deliver | None) -> None:
        self.spec = spec
        self.function = function
        self._deliver = deliver
        self._runner = runner
        self._streams = runner.streams_client
        table_name = runner.table_names[spec.table_logical_id]
        self.stream_arn: str = runner.dynamodb_client.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
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
        stats = self._runner.stats
        stats.records_read += len(page["Records"])
        for record in page["Records"]:
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
        keys = json.dumps(record["dynamodb"]["Keys"], sort_keys=True, default=str)
        return zlib.crc32(keys.encode()) % lanes

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
        return lane.shard.exhausted or self._runner.clock() >= window_end

    def _window_fields(self, lane: _Lane, *, final: bool) -> dict[str, Any]:
        assert lane.window_start is not None
        start = datetime.fromtimestamp(lane.window_start, UTC)
        end = datetime.fromtimestamp(lane.window_start + self.spec.tumbling_window_seconds, UTC)
        return {
            "window": {"start": _iso(start), "end": _iso(end)},
            "state": lane.window_state,
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
            _request_id, response = self.function.invoke(json.dumps(event))
            if not isinstance(response, Mapping) or "state" not in response:
                error = "the response returned no state"
        except Exception as raised:
            _logger.warning("%s: the handler raised %r on a window's final invocation", self.spec.logical_id, raised)
            error = repr(raised)
        failed_from = None if error is None else 0
        self._runner.stats.invocations.append(
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
            lane.sized_bytes += self._record_bytes(record)
            lane.sized += 1
        return _EVENT_ENVELOPE_BYTES + lane.sized_bytes >= _MAX_PAYLOAD_BYTES

    def _record_bytes(self, record: Mapping[str, Any]) -> int:
        """What ``record`` adds to an event's JSON: itself and the separator before it."""
        return len(json.dumps(lambda_record(record, self.stream_arn))) + len(", ")

    def _within_payload_limit(self, batch: list[dict[str, Any]], event: dict[str, Any]) -> int:
        """How many records at the head of ``batch`` fit in one invocation's payload with the rest of ``event``."""
        budget = _MAX_PAYLOAD_BYTES - len(json.dumps({**event, "Records": []}))
        count = 0
        for record in batch:
            budget -= self._record_bytes(record)
            if budget < 0:
                break
            count += 1
        # One record always goes: a DynamoDB item of at most 400 KB, twice in a stream record, fits in 6 MB.
        return max(count, 1)

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
        payload = json.dumps(event)
        if len(payload) > _MAX_PAYLOAD_BYTES:
            del batch[self._within_payload_limit(batch, event) :]
            payload = json.dumps({**event, "Records": event["Records"][: len(batch)]})
        error: str | None = None
        request_id = ""
        lane.invocations += 1
        try:
            request_id, response = self.function.invoke(payload)
            failed_from = self._failed_from(batch, response)
            if windowed and (not isinstance(response, Mapping) or "state" not in response):
                # A windowed invocation must hand its state back, else it counts as failed:
                # https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-windows.html
                error, failed_from = "the response returned no state", 0
            elif windowed and failed_from != 0:
                # The records checkpointed (all, or those before the lowest failure) are in the returned state.
                lane.window_state = response["state"]
                lane.window_terminated_early = len(json.dumps(response["state"])) > _MAX_WINDOW_STATE_BYTES
        except Exception as raised:
            _logger.warning("%s: the handler raised %r", spec.logical_id, raised)
            error, failed_from = repr(raised), 0
        self._runner.stats.invocations.append(
            Invocation(
                mapping=spec.logical_id,
                shard_id=lane.shard.shard_id,
                sequence_numbers=tuple(int(record["dynamodb"]["SequenceNumber"]) for record in batch),
                keys=tuple(json.dumps(record["dynamodb"]["Keys"], sort_keys=True, default=str) for record in batch),
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
        now = self._runner.clock()
        count = 0
        for record in batch:
            if now - _arrival(record).timestamp() <= self.spec.maximum_record_age_seconds:
                break
            count += 1
        return count

    def _checkpoint(self, lane: _Lane, count: int) -> None:
        del lane.buffer[:count]
        self._runner.stats.records_succeeded += count
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
        stats = self._runner.stats
        stats.on_failure_messages.append(message)
        stats.records_discarded += len(batch)
        if self._deliver is not None:
            self._deliver(message, lambda_event(batch, self.stream_arn))
        else:
            _logger.warning(
                "%s: no on-failure destination; records dropped: %s", self.spec.logical_id, json.dumps(message)
            )
        del lane.buffer[: len(batch)]
        self._moved(lane)


class LocalRunner:
    """Runs every enabled DynamoDB event source mapping of ``app`` against DynamoDB Local and local AWS services.

    ``dynamodb_endpoint`` serves DynamoDB and DynamoDB Streams; None reads the stream of a deployed table (see
    ``constructs_pkg.local.deployed.as_deployed``) in the account and region of boto3's default session, and runs
    the functions with that session's credentials and region instead of dummy ones. ``sqs_endpoint``,
    ``sns_endpoint``, ``s3_endpoint`` and ``secretsmanager_endpoint`` (each Default: - none; moto's server serves
    them all) get the app's on-failure destinations (an SQS queue, SNS topic or S3 bucket named after the template's
    resource) and the queues, topics and secrets the functions' environments refer to; an on-failure destination
    whose service has no endpoint only logs its messages (all are kept in ``stats``), an environment variable whose
    resource has none is left out. ``table_prefix`` (Default: "") is put before every table and resource name, so
    one DynamoDB Local can hold several runs. ``clock`` (Default: ``time.time``) is the wall clock record ages are
    measured against. ``environment_overrides`` (Default: - none) are set on top of every function's environment
    (the template's variables, the runtime's and the local endpoints) whenever it is invoked: point a provider at a
    local stub with them, e.g. ``{"VOYAGE_BASE_URL": "http://127.0.0.1:8001"}``. ``secret_values`` (Default: - none)
    are the values of the secrets the functions' variables refer to, by variable name, e.g.
    ``{"VOYAGE_API_KEY_SECRET_ARN": key}``; a secret none names holds the template's SecretString, else
    "local-secret". ``constructs_pkg.local.providers.local_providers`` makes both for the app's AI providers.
    """

    def __init__(
        self,
        app: LocalApp,
        dynamodb_endpoint: str | None,
        sqs_endpoint: str | None = None,
        *,
        sns_endpoint: str | None = None,
        s3_endpoint: str | None = None,
        secretsmanager_endpoint: str | None = None,
        table_prefix: str = "",
        clock: Callable[[], float] = time.time,
        environment_overrides: Mapping[str, str] | None = None,
        secret_values: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.environment_overrides = dict(environment_overrides or {})
        self.secret_values = dict(secret_values or {})
        self.clock = clock
        self.stats = RunStats()
        self.table_names = {logical_id: table_prefix + table.name for logical_id, table in app.tables.items()}
        if dynamodb_endpoint is None:
            import boto3

            session = boto3.session.Session()
            self.dynamodb_client = session.client("dynamodb")
            self.streams_client = session.client("dynamodbstreams")
            self._identity = aws_session_environment(session)
        else:
            self.dynamodb_client = local_client(dynamodb_endpoint, "dynamodb")
            self.streams_client = local_client(dynamodb_endpoint, "dynamodbstreams")
            # Dummy credentials, so that no call leaves the machine.
            self._identity = {
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
            }
        self.sqs_client = local_client(sqs_endpoint, "sqs") if sqs_endpoint else None
        self.sns_client = local_client(sns_endpoint, "sns") if sns_endpoint else None
        self.s3_client = local_client(s3_endpoint, "s3") if s3_endpoint else None
        self.secrets_client = (
            local_client(secretsmanager_endpoint, "secretsmanager") if secretsmanager_endpoint else None
        )
        self._table_prefix = table_prefix
        # boto3's per-service endpoint variables: https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
        endpoints = {
            "DYNAMODB": dynamodb_endpoint,
            "DYNAMODB_STREAMS": dynamodb_endpoint,
            "SQS": sqs_endpoint,
            "SNS": sns_endpoint,
            "S3": s3_endpoint,
            "SECRETS_MANAGER": secretsmanager_endpoint,
        }
        self._endpoints = {f"AWS_ENDPOINT_URL_{name}": url for name, url in endpoints.items() if url}
        self._pollers: list[_MappingPoller] | None = None
        self._functions: dict[str, _Function] = {}
        # Mapping logical id -> its on-failure queue URL; and -> its destination's URL, topic ARN or s3://bucket.
        self.queue_urls: dict[str, str] = {}
        self.on_failure_destinations: dict[str, str] = {}
        # Queue, topic, bucket or secret logical id -> the name and the URL, ARN or s3:// address the runner created.
        self.resources: dict[str, tuple[str, str]] = {}

    def create_tables(self) -> None:
        """Create every table of the app (on-demand, streams and TTL as the template says); wait until active."""
        for logical_id, table in self.app.tables.items():
            name = self.table_names[logical_id]
            arguments: dict[str, Any] = {
                "TableName": name,
                "KeySchema": list(table.key_schema),
                "AttributeDefinitions": list(table.attribute_definitions),
                "BillingMode": "PAY_PER_REQUEST",
            }
            if table.global_secondary_indexes:
                arguments["GlobalSecondaryIndexes"] = [_index(index) for index in table.global_secondary_indexes]
            if table.local_secondary_indexes:
                arguments["LocalSecondaryIndexes"] = [_index(index) for index in table.local_secondary_indexes]
            if table.stream_view_type:
                arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
            self.dynamodb_client.create_table(**arguments)
            self.dynamodb_client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
            if table.ttl_attribute:
                self.dynamodb_client.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
                )
            _logger.info("created table %s", name)

    def start(self) -> None:
        """Create the on-failure destinations and place each mapping at its starting position (handlers load lazily)."""
        if self._pollers is not None:
            return
        self._pollers = []
        for mapping in self.app.mappings:
            if not mapping.enabled:
                continue
            deliver = self._on_failure(mapping)
            poller = _MappingPoller(self, mapping, self._function(mapping.function_logical_id), deliver)
            poller.poll()
            self._pollers.append(poller)

    def poll_once(self) -> bool:
        """One pass over every shard of every mapping; whether any record was read or any handler called."""
        self.start()
        assert self._pollers is not None
        return any([poller.poll() for poller in self._pollers])

    def run_until_idle(
        self,
        timeout: float = 60.0,
        *,
        quiet_seconds: float = DEFAULT_QUIET_SECONDS,
        progress: Callable[[RunStats], None] | None = None,
    ) -> RunStats:
        """Poll until no record has arrived for ``quiet_seconds`` (Default: 1) and nothing waits in a batch.

        Raises TimeoutError when that takes longer than ``timeout`` seconds (Default: 60). ``progress`` (Default: -
        none) is called after every pass.
        """
        started = last_progress = time.monotonic()
        while True:
            busy = self.poll_once()
            if busy:
                last_progress = time.monotonic()
            if progress is not None:
                progress(self.stats)
            now = time.monotonic()
            assert self._pollers is not None
            if now - last_progress >= quiet_seconds and all(poller.idle for poller in self._pollers):
                return self.stats
            if now - started > timeout:
                raise TimeoutError(f"the streams were still busy after {timeout} s: {self.stats.summary()}")
            # A shard that is behind is read again at once, as Lambda does; only an idle pass waits.
            if not busy:
                time.sleep(POLL_INTERVAL_SECONDS)

    def run_forever(self, progress: Callable[[RunStats], None] | None = None) -> None:
        """Poll until interrupted, calling ``progress`` (Default: - none) after every pass."""
        while True:
            if not self.poll_once():
                time.sleep(POLL_INTERVAL_SECONDS)
            if progress is not None:
                progress(self.stats)

    def invoker(self, function_logical_id: str) -> Callable[[dict[str, Any]], Any]:
        """An ``invoke(event)`` for ``constructs_pkg.local.redrive``: calls the function's handler in this process as
        the mappings do (same loaded module, the template's environment with local endpoints) and returns its response.

        Raises KeyError when the app has no function ``function_logical_id`` that can run locally.
        """
        function = self._function(function_logical_id)

        def invoke(event: dict[str, Any]) -> Any:
            return function.invoke(json.dumps(event))[1]

        return invoke

    def _function(self, logical_id: str) -> _Function:
        # One _Function per function, shared by its mappings and invokers: one cold start, as one warm sandbox.
        if logical_id not in self._functions:
            spec = self.app.functions[logical_id]
            self._functions[logical_id] = _Function(spec, self._function_environment(spec))
        return self._functions[logical_id]

    def _function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        environment: dict[str, str] = {}
        for name, value in spec.environment.items():
            if isinstance(value, TableRef):
                environment[name] = self.table_names[value.logical_id]
            elif isinstance(value, ResourceRef):
                resolved = self._resource_value(value, name)
                if resolved is None:
                    _logger.warning(
                        "%s: no local %s endpoint; environment %s left out", spec.logical_id, value.kind, name
                    )
                else:
                    environment[name] = resolved
            else:
                environment[name] = value
        # What the Lambda runtime sets, then the region and credentials, and the local endpoints:
        # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
        return {
            **environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "_HANDLER": spec.handler,
            **self._identity,
            **self._endpoints,
            **self.environment_overrides,
        }

    def _on_failure(self, mapping: MappingSpec) -> _Deliver | None:
        """Create the mapping's on-failure destination; returns how to send it a message (None: not emulated)."""
        destination = mapping.on_failure
        if destination is None:
            return None
        name = destination.name
        if destination.kind == "sqs" and self.sqs_client is not None:
            sqs, (_, queue_url) = self.sqs_client, self._queue(destination.logical_id, name)
            self.queue_urls[mapping.logical_id] = self.on_failure_destinations[mapping.logical_id] = queue_url
            return lambda message, _event: sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
        if destination.kind == "sns" and self.sns_client is not None:
            sns, (_, topic_arn) = self.sns_client, self._topic(destination.logical_id, name)
            self.on_failure_destinations[mapping.logical_id] = topic_arn
            return lambda message, _event: sns.publish(TopicArn=topic_arn, Message=json.dumps(message))
        if destination.kind == "s3" and self.s3_client is not None:
            bucket = self._bucket(destination.logical_id, name)
            self.on_failure_destinations[mapping.logical_id] = f"s3://{bucket}"
            # The mapping's UUID in the key is stable for a prefix and mapping, as a deployed mapping's is.
            mapping_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, self._table_prefix + mapping.logical_id))
            return lambda message, event: self._put_failure_object(bucket, mapping_uuid, message, event)
        _logger.warning(
            "%s: no local %s endpoint; on-failure messages only logged", mapping.logical_id, destination.kind
        )
        return None

    def _put_failure_object(
        self, bucket: str, mapping_uuid: str, message: Mapping[str, Any], event: Mapping[str, Any]
    ) -> None:
        # The S3 destination keeps the invocation record and the whole event (payload), keyed
        # aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>:
        # https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
        assert self.s3_client is not None
        now = datetime.now(UTC)
        shard_id = message["DDBStreamBatchInfo"]["shardId"]
        key = f"aws/lambda/{mapping_uuid}/{shard_id}/{now:%Y/%m/%d}/{now:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"
        self.s3_client.put_object(Bucket=bucket, Key=key, Body=json.dumps({**message, "payload": event}).encode())

    def _resource_value(self, ref: ResourceRef, variable: str) -> str | None:
        """What ``Ref`` or ``Fn::GetAtt`` gives for a queue, topic or secret, after creating it; None: no endpoint.

        ``variable`` is the environment variable that refers to it: it picks the secret's value in ``secret_values``.
        """
        if ref.kind == "sqs" and self.sqs_client is not None:
            name, queue_url = self._queue(ref.logical_id, ref.name)
            # Ref and QueueUrl give the URL: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html
            if ref.attribute == "Arn":
                # The server's own account, not the runner's: ask the queue.
                answer = self.sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
                return str(answer["Attributes"]["QueueArn"])
            return name if ref.attribute == "QueueName" else queue_url
        if ref.kind == "sns" and self.sns_client is not None:
            name, topic_arn = self._topic(ref.logical_id, ref.name)
            # Ref and TopicArn give the ARN: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sns-topic.html
            return name if ref.attribute == "TopicName" else topic_arn
        if ref.kind == "secret" and self.secrets_client is not None:
            value = self.secret_values.get(variable)
            if ref.logical_id not in self.resources:
                name = self._table_prefix + ref.name
                template_value = ref.secret_string if ref.secret_string is not None else LOCAL_SECRET_VALUE
                secret_arn = self.secrets_client.create_secret(Name=name, SecretString=value or template_value)["ARN"]
                self.resources[ref.logical_id] = (name, secret_arn)
            elif value is not None:
                self.secrets_client.put_secret_value(SecretId=self.resources[ref.logical_id][1], SecretString=value)
            # Ref and Id give the ARN: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-secret.html
            return self.resources[ref.logical_id][1]
        return None

    def _queue(self, logical_id: str, name: str) -> tuple[str, str]:
        assert self.sqs_client is not None
        if logical_id not in self.resources:
            queue_name = _QUEUE_NAME.sub("-", self._table_prefix + name)[:80]
            self.resources[logical_id] = (queue_name, self.sqs_client.create_queue(QueueName=queue_name)["QueueUrl"])
        return self.resources[logical_id]

    def _topic(self, logical_id: str, name: str) -> tuple[str, str]:
        assert self.sns_client is not None
        if logical_id not in self.resources:
            topic_name = _QUEUE_NAME.sub("-", self._table_prefix + name)[:256]
            self.resources[logical_id] = (topic_name, self.sns_client.create_topic(Name=topic_name)["TopicArn"])
        return self.resources[logical_id]

    def _bucket(self, logical_id: str, name: str) -> str:
        assert self.s3_client is not None
        if logical_id not in self.resources:
            bucket = _BUCKET_NAME.sub("-", (self._table_prefix + name).lower())[:63].strip(".-")
            self.s3_client.create_bucket(Bucket=bucket)
            self.resources[logical_id] = (bucket, f"s3://{bucket}")
        return self.resources[logical_id][0]


def aws_session_environment(session: Any) -> dict[str, str]:
    """A boto3 session's credentials and region as a function's environment variables.

    Raises ValueError when boto3's credential chain finds none.
    """
    credentials = session.get_credentials()
    if credentials is None:
        raise ValueError("no AWS credentials found by boto3's default chain (environment, profile, SSO, ...)")
    frozen = credentials.get_frozen_credentials()
    environment = {
        "AWS_ACCESS_KEY_ID": frozen.access_key,
        "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        # Empty when the credentials have none: no placeholder token may be signed with real keys.
        "AWS_SESSION_TOKEN": frozen.token or "",
    }
    if session.region_name:
        environment["AWS_REGION"] = environment["AWS_DEFAULT_REGION"] = session.region_name
    return environment


@contextlib.contextmanager
def running_moto_server() -> Iterator[str]:
    """moto in server mode on a free loopback port (SQS, SNS and the rest of its services); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    # Its request log would drown the runner's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _index(index: Mapping[str, Any]) -> dict[str, Any]:
    """A GSI or LSI for CreateTable: throughput and contributor settings are CloudFormation's, not DynamoDB Local's."""
    return {name: index[name] for name in ("IndexName", "KeySchema", "Projection") if name in index}


def _arrival(record: Mapping[str, Any]) -> datetime:
    created = record["dynamodb"]["ApproximateCreationDateTime"]
    return created if isinstance(created, datetime) else datetime.fromtimestamp(float(created), UTC)


def _iso(moment: datetime, *, milliseconds: bool = False) -> str:
    moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds" if milliseconds else "seconds").replace("+00:00", "Z")
