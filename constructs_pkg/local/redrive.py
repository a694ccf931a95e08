"""Redrive the batches a DynamoDB event source mapping gave up on, or the runtime quarantined: invoke a handler
again with their records.

When retries or the record age run out, Lambda sends an invocation record to the mapping's on-failure destination:
for SQS and SNS only metadata (``DDBStreamBatchInfo``: shard and sequence range), for S3 also the whole event
(``payload``). https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
The stream runtime (``lambda_src.stream_runtime``) sends a record whose failure is final to the same destination at
once, in the same shape with ``condition`` "Quarantined", a ``quarantine`` object (the reason, the error type, the
records' event ids) and the records themselves in ``payload``, unless they were too large (``imagesOmitted``). Its
``DDBStreamBatchInfo`` has no ``shardId``, since a Lambda event does not carry one.

A batch with a payload is redriven from it, whatever the stream still holds; one without is re-read from the stream
by sequence number (its shard found by DescribeStream when the message does not name it), which keeps records for 24
hours only: whatever is gone is reported by number. The handler is invoked in-process or as the deployed function.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from constructs_pkg.local.stream_reread import RereadResult, SequenceRange, locate_shard, read_range
from constructs_pkg.local.wire import lambda_event

__all__ = [
    "DEFAULT_S3_PREFIX",
    "QUARANTINE_CONDITION",
    "QUARANTINE_S3_PREFIX",
    "FailedBatch",
    "FailureMessage",
    "FunctionError",
    "Quarantine",
    "RedriveResult",
    "deployed_function",
    "in_process",
    "messages_from_files",
    "messages_from_s3",
    "messages_from_sqs",
    "parse_failure_message",
    "read_failed_records",
    "redrive",
    "redrive_messages",
]

# The S3 destination's objects are keyed aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/...
DEFAULT_S3_PREFIX = "aws/lambda/"
# ... and the runtime's quarantined records quarantine/...
QUARANTINE_S3_PREFIX = "quarantine/"
QUARANTINE_CONDITION = "Quarantined"
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
class Quarantine:
    """Why the stream runtime quarantined a batch: ``reason`` ("ErrorType: message"), ``error_type``, the records'
    ``event_ids``, and whether their ``images_omitted`` (too large for the destination: no payload)."""

    reason: str
    error_type: str | None = None
    event_ids: tuple[str, ...] = ()
    images_omitted: bool = False


@dataclass(frozen=True)
class FailedBatch:
    """One batch Lambda discarded, or the runtime quarantined, as its on-failure message describes it.

    ``shard_id`` is None when the message does not name it (a quarantine message). ``payload`` is the Lambda event
    itself when the message kept it (the S3 destination's, a quarantine message's), else ``None`` (SQS and SNS carry
    metadata only). ``quarantine`` is set for a quarantine message. Sequence numbers are ints: on the wire they are
    decimal strings of varying length, which compare wrongly.
    """

    stream_arn: str
    shard_id: str | None
    start_sequence_number: int
    end_sequence_number: int
    batch_size: int | None = None
    condition: str | None = None
    function_arn: str | None = None
    approximate_arrival_of_first_record: str | None = None
    approximate_arrival_of_last_record: str | None = None
    payload: dict[str, Any] | None = None
    quarantine: Quarantine | None = None


def parse_failure_message(body: str | Mapping[str, Any]) -> FailedBatch:
    """The batch an on-failure invocation record, or a quarantine message, describes.

    ``body`` is the SQS message body, an SNS notification (the record is the JSON string in its ``Message``), or the
    S3 object (the record plus ``payload``), as a JSON string or already decoded.
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
    missing = [name for name in ("streamArn", "startSequenceNumber", "endSequenceNumber") if not info.get(name)]
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
        shard_id=str(info["shardId"]) if info.get("shardId") else None,
        start_sequence_number=start,
        end_sequence_number=end,
        batch_size=int(batch_size) if batch_size is not None else None,
        condition=request_context.get("condition"),
        function_arn=request_context.get("functionArn"),
        approximate_arrival_of_first_record=info.get("approximateArrivalOfFirstRecord"),
        approximate_arrival_of_last_record=info.get("approximateArrivalOfLastRecord"),
        payload=_payload(document["payload"]) if document.get("payload") is not None else None,
        quarantine=_quarantine(document) if "quarantine" in document else None,
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


def _quarantine(document: Mapping[str, Any]) -> Quarantine:
    quarantine = _json_object(document["quarantine"], "the quarantine object")
    event_ids = quarantine.get("eventIDs") or []
    if not isinstance(event_ids, list):
        raise ValueError(f"the quarantine object's eventIDs is not a list but {type(event_ids).__name__}")
    error_type = quarantine.get("errorType")
    return Quarantine(
        reason=str(quarantine.get("reason", "")),
        error_type=str(error_type) if error_type is not None else None,
        event_ids=tuple(str(event_id) for event_id in event_ids),
        images_omitted=bool(quarantine.get("imagesOmitted", False)),
    )


def _payload(value: Any) -> dict[str, Any]:
    payload = _json_object(value, "the payload")
    if not isinstance(payload.get("Records"), list):
        raise ValueError("the payload is not a Lambda event: it has no Records list")
    return payload


# --- re-reading the stream ----------------------------------------------------------------------------------------


def read_failed_records(streams_client: Any, batch: FailedBatch) -> RereadResult:
    """Re-read ``batch``'s records from its shard (found by DescribeStream when ``batch`` does not name it), even when
    ``batch`` carries a payload; records no longer in the stream are reported by sequence range."""
    wanted = SequenceRange(batch.start_sequence_number, batch.end_sequence_number)
    shard_id = batch.shard_id or locate_shard(streams_client, batch.stream_arn, batch.start_sequence_number)
    if shard_id is None:
        return RereadResult([], [wanted])
    return read_range(streams_client, batch.stream_arn, shard_id, wanted)


# --- invoking a handler -------------------------------------------------------------------------------------------


class FunctionError(RuntimeError):
    """The deployed function failed the invocation (its response carried FunctionError); the message holds its
    error payload."""


@dataclass(frozen=True)
class RedriveResult:
    """What one redrive did: ``reread`` records found in the stream (0 when the payload was used), ``delivered``
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
    """Invoke ``invoke`` with the Lambda event of ``batch``'s records: its payload when the message kept it, else the
    records re-read with ``streams_client`` (a boto3 ``dynamodbstreams`` client; Default: - required without a
    payload). The result's ``batch`` names the shard read, when ``batch`` did not.

    A handler that raises, or returns a partial batch response with failures, is reported, not raised: Lambda
    would retry from the lowest failed sequence number, so ``failed`` counts the records from there on.
    https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
    """
    if batch.payload is not None:
        event, reread, trimmed = batch.payload, 0, []
    else:
        if streams_client is None:
            raise ValueError("streams_client is required to re-read a batch the on-failure record holds no payload of")
        if batch.shard_id is None:
            batch = replace(batch, shard_id=locate_shard(streams_client, batch.stream_arn, batch.start_sequence_number))
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
