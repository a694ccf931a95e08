"""What reached a local run's on-failure destinations: Lambda's own records of discarded batches and the stream
runtime's quarantined records, read back from the destinations themselves (on moto) rather than counted on the way.

An SQS queue is read without taking anything from it (each message received is made visible again at once), so a
later ``redrive`` still finds every message; an S3 bucket is listed under Lambda's ``aws/lambda/`` and the runtime's
``quarantine/`` prefixes; an SNS topic cannot be read back, so a queue of the inbox's own is subscribed to it when the
inbox is made. What was there before the inbox was made is left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["QUARANTINED", "FailureInbox", "FailureMessage"]

QUARANTINED = "Quarantined"
_S3_PREFIXES = ("aws/lambda/", "quarantine/")
# Long enough for one pass over the queue; each message is made visible again right after it is read.
_PEEK_VISIBILITY_SECONDS = 30


@dataclass(frozen=True)
class FailureMessage:
    """One on-failure message as it sits in its destination (``address``): its ``condition`` (RetryAttemptsExhausted,
    RecordAgeExceeded, Quarantined ...), the ``function_arn`` it names, the number of ``records`` it stands for, and
    the ``message`` itself."""

    address: str
    condition: str
    function_arn: str | None
    records: int
    message: Mapping[str, Any]

    @property
    def quarantined(self) -> bool:
        """Sent by the stream runtime for a final failure, not by the mapping after its retries."""
        return self.condition == QUARANTINED

    @property
    def reason(self) -> str | None:
        quarantine = self.message.get("quarantine")
        return quarantine.get("reason") if isinstance(quarantine, Mapping) else None


class FailureInbox:
    """Reads the on-failure destinations of a started ``LocalRunner`` (``runner.on_failure_destinations``; the
    mappings' ``on_failure`` say their kinds); ``endpoints`` serve them."""

    def __init__(self, runner: Any) -> None:
        self._sqs: dict[str, str] = {}  # queue URL -> the address reported
        self._s3: dict[str, str] = {}  # bucket -> the address reported
        endpoints = runner.endpoints
        kinds = {mapping.logical_id: mapping.on_failure.kind for mapping in runner.app.mappings if mapping.on_failure}
        for mapping_id, address in runner.on_failure_destinations.items():
            kind = kinds.get(mapping_id)
            if kind == "sqs":
                self._sqs[address] = address
            elif kind == "s3":
                self._s3[address.removeprefix("s3://")] = address
            elif kind == "sns" and address not in self._sqs.values():
                self._sqs[_subscribed_queue(endpoints, address, len(self._sqs))] = address
        self._sqs_client: Any = endpoints.client("sqs") if self._sqs else None
        self._s3_client: Any = endpoints.client("s3") if self._s3 else None
        self._seen_before = {identifier for identifier, _ in self._read()}

    def messages(self) -> list[FailureMessage]:
        """Every on-failure message that arrived since the inbox was made, SQS's in the order received."""
        return [message for identifier, message in self._read() if identifier not in self._seen_before]

    def _read(self) -> Iterator[tuple[str, FailureMessage]]:
        for queue_url, address in self._sqs.items():
            for identifier, body in _peek(self._sqs_client, queue_url):
                yield identifier, _parsed(address, _unwrapped(body))
        for bucket, address in self._s3.items():
            for key in _keys(self._s3_client, bucket):
                body = self._s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
                yield f"s3://{bucket}/{key}", _parsed(address, body.decode())


def _subscribed_queue(endpoints: Any, topic_arn: str, index: int) -> str:
    """A queue of the inbox's own subscribed to ``topic_arn`` with raw delivery: what the topic publishes."""
    sqs, sns = endpoints.client("sqs"), endpoints.client("sns")
    name = f"{topic_arn.rpartition(':')[2][:60]}-inbox{index}"
    queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return queue_url


def _peek(sqs: Any, queue_url: str) -> Iterator[tuple[str, str]]:
    received: dict[str, tuple[str, str]] = {}
    while True:
        page = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=_PEEK_VISIBILITY_SECONDS, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [message for message in page if message["MessageId"] not in received]
        if not fresh:
            break
        for message in fresh:
            received[message["MessageId"]] = (message["ReceiptHandle"], message["Body"])
    for message_id, (receipt_handle, body) in received.items():
        # Visible again at once: the inbox only looks.
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)
        yield message_id, body


def _keys(s3: Any, bucket: str) -> Iterator[str]:
    for prefix in _S3_PREFIXES:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"]


def _unwrapped(body: str) -> str:
    """The message of an SNS notification delivered without raw delivery; any other body as it is."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if isinstance(parsed, dict) and parsed.get("Type") == "Notification" and isinstance(parsed.get("Message"), str):
        return str(parsed["Message"])
    return body


def _parsed(address: str, body: str) -> FailureMessage:
    try:
        message = json.loads(body)
    except ValueError:
        message = {"body": body}
    if not isinstance(message, dict):
        message = {"body": message}
    context = message.get("requestContext") or {}
    batch = message.get("DDBStreamBatchInfo") or {}
    size = batch.get("batchSize")
    return FailureMessage(
        address=address,
        condition=str(context.get("condition", "unknown")),
        function_arn=context.get("functionArn"),
        records=size if isinstance(size, int) else 0,
        message=message,
    )
