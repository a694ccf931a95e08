"""Where a trigger's failed records go: the event source mapping's on-failure destination, and the runtime's quarantine
of final failures to the same place."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Annotations, Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambda_src.contract import QuarantineMode, RuntimeEnv

from .limits import ON_FAILURE_QUEUE_RETENTION_DAYS

__all__ = ["QUARANTINE_KEY_PREFIX", "FailureDestination", "FailureRoute", "OnFailure", "route_failures"]

# Where the runtime puts quarantined records in an S3 destination (Lambda's own objects go under aws/lambda/).
QUARANTINE_KEY_PREFIX = "quarantine/"
_ON_FAILURE_QUEUE_RETENTION = Duration.days(ON_FAILURE_QUEUE_RETENTION_DAYS)
_DEAD_LETTER_QUEUE_ACKNOWLEDGMENT = Acknowledgment(
    id="AwsSolutions-SQS3",
    reason="This queue is the on-failure destination (a dead-letter queue itself); it holds the stream coordinates "
    "of failed batches, and quarantined records, for redrive",
)


class OnFailure(enum.Enum):
    """Explicit choices for ``on_failure`` besides a destination."""

    DISCARD = "discard"
    """Drop the records that exhaust their retries or age out, and final failures. Only for streams whose changes
    may be lost."""


FailureDestination = sqs.IQueue | sns.ITopic | s3.IBucket | lambda_.IEventSourceDlq | OnFailure


@dataclass(frozen=True)
class FailureRoute:
    """A trigger's failure handling: ``destination`` for the mapping (None: discard), the on-failure ``queue`` (created
    or given; None for other destinations), the on-failure ``bucket`` (None for other destinations), and the
    runtime's quarantine: ``quarantine_mode`` (None when the destination is one the runtime cannot send to) with
    ``quarantine_target`` and what ``grant_quarantine`` gives."""

    destination: lambda_.IEventSourceDlq | None
    queue: sqs.IQueue | None
    bucket: s3.IBucket | None
    quarantine_mode: QuarantineMode | None
    quarantine_target: str = ""
    grant_quarantine: Callable[[lambda_.IFunction], object] | None = None
    # The cdk-nag findings the route's own resources raise by design, for the trigger to acknowledge with its own.
    acknowledgments: tuple[Acknowledgment, ...] = ()

    def quarantine_environment(self) -> dict[str, str]:
        """The variables that turn the runtime's quarantine on, for a function the construct creates."""
        if self.quarantine_mode is None:
            return {}
        environment = {RuntimeEnv.QUARANTINE: self.quarantine_mode.value}
        if self.quarantine_target:
            environment[RuntimeEnv.QUARANTINE_TARGET] = self.quarantine_target
        return environment


def route_failures(scope: Construct, on_failure: FailureDestination | None) -> FailureRoute:
    """The route for ``on_failure``; None creates the encrypted on-failure queue under ``scope``."""
    if on_failure is None:
        queue = sqs.Queue(
            scope,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=_ON_FAILURE_QUEUE_RETENTION,
        )
        return _queue_route(queue, acknowledgments=(_DEAD_LETTER_QUEUE_ACKNOWLEDGMENT,))
    if isinstance(on_failure, OnFailure):
        Annotations.of(scope).add_info(
            "on_failure=OnFailure.DISCARD: records that exhaust their retries or age out, and final failures, are "
            "dropped"
        )
        return FailureRoute(None, None, None, QuarantineMode.DISCARD)
    if hasattr(on_failure, "queue_arn"):
        return _queue_route(on_failure)  # type: ignore[arg-type]
    if hasattr(on_failure, "topic_arn"):
        topic: sns.ITopic = on_failure  # type: ignore[assignment]
        return FailureRoute(
            event_sources.SnsDlq(topic), None, None, QuarantineMode.SNS, topic.topic_arn, topic.grant_publish
        )
    if hasattr(on_failure, "bucket_arn"):
        bucket: s3.IBucket = on_failure  # type: ignore[assignment]
        return FailureRoute(
            event_sources.S3OnFailureDestination(bucket),
            None,
            bucket,
            QuarantineMode.S3,
            bucket.bucket_name,
            lambda function: bucket.grant_put(function, f"{QUARANTINE_KEY_PREFIX}*"),
        )
    # Some other IEventSourceDlq: the runtime does not know how to send to it.
    Annotations.of(scope).add_info(
        "on_failure is a custom destination: final failures go through the mapping's retries like any other"
    )
    return FailureRoute(on_failure, None, None, None)


def _queue_route(queue: sqs.IQueue, acknowledgments: tuple[Acknowledgment, ...] = ()) -> FailureRoute:
    return FailureRoute(
        event_sources.SqsDlq(queue),
        queue,
        None,
        QuarantineMode.SQS,
        queue.queue_url,
        queue.grant_send_messages,
        acknowledgments,
    )
