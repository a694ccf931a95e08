"""Lambda's DynamoDB event source mapping, emulated on one machine: poll a stream, invoke the handler in-process.

Each mapping of a ``LocalApp`` reads its table's stream in DynamoDB Local shard by shard (parents before children),
drops the records its FilterCriteria rejects, batches the rest and calls the function's handler in this process with
the event Lambda would deliver. Failures follow the mapping's own settings: partial batch responses, bisection,
bounded retries and record age, then an on-failure message to a local SQS queue. Semantics from
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html and the pages it links.

One thread polls every shard of every mapping in turn, so a handler's environment can be swapped in around each call.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from constructs_pkg.local.assembly import FunctionSpec, LocalApp, MappingSpec, TableRef
from constructs_pkg.local.dynamodb_local import REGION, local_client
from constructs_pkg.local.filter_patterns import matches_any
from constructs_pkg.local.wire import lambda_event, lambda_record

__all__ = [
    "Invocation",
    "LambdaContext",
    "LocalRunner",
    "RunStats",
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
    """The parts of Lambda's context object handlers use; the remaining time counts down from the function's timeout.

    The timeout is reported, not enforced: an in-process call cannot be stopped.
    """

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


class _Function:
    """A function's handler loaded in this process once (its cold start), called with its environment applied."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str]) -> None:
        self.spec = spec
        self.arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{spec.name}"
        self._environment = environment
        self._handler: Callable[[Any, Any], Any] | None = None
        self._inline_dir: tempfile.TemporaryDirectory[str] | None = None

    def invoke(self, event: Mapping[str, Any]) -> tuple[str, Any]:
        """Call the handler; returns the request id and the response, or raises what the handler raised."""
        request_id = str(uuid.uuid4())
        with self._applied():
            handler = self._handler or self._load()
            context = LambdaContext(
                function_name=self.spec.name,
                invoked_function_arn=self.arn,
                memory_limit_in_mb=self.spec.memory_mb,
                aws_request_id=request_id,
                deadline=time.monotonic() + self.spec.timeout_seconds,
            )
            # Lambda hands the function JSON, not the runner's objects.
            return request_id, handler(json.loads(json.dumps(event)), context)

    def _load(self) -> Callable[[Any, Any], Any]:
        module_name, _, attribute = self.spec.handler.rpartition(".")
        code_dir = self._code_dir()
        search_path = [str(code_dir), *(str(layer) for layer in self.spec.layer_dirs)]
        # Each function gets its own default boto3 session, as a Lambda sandbox would, so clients made at import see
        # this function's endpoints and credentials.
        with contextlib.suppress(ImportError):
            import boto3

            boto3.DEFAULT_SESSION = None
        sys.path[:0] = search_path
        try:
            module = importlib.import_module(module_name)
        finally:
            del sys.path[: len(search_path)]
            # Two functions may both name their module ``app``: forget this function's modules once loaded.
            for name, loaded in list(sys.modules.items()):
                origin = getattr(loaded, "__file__", None)
                if origin and Path(origin).resolve().is_relative_to(code_dir):
                    del sys.modules[name]
        self._handler = getattr(module, attribute)
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
    buffer: list[dict[str, Any]] = field(default_factory=list)
    buffered_at: float | None = None
    # Since the checkpoint last moved: failed invocations not followed by a bisection (retries), and every invocation,
    # bisected ones included (the on-failure message's approximateInvokeCount).
    retries: int = 0
    invocations: int = 0
    bisect_limit: int | None = None

    @property
    def finished(self) -> bool:
        return self.closed and self.iterator is None and not self.buffer


class _MappingPoller:
    def __init__(self, runner: LocalRunner, spec: MappingSpec, function: _Function, queue_url: str | None) -> None:
        self.spec = spec
        self.function = function
        self.queue_url = queue_url
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
        return all(not shard.buffer for shard in self.shards.values())

    def poll(self) -> bool:
        """Read and dispatch once on every readable shard; whether anything was read or invoked."""
        if time.monotonic() - self._refreshed_at >= _SHARD_REFRESH_SECONDS:
            self._refresh_shards()
        progressed = False
        for shard in self.shards.values():
            if shard.finished or not self._parent_done(shard):
                continue
            progressed |= self._read(shard)
            progressed |= self._dispatch(shard)
        return progressed

    def _refresh_shards(self) -> None:
        self._refreshed_at = time.monotonic()
        arguments: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self._streams.describe_stream(**arguments)["StreamDescription"]
            for shard in description["Shards"]:
                known = self.shards.get(shard["ShardId"])
                if known is None:
                    self.shards[shard["ShardId"]] = known = _Shard(shard["ShardId"], shard.get("ParentShardId"))
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
        if shard.iterator is None or len(shard.buffer) >= self.spec.batch_size:
            return False
        page = self._streams.get_records(ShardIterator=shard.iterator, Limit=_GET_RECORDS_LIMIT)
        shard.iterator = page.get("NextShardIterator")
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
            shard.buffer.append(record)
        if shard.buffer and shard.buffered_at is None:
            shard.buffered_at = time.monotonic()
        return bool(page["Records"])

    def _dispatch(self, shard: _Shard) -> bool:
        dispatched = False
        while shard.buffer and self._batch_ready(shard):
            dispatched = True
            self._invoke_head(shard)
        return dispatched

    def _batch_ready(self, shard: _Shard) -> bool:
        # Lambda waits up to MaximumBatchingWindowInSeconds for a full batch; a closed shard has nothing more to wait
        # for, and a retry (a batch already invoked) goes out at once.
        if len(shard.buffer) >= self.spec.batch_size or shard.iterator is None or shard.invocations:
            return True
        waited = time.monotonic() - (shard.buffered_at or time.monotonic())
        return waited >= self.spec.maximum_batching_window_seconds

    def _invoke_head(self, shard: _Shard) -> None:
        spec = self.spec
        batch = shard.buffer[: min(spec.batch_size, shard.bisect_limit or spec.batch_size)]
        expired = self._expired(batch)
        if expired:
            self._discard(shard, batch[:expired], "RecordAgeExceeded", request_id=None, function_error=None)
            return
        event = lambda_event(batch, self.stream_arn)
        error: str | None = None
        request_id = ""
        shard.invocations += 1
        try:
            request_id, response = self.function.invoke(event)
            failed_from = self._failed_from(batch, response)
        except Exception as raised:
            _logger.warning("%s: the handler raised %r", spec.logical_id, raised)
            error, failed_from = repr(raised), 0
        self._runner.stats.invocations.append(
            Invocation(
                mapping=spec.logical_id,
                shard_id=shard.shard_id,
                sequence_numbers=tuple(int(record["dynamodb"]["SequenceNumber"]) for record in batch),
                keys=tuple(json.dumps(record["dynamodb"]["Keys"], sort_keys=True, default=str) for record in batch),
                failed_from=failed_from,
                error=error,
            )
        )
        if failed_from is None:
            self._checkpoint(shard, len(batch))
            return
        if failed_from:
            # Lambda checkpoints at the lowest failed sequence number and retries from there; with bisection on, it
            # splits at that record: https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
            self._checkpoint(shard, failed_from)
            if spec.bisect_batch_on_function_error:
                shard.bisect_limit = len(batch) - failed_from
            return
        failing = batch
        if spec.bisect_batch_on_function_error and len(failing) > 1:
            # Splits do not use up retries: https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
            shard.bisect_limit = (len(failing) + 1) // 2
            return
        if spec.maximum_retry_attempts >= 0 and shard.retries >= spec.maximum_retry_attempts:
            self._discard(
                shard,
                failing,
                "RetryAttemptsExhausted",
                request_id=request_id or None,
                function_error="Unhandled" if error else None,
            )
            return
        shard.retries += 1

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

    def _checkpoint(self, shard: _Shard, count: int) -> None:
        del shard.buffer[:count]
        self._runner.stats.records_succeeded += count
        self._moved(shard)

    def _moved(self, shard: _Shard) -> None:
        shard.retries = shard.invocations = 0
        shard.bisect_limit = None
        shard.buffered_at = time.monotonic() if shard.buffer else None

    def _discard(
        self,
        shard: _Shard,
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
                "approximateInvokeCount": shard.invocations,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": _iso(datetime.now(UTC), milliseconds=True),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
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
        sqs = self._runner.sqs_client
        if self.queue_url is not None and sqs is not None:
            sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))
        else:
            _logger.warning("%s: no on-failure queue; records dropped: %s", self.spec.logical_id, json.dumps(message))
        del shard.buffer[: len(batch)]
        self._moved(shard)


class LocalRunner:
    """Runs every enabled DynamoDB event source mapping of ``app`` against DynamoDB Local and a local SQS.

    ``dynamodb_endpoint`` serves DynamoDB and DynamoDB Streams; ``sqs_endpoint`` (Default: - none: on-failure
    messages are only logged and kept in ``stats``) receives them, one queue per on-failure destination;
    ``sns_endpoint`` (Default: - none) is only passed on to handlers. ``table_prefix`` (Default: "") is put before
    every table and queue name, so one DynamoDB Local can hold several runs. ``clock`` (Default: ``time.time``) is
    the wall clock record ages are measured against.
    """

    def __init__(
        self,
        app: LocalApp,
        dynamodb_endpoint: str,
        sqs_endpoint: str | None = None,
        *,
        sns_endpoint: str | None = None,
        table_prefix: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.clock = clock
        self.stats = RunStats()
        self.table_names = {logical_id: table_prefix + table.name for logical_id, table in app.tables.items()}
        self.dynamodb_client = local_client(dynamodb_endpoint, "dynamodb")
        self.streams_client = local_client(dynamodb_endpoint, "dynamodbstreams")
        self.sqs_client = local_client(sqs_endpoint, "sqs") if sqs_endpoint else None
        self._table_prefix = table_prefix
        self._endpoints = {
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": dynamodb_endpoint,
            **({"AWS_ENDPOINT_URL_SQS": sqs_endpoint} if sqs_endpoint else {}),
            **({"AWS_ENDPOINT_URL_SNS": sns_endpoint} if sns_endpoint else {}),
        }
        self._pollers: list[_MappingPoller] | None = None
        self.queue_urls: dict[str, str] = {}

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
        """Create the on-failure queues and place each mapping at its starting position (handlers load lazily)."""
        if self._pollers is not None:
            return
        self._pollers = []
        functions: dict[str, _Function] = {}
        for mapping in self.app.mappings:
            if not mapping.enabled:
                continue
            if mapping.function_logical_id not in functions:
                spec = self.app.functions[mapping.function_logical_id]
                functions[mapping.function_logical_id] = _Function(spec, self._function_environment(spec))
            queue_url = self._queue_url(mapping)
            poller = _MappingPoller(self, mapping, functions[mapping.function_logical_id], queue_url)
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
            if self.poll_once():
                last_progress = time.monotonic()
            if progress is not None:
                progress(self.stats)
            now = time.monotonic()
            assert self._pollers is not None
            if now - last_progress >= quiet_seconds and all(poller.idle for poller in self._pollers):
                return self.stats
            if now - started > timeout:
                raise TimeoutError(f"the streams were still busy after {timeout} s: {self.stats.summary()}")
            time.sleep(POLL_INTERVAL_SECONDS)

    def run_forever(self, progress: Callable[[RunStats], None] | None = None) -> None:
        """Poll until interrupted, calling ``progress`` (Default: - none) after every pass."""
        while True:
            if not self.poll_once():
                time.sleep(POLL_INTERVAL_SECONDS)
            if progress is not None:
                progress(self.stats)

    def _function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        environment = {
            name: self.table_names[value.logical_id] if isinstance(value, TableRef) else value
            for name, value in spec.environment.items()
        }
        # What the Lambda runtime sets, then local endpoints and dummy credentials so no call leaves the machine:
        # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
        return {
            **environment,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "_HANDLER": spec.handler,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            **self._endpoints,
        }

    def _queue_url(self, mapping: MappingSpec) -> str | None:
        if mapping.on_failure is None:
            return None
        if mapping.on_failure.kind != "sqs" or self.sqs_client is None:
            _logger.warning("%s: %s on-failure destination not emulated", mapping.logical_id, mapping.on_failure.kind)
            return None
        name = _QUEUE_NAME.sub("-", self._table_prefix + mapping.on_failure.logical_id)[:80]
        if name not in self.queue_urls:
            self.queue_urls[name] = self.sqs_client.create_queue(QueueName=name)["QueueUrl"]
        self.queue_urls[mapping.logical_id] = self.queue_urls[name]
        return self.queue_urls[name]


@contextlib.contextmanager
def running_moto_server() -> Iterator[str]:
    """moto in server mode on a free loopback port (SQS, SNS and the rest of its services); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
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
