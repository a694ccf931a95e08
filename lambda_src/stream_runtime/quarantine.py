"""Quarantine: a record whose failure is final leaves the batch at once, whole, for the on-failure destination.

Left to the event source mapping, such a record would be retried and bisected like any other, holding its shard for a
dozen invocations before Lambda sends its stream coordinates, and only those, to the on-failure destination
(https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html). Retrying cannot fix it, so the runtime
sends it there itself, with the records and the reason, and the batch moves on. The message has the shape of Lambda's
own on-failure record (``condition`` "Quarantined"), with the records in ``payload`` as the S3 destination keeps them,
so ``python -m constructs_pkg.local redrive`` replays it without reading the stream, after the stream's 24 hours too.

The construct sets STREAM_RUNTIME_QUARANTINE (sqs, sns, s3 or discard) and STREAM_RUNTIME_QUARANTINE_TARGET (the
queue URL, topic ARN or bucket name) and grants the send. Without them a final failure goes through the mapping's
retries, as any other.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambda_src.contract import QuarantineMode, RuntimeEnv

from .config import REQUIRED, EnvironmentReader
from .log import get_logger
from .metrics import put_metric

__all__ = ["MAX_MESSAGE_BYTES", "QUARANTINED_RECORDS_METRIC", "Quarantine", "quarantine_message"]

QUARANTINED_RECORDS_METRIC = "QuarantinedRecords"
# SQS and SNS refuse a message over 256 KiB (an SQS queue's default MaximumMessageSize, SNS's fixed limit):
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html,
# https://docs.aws.amazon.com/general/latest/gr/sns.html. A larger message goes without its records; S3 takes any size.
MAX_MESSAGE_BYTES = 256 * 1024
_S3_PREFIX = "quarantine"
_CONDITION = "Quarantined"

_logger = get_logger(__name__)


@dataclass(frozen=True)
class Quarantine:
    """Where final failures go: ``mode`` and its ``target`` (queue URL, topic ARN or bucket name)."""

    mode: QuarantineMode
    target: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Quarantine | None:
        """The quarantine the construct configured in ``environ`` (Default: ``os.environ``); None when it is off."""
        environ = os.environ if environ is None else environ
        if not environ.get(RuntimeEnv.QUARANTINE, "").strip():
            return None
        reader = EnvironmentReader(environ, "stream runtime")
        mode: QuarantineMode = reader.choice(RuntimeEnv.QUARANTINE, QuarantineMode)
        target = "" if mode is QuarantineMode.DISCARD else reader.text(RuntimeEnv.QUARANTINE_TARGET, REQUIRED)
        reader.finish()
        return cls(mode, target)

    def take(self, raw_records: Sequence[Mapping[str, Any]], error: BaseException, context: Any) -> bool:
        """Send ``raw_records`` (one item's records, or one record) with the reason ``error``.

        Returns True when they are out of the batch: sent, or dropped by design (DISCARD); False when the send itself
        failed, and the caller must report them for the mapping to retry: nothing is lost silently.
        """
        reason = f"{type(error).__name__}: {error}"
        if self.mode is QuarantineMode.DISCARD:
            _logger.error("Final failure discarded (on_failure=OnFailure.DISCARD)", extra=_ids(raw_records, reason))
            put_metric(QUARANTINED_RECORDS_METRIC, len(raw_records))
            return True
        message = quarantine_message(raw_records, error, context)
        body = json.dumps(message, separators=(",", ":"))
        if self.mode is not QuarantineMode.S3 and len(body.encode()) > MAX_MESSAGE_BYTES:
            # redrive then re-reads the records from the stream by their sequence numbers, within its 24 hours.
            message = quarantine_message(raw_records, error, context, with_records=False)
            body = json.dumps(message, separators=(",", ":"))
        try:
            self._send(body, context)
        except Exception:  # botocore's errors, a missing permission, a network failure: the mapping retries instead
            _logger.exception("Quarantine failed: the records are left to the mapping's retries",
                              extra=_ids(raw_records, reason))  # fmt: skip
            return False
        _logger.error("Final failure quarantined", extra={**_ids(raw_records, reason), "destination": self.target})
        put_metric(QUARANTINED_RECORDS_METRIC, len(raw_records))
        return True

    def _send(self, body: str, context: Any) -> None:
        match self.mode:
            case QuarantineMode.SQS:
                _client("sqs").send_message(QueueUrl=self.target, MessageBody=body)
            case QuarantineMode.SNS:
                _client("sns").publish(TopicArn=self.target, Message=body)
            case QuarantineMode.S3:
                now = datetime.now(UTC)
                function_name = getattr(context, "function_name", None) or os.environ.get(
                    "AWS_LAMBDA_FUNCTION_NAME", "local"
                )
                key = f"{_S3_PREFIX}/{function_name}/{now:%Y/%m/%d/%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}.json"
                _client("s3").put_object(Bucket=self.target, Key=key, Body=body.encode())


def quarantine_message(
    raw_records: Sequence[Mapping[str, Any]], error: BaseException, context: Any, *, with_records: bool = True
) -> dict[str, Any]:
    """The on-failure record for ``raw_records``, in Lambda's shape with the records in ``payload``.

    It carries no ``shardId``: a Lambda event does not say which shard its records came from.
    """
    first, last = _stream_part(raw_records[0]), _stream_part(raw_records[-1])
    batch_info: dict[str, Any] = {
        "streamArn": next(
            (record.get("eventSourceARN") for record in raw_records if record.get("eventSourceARN")), None
        ),
        "startSequenceNumber": first.get("SequenceNumber"),
        "endSequenceNumber": last.get("SequenceNumber"),
        "batchSize": len(raw_records),
        "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
        "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
    }
    message: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": getattr(context, "aws_request_id", None) or str(uuid.uuid4()),
            "functionArn": getattr(context, "invoked_function_arn", None),
            "condition": _CONDITION,
            "approximateInvokeCount": 1,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": type(error).__name__},
        "quarantine": {
            "reason": f"{type(error).__name__}: {error}",
            "errorType": type(error).__name__,
            "eventIDs": [record.get("eventID") for record in raw_records],
            "imagesOmitted": not with_records,
        },
        "DDBStreamBatchInfo": batch_info,
    }
    if with_records:
        message["payload"] = {"Records": list(raw_records)}
    return message


def _ids(raw_records: Sequence[Mapping[str, Any]], reason: str) -> dict[str, Any]:
    # Ids and the reason only: images may hold personal data.
    return {
        "reason": reason,
        "eventIDs": [record.get("eventID") for record in raw_records],
        "sequenceNumbers": [_stream_part(record).get("SequenceNumber") for record in raw_records],
    }


def _stream_part(raw_record: Mapping[str, Any]) -> Mapping[str, Any]:
    stream = raw_record.get("dynamodb")
    return stream if isinstance(stream, Mapping) else {}


def _iso(epoch_seconds: Any) -> str | None:
    if not isinstance(epoch_seconds, int | float) or isinstance(epoch_seconds, bool):
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@functools.cache
def _client(service_name: str) -> Any:
    """One boto3 client per service for the cold start: a quarantine is rare, so it is made on first use."""
    import boto3
    from botocore.config import Config

    # A few quick attempts: past them the records go back to the mapping, whose retries take over.
    config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
    return boto3.session.Session().client(service_name, config=config)
