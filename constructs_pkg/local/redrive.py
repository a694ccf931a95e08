"""Redrive the batches a DynamoDB event source mapping gave up on: re-read their records and invoke a handler again.

When retries or the record age run out, Lambda sends an invocation record to the mapping's on-failure destination:
for SQS and SNS only metadata (``DDBStreamBatchInfo``: shard and sequence range), for S3 also the whole event
(``payload``). https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
The records themselves stay in the stream for 24 hours only, so a redrive re-reads them by sequence number, reports
whatever is gone by number, and invokes the handler in-process or the deployed function.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from constructs_pkg.local.wire import lambda_event

__all__ = [
    "FailedBatch",
    "FailureMessage",
    "FunctionError",
    "RedriveResult",
    "RereadResult",
    "SequenceRange",
    "add_redrive_arguments",
    "deployed_function",
    "in_process",
    "messages_from_files",
    "messages_from_s3",
    "messages_from_sqs",
    "parse_failure_message",
    "read_failed_records",
    "redrive",
    "redrive_messages",
    "run_redrive",
]

# GetRecords returns at most 1,000 records a call:
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
GET_RECORDS_LIMIT = 1000
# GetRecords may return an empty page before it reaches the records of an open shard ("it might take multiple calls
# to get to a portion of the shard that contains stream records", same page); an open shard's tip answers empty pages
# forever, so a few empty pages in a row end the read.
EMPTY_PAGES_AT_TIP = 3
# Sequence numbers are decimal strings of at least 21 digits; the API refuses shorter ones, so ints are zero-padded.
SEQUENCE_NUMBER_DIGITS = 21
# The S3 destination's objects are keyed aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/...
DEFAULT_S3_PREFIX = "aws/lambda/"
# Long enough for one receive of ten messages to be redriven (a deployed function may run up to 15 minutes a batch)
# before SQS shows them again: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 900
# Long polling asks every SQS server, so an empty answer means an empty queue; short polling samples a few:
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
_RECEIVE_WAIT_SECONDS = 1
_SQS_RECEIVE_MAX = 10
_LOCAL_FUNCTION_TIMEOUT_MS = 900_000


# --- the on-failure message ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedBatch:
    """One batch Lambda discarded, as its on-failure invocation record describes it.

    ``payload`` is the Lambda event itself when the S3 destination kept it, else ``None`` (SQS and SNS carry metadata
    only). Sequence numbers are ints: on the wire they are decimal strings of varying length, which compare wrongly.
    """

    stream_arn: str
    shard_id: str
    start_sequence_number: int
    end_sequence_number: int
    batch_size: int | None = None
    condition: str | None = None
    function_arn: str | None = None
    approximate_arrival_of_first_record: str | None = None
    approximate_arrival_of_last_record: str | None = None
    payload: dict[str, Any] | None = None


def parse_failure_message(body: str | Mapping[str, Any]) -> FailedBatch:
    """The batch an on-failure invocation record describes.

    ``body`` is the SQS message body, an SNS notification (the record is the JSON string in its ``Message``), or the
    S3 destination's object (the record plus ``payload``), as a JSON string or already decoded.
    Raises ValueError naming what is missing or malformed.
    """
    document = _json_object(body, "the on-failure message")
    # An SNS notification, read from a file or from an SQS queue subscribed without raw message delivery:
    # https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
    if document.get("Type") == "Notification" and "Message" in document:
        document = _json_object(document["Message"], "the SNS notification's Message")
    info = document.get("DDBStreamBatchInfo")
    if not isinstance(info, Mapping):
        found = ", ".join(sorted(document)) or "nothing"
        raise ValueError(f"not a DynamoDB stream on-failure record: no DDBStreamBatchInfo object (found: {found})")
    missing = [
        name for name in ("streamArn", "shardId", "startSequenceNumber", "endSequenceNumber") if not info.get(name)
    ]
    if missing:
        raise ValueError(f"DDBStreamBatchInfo lacks {', '.join(missing)}")
    start = _sequence_number(info["startSequenceNumber"], "startSequenceNumber")
    end = _sequence_number(info["endSequenceNumber"], "endSequenceNumber")
    if end < start:
        raise ValueError(f"DDBStreamBatchInfo endSequenceNumber {end} is before startSequenceNumber {start}")
    request_context = document.get("requestContext") or {}
    batch_size = info.get("batchSize")
    return FailedBatch(
        stream_arn=str(info["streamArn"]),
        shard_id=str(info["shardId"]),
        start_sequence_number=start,
        end_sequence_number=end,
        batch_size=int(batch_size) if batch_size is not None else None,
        condition=request_context.get("condition"),
        function_arn=request_context.get("functionArn"),
        approximate_arrival_of_first_record=info.get("approximateArrivalOfFirstRecord"),
        approximate_arrival_of_last_record=info.get("approximateArrivalOfLastRecord"),
        payload=_payload(document["payload"]) if document.get("payload") is not None else None,
    )


def _json_object(value: str | Mapping[str, Any], what: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{what} is not JSON: {error}") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is not a JSON object but {type(value).__name__}")
    return dict(value)


def _sequence_number(value: Any, name: str) -> int:
    if not (isinstance(value, str) and value.isdigit()):
        raise ValueError(f"DDBStreamBatchInfo {name} is not a decimal string: {value!r}")
    return int(value)


def _payload(value: Any) -> dict[str, Any]:
    payload = _json_object(value, "the payload")
    if not isinstance(payload.get("Records"), list):
        raise ValueError("the payload is not a Lambda event: it has no Records list")
    return payload


# --- re-reading the stream ----------------------------------------------------------------------------------------


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


def read_failed_records(streams_client: Any, batch: FailedBatch) -> RereadResult:
    """Re-read ``batch``'s records from its shard: AT_SEQUENCE_NUMBER its start, GetRecords up to its end.

    An expired iterator (they live 15 minutes) is renewed after the last record read; records trimmed from the
    stream are reported by sequence range, never silently dropped. Always reads the stream, even when ``batch``
    carries a payload.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html#Streams.Processing
    """
    reader = _ShardReader(streams_client, batch)
    return reader.read()


class _ShardReader:
    def __init__(self, streams_client: Any, batch: FailedBatch) -> None:
        self._client = streams_client
        self._batch = batch
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
        if self._last_read is None or self._last_read < self._batch.end_sequence_number:
            self._trimmed.append(SequenceRange(self._next_expected(), self._batch.end_sequence_number))
        return RereadResult(self._records, _merged(self._trimmed))

    def _take(self, records: Sequence[dict[str, Any]]) -> bool:
        """Keeps the records of the batch's range; True once the range is read."""
        for record in records:
            number = int(record["dynamodb"]["SequenceNumber"])
            if number < self._next_expected():
                continue
            expected = self._next_expected()
            at_start = self._last_read is None and number > self._batch.start_sequence_number
            if (self._gap_from is not None or at_start) and number > expected:
                self._trimmed.append(SequenceRange(expected, min(number - 1, self._batch.end_sequence_number)))
            self._gap_from = None
            if number > self._batch.end_sequence_number:
                return True
            self._records.append(record)
            self._last_read = number
            if number == self._batch.end_sequence_number:
                return True
        return False

    def _next_expected(self) -> int:
        if self._gap_from is not None:
            return self._gap_from
        return self._batch.start_sequence_number if self._last_read is None else self._last_read + 1

    def _start_iterator(self) -> str | None:
        errors = self._client.exceptions
        try:
            return self._iterator("AT_SEQUENCE_NUMBER", self._batch.start_sequence_number)
        except errors.TrimmedDataAccessException:
            pass
        except errors.ClientError as error:
            # DynamoDB Local answers a sequence number before its oldest record with a ValidationException where
            # DynamoDB answers TrimmedDataAccessException; the oldest record tells which one this is.
            if error.response["Error"]["Code"] != "ValidationException" or not self._starts_after_trim_horizon():
                raise
        self._gap_from = self._batch.start_sequence_number
        return self._iterator("TRIM_HORIZON")

    def _starts_after_trim_horizon(self) -> bool:
        oldest = self._client.get_records(ShardIterator=self._iterator("TRIM_HORIZON"), Limit=1)["Records"]
        return bool(oldest) and int(oldest[0]["dynamodb"]["SequenceNumber"]) > self._batch.start_sequence_number

    def _resume_iterator(self) -> str | None:
        if self._last_read is None:
            return self._start_iterator()
        return self._iterator("AFTER_SEQUENCE_NUMBER", self._last_read)

    def _iterator(self, iterator_type: str, sequence_number: int | None = None) -> str | None:
        position = (
            {} if sequence_number is None else {"SequenceNumber": f"{sequence_number:0{SEQUENCE_NUMBER_DIGITS}d}"}
        )
        answer = self._client.get_shard_iterator(
            StreamArn=self._batch.stream_arn, ShardId=self._batch.shard_id, ShardIteratorType=iterator_type, **position
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


class FunctionError(RuntimeError):
    """The deployed function failed the invocation (its response carried FunctionError); the message holds its
    error payload."""


@dataclass(frozen=True)
class RedriveResult:
    """What one redrive did: ``reread`` records found in the stream (0 when the S3 payload was used), ``delivered``
    records in the event, the handler's ``response`` and the sequence numbers it reported in ``batchItemFailures``,
    the ``error`` it raised, and the ranges already ``trimmed`` from the stream."""

    batch: FailedBatch
    reread: int
    delivered: int
    from_payload: bool
    trimmed: list[SequenceRange]
    response: Any = None
    failed_item_identifiers: list[str] = field(default_factory=list)
    error: str | None = None
    failed: int = 0

    @property
    def succeeded(self) -> bool:
        """Every record of the batch delivered, and the handler reported no failure."""
        return self.failed == 0 and self.error is None and not self.trimmed


def redrive(
    batch: FailedBatch, invoke: Callable[[dict[str, Any]], Any], *, streams_client: Any = None
) -> RedriveResult:
    """Invoke ``invoke`` with the Lambda event of ``batch``'s records: its S3 payload when kept, else the records
    re-read with ``streams_client`` (a boto3 ``dynamodbstreams`` client; Default: - required without a payload).

    A handler that raises, or returns a partial batch response with failures, is reported, not raised: Lambda
    would retry from the lowest failed sequence number, so ``failed`` counts the records from there on.
    https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
    """
    if batch.payload is not None:
        event, reread, trimmed = batch.payload, 0, []
    else:
        if streams_client is None:
            raise ValueError("streams_client is required to re-read a batch the on-failure record holds no payload of")
        found = read_failed_records(streams_client, batch)
        event, reread, trimmed = lambda_event(found.records, batch.stream_arn), len(found.records), found.trimmed
    records = event["Records"]
    result = RedriveResult(batch, reread=reread, delivered=0, from_payload=batch.payload is not None, trimmed=trimmed)
    if not records:
        return result
    try:
        response = invoke(event)
    except Exception as raised:  # the handler's own failure is what a redrive reports, whatever its type
        return replace(result, delivered=len(records), error=f"{type(raised).__name__}: {raised}", failed=len(records))
    identifiers, complete_failure = _batch_item_failures(response)
    numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in records]
    if complete_failure or any(not identifier.isdigit() for identifier in identifiers):
        failed = len(records)
    elif identifiers:
        lowest = min(int(identifier) for identifier in identifiers)
        failed = sum(number >= lowest for number in numbers)
    else:
        failed = 0
    error = "the partial batch response fails the whole batch" if complete_failure else None
    return replace(
        result,
        delivered=len(records),
        response=response,
        failed_item_identifiers=identifiers,
        error=error,
        failed=failed,
    )


def _batch_item_failures(response: Any) -> tuple[list[str], bool]:
    """The item identifiers a partial batch response reports, and whether it fails the whole batch: an empty or
    null identifier, or a misspelt key, does (same page as ``redrive``)."""
    if not isinstance(response, Mapping) or not response.get("batchItemFailures"):
        return [], False
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return [], True
    identifiers = [item.get("itemIdentifier") if isinstance(item, Mapping) else None for item in failures]
    if any(not isinstance(identifier, str) or not identifier for identifier in identifiers):
        return [], True
    return [str(identifier) for identifier in identifiers], False


@dataclass
class _LocalContext:
    """The attributes of Lambda's Python context object a handler commonly reads:
    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html"""

    function_name: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    invoked_function_arn: str = ""
    _deadline: float = field(default_factory=lambda: time.monotonic() + _LOCAL_FUNCTION_TIMEOUT_MS / 1000)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def in_process(
    handler: Callable[[dict[str, Any], Any], Any], *, function_name: str = "local-redrive"
) -> Callable[[dict[str, Any]], Any]:
    """An invoker that calls ``handler(event, context)`` in this process with a minimal Lambda context
    (``function_name``; Default: "local-redrive"). The event and the response go through JSON, as they do in Lambda."""

    def invoke(event: dict[str, Any]) -> Any:
        response = handler(json.loads(json.dumps(event)), _LocalContext(function_name))
        return json.loads(json.dumps(response))

    return invoke


def deployed_function(function_name: str, lambda_client: Any) -> Callable[[dict[str, Any]], Any]:
    """An invoker that calls the deployed ``function_name`` synchronously (RequestResponse) with ``lambda_client``;
    raises FunctionError with the function's error payload when the invocation failed:
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html"""

    def invoke(event: dict[str, Any]) -> Any:
        answer = lambda_client.invoke(
            FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        payload = answer["Payload"].read().decode()
        if answer.get("FunctionError"):
            raise FunctionError(f"{function_name} failed ({answer['FunctionError']}): {payload}")
        return json.loads(payload) if payload else None

    return invoke


# --- where the messages come from ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureMessage:
    """An on-failure record as read from its source: ``source`` says where (for reports), ``body`` is its JSON, and
    ``delete`` removes it from its queue (``None`` where nothing is to be deleted)."""

    source: str
    body: str
    delete: Callable[[], None] | None = None


def messages_from_sqs(
    sqs_client: Any,
    queue_url: str,
    *,
    delete_after: bool = False,
    visibility_timeout_seconds: int = DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
) -> Iterator[FailureMessage]:
    """The messages of ``queue_url``, received until it answers empty. With ``delete_after`` (Default: False) each
    message carries a ``delete`` that ``redrive_messages`` calls once its batch was redriven in full; a message not
    deleted shows again after ``visibility_timeout_seconds`` (Default: 900)."""
    while True:
        answer = sqs_client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=_SQS_RECEIVE_MAX,
            WaitTimeSeconds=_RECEIVE_WAIT_SECONDS,
            VisibilityTimeout=visibility_timeout_seconds,
        )
        messages = answer.get("Messages", [])
        if not messages:
            return
        for message in messages:
            delete = None
            if delete_after:
                receipt = message["ReceiptHandle"]
                delete = _sqs_delete(sqs_client, queue_url, receipt)
            yield FailureMessage(f"{queue_url} message {message['MessageId']}", message["Body"], delete)


def _sqs_delete(sqs_client: Any, queue_url: str, receipt_handle: str) -> Callable[[], None]:
    return lambda: sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle)


def messages_from_s3(s3_client: Any, bucket: str, prefix: str = DEFAULT_S3_PREFIX) -> Iterator[FailureMessage]:
    """The S3 destination's objects under ``prefix`` (Default: "aws/lambda/") in ``bucket``, in key order."""
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for listed in page.get("Contents", []):
            body = s3_client.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read().decode()
            yield FailureMessage(f"s3://{bucket}/{listed['Key']}", body)


def messages_from_files(paths: Iterable[str | Path]) -> Iterator[FailureMessage]:
    """On-failure records saved as JSON files: an SQS body, an SNS notification or an S3 object, one a file."""
    for path in paths:
        yield FailureMessage(str(path), Path(path).read_text())


def redrive_messages(
    messages: Iterable[FailureMessage],
    invoke: Callable[[dict[str, Any]], Any],
    *,
    streams_client_for: Callable[[str], Any],
) -> Iterator[tuple[FailureMessage, RedriveResult | ValueError]]:
    """Redrive each message's batch, with the streams client ``streams_client_for(stream_arn)`` returns; a message is
    deleted only after its batch was redriven in full. A malformed message is reported with its ValueError."""
    for message in messages:
        try:
            batch = parse_failure_message(message.body)
        except ValueError as error:
            yield message, error
            continue
        streams_client = None if batch.payload is not None else streams_client_for(batch.stream_arn)
        result = redrive(batch, invoke, streams_client=streams_client)
        if result.succeeded and message.delete is not None:
            message.delete()
        yield message, result


# --- the command line ---------------------------------------------------------------------------------------------


def add_redrive_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m constructs_pkg.local redrive``: where the on-failure records are, which handler
    to invoke, which DynamoDB to re-read from."""
    sources = parser.add_argument_group("on-failure records (at least one)")
    sources.add_argument("--queue-url", help="the SQS on-failure queue (or a queue subscribed to the SNS topic)")
    sources.add_argument("--sns-message-file", action="append", default=[], metavar="PATH",
                         help="an SNS notification saved as JSON (repeatable)")  # fmt: skip
    sources.add_argument("--s3-bucket", help="the S3 on-failure bucket; its records carry the whole event")
    sources.add_argument("--s3-prefix", default=DEFAULT_S3_PREFIX,
                         help=f"key prefix in --s3-bucket (Default: {DEFAULT_S3_PREFIX})")  # fmt: skip
    sources.add_argument("--message-file", action="append", default=[], metavar="PATH",
                         help="an on-failure record saved as JSON: SQS body or S3 object (repeatable)")  # fmt: skip
    target = parser.add_argument_group("handler (exactly one)").add_mutually_exclusive_group(required=True)
    target.add_argument("--handler", metavar="MODULE:FUNCTION", help="invoke this handler in-process")
    target.add_argument("--function-name", help="invoke this deployed Lambda function (name or ARN)")
    parser.add_argument("--code-dir", default=".", help="where --handler's module is (Default: .)")
    parser.add_argument("--layer-dir", action="append", default=[], metavar="PATH",
                        help="a Lambda layer's directory, for --handler's imports (repeatable)")  # fmt: skip
    parser.add_argument("--dynamodb-endpoint", metavar="URL",
                        help="DynamoDB Local's endpoint (Default: - AWS, boto3's default credentials)")  # fmt: skip
    parser.add_argument("--delete", action="store_true",
                        help="delete each SQS message once its batch was redriven in full (Default: keep)")  # fmt: skip


def run_redrive(args: argparse.Namespace) -> int:
    """Redrive every record the arguments name, one line per batch. Exit code 0 when every batch was redriven in
    full, 1 when a record failed again or was gone, 2 when no source was given."""
    messages = _messages(args)
    if messages is None:
        print("redrive: give --queue-url, --sns-message-file, --s3-bucket or --message-file", file=sys.stderr)
        return 2
    invoke = _invoker(args)
    exit_code = 0
    for message, outcome in redrive_messages(messages, invoke, streams_client_for=_streams_client_for(args)):
        if isinstance(outcome, ValueError):
            print(f"{message.source}: skipped, {outcome}")
            exit_code = 1
            continue
        print(_report_line(outcome))
        if not outcome.succeeded:
            exit_code = 1
    return exit_code


def _messages(args: argparse.Namespace) -> Iterator[FailureMessage] | None:
    import boto3

    sources: list[Iterator[FailureMessage]] = []
    if args.sns_message_file or args.message_file:
        sources.append(messages_from_files([*args.sns_message_file, *args.message_file]))
    if args.s3_bucket:
        sources.append(messages_from_s3(boto3.client("s3"), args.s3_bucket, args.s3_prefix))
    if args.queue_url:
        sources.append(messages_from_sqs(boto3.client("sqs"), args.queue_url, delete_after=args.delete))
    if not sources:
        return None
    return (message for source in sources for message in source)


def _invoker(args: argparse.Namespace) -> Callable[[dict[str, Any]], Any]:
    if args.function_name:
        import boto3

        return deployed_function(args.function_name, boto3.client("lambda"))
    module_name, _, function_name = args.handler.partition(":")
    if not module_name or not function_name:
        raise SystemExit(f"redrive: --handler must be MODULE:FUNCTION, got {args.handler!r}")
    # A Python layer's packages are under python/ in the layer: https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html
    layers = [Path(layer) / "python" if (Path(layer) / "python").is_dir() else Path(layer) for layer in args.layer_dir]
    for path in reversed([Path(args.code_dir), *layers]):
        sys.path.insert(0, str(path.resolve()))
    handler = getattr(importlib.import_module(module_name), function_name)
    return in_process(handler, function_name=module_name)


def _streams_client_for(args: argparse.Namespace) -> Callable[[str], Any]:
    if args.dynamodb_endpoint:
        from constructs_pkg.local.dynamodb_local import local_client

        return lambda _stream_arn: local_client(args.dynamodb_endpoint, "dynamodbstreams")

    @cache
    def streams_client(region: str) -> Any:
        import boto3

        return boto3.client("dynamodbstreams", region_name=region)

    # A stream is read in its own region, whatever the default one: arn:aws:dynamodb:<region>:<account>:table/...
    return lambda stream_arn: streams_client(stream_arn.split(":")[3])


def _report_line(result: RedriveResult) -> str:
    batch = result.batch
    reread = "from S3 payload" if result.from_payload else f"re-read {result.reread}"
    trimmed = ", ".join(map(str, result.trimmed)) or "0"
    line = (
        f"{batch.shard_id} {SequenceRange(batch.start_sequence_number, batch.end_sequence_number)}: {reread}, "
        f"delivered {result.delivered}, failed {result.failed}, trimmed {trimmed}"
    )
    if result.failed_item_identifiers:
        line += f" (batchItemFailures: {', '.join(result.failed_item_identifiers)})"
    if result.error:
        line += f" ({result.error})"
    return line
