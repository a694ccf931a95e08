"""A trigger's alarms and its optional dashboard: the function, the event source mapping's event counts, the
on-failure queue and the runtime's quarantine."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambda_src.stream_runtime.metrics import METRICS_NAMESPACE
from lambda_src.stream_runtime.quarantine import QUARANTINED_RECORDS_METRIC

from .limits import DEFAULT_ALARM_EVALUATION_MINUTES

__all__ = ["ESM_EVENT_COUNT_METRICS", "TriggerAlarms", "create_alarms", "create_dashboard"]

# The EventCount group of event source mapping metrics, in AWS/Lambda by EventSourceMappingUUID:
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
ESM_EVENT_COUNT_METRICS = (
    "PolledEventCount",
    "FilteredOutEventCount",
    "InvokedEventCount",
    "FailedInvokeEventCount",
    "DroppedEventCount",
    "OnFailureDestinationDeliveredEventCount",
)
_PERIOD = Duration.minutes(DEFAULT_ALARM_EVALUATION_MINUTES)
_AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING


@dataclass(frozen=True)
class TriggerAlarms:
    """The alarms of one trigger; an alarm whose metric the trigger does not produce is None."""

    iterator_age: cloudwatch.Alarm
    errors: cloudwatch.Alarm
    dead_letter_queue: cloudwatch.Alarm | None
    dropped_records: cloudwatch.Alarm | None
    on_failure_records: cloudwatch.Alarm | None
    quarantined_records: cloudwatch.Alarm | None

    @property
    def all(self) -> tuple[cloudwatch.Alarm, ...]:
        return tuple(
            alarm
            for alarm in (
                self.iterator_age,
                self.errors,
                self.dead_letter_queue,
                self.dropped_records,
                self.on_failure_records,
                self.quarantined_records,
            )
            if alarm is not None
        )


def create_alarms(
    scope: Construct,
    path: str,
    *,
    function: lambda_.IFunction,
    mapping: lambda_.EventSourceMapping,
    queue: sqs.IQueue | None,
    event_count_metrics: bool,
    has_destination: bool,
    quarantines: bool,
    iterator_age_threshold: Duration | None,
    iterator_age_threshold_minutes: int,
    alarm_topic: sns.ITopic | None,
) -> TriggerAlarms:
    """The alarms under ``scope`` (whose construct path is ``path``), each notifying ``alarm_topic`` when given."""
    threshold_ms: float
    if iterator_age_threshold is None:
        threshold_ms, threshold_text = (
            iterator_age_threshold_minutes * 60_000,
            f"{iterator_age_threshold_minutes} minutes",
        )
    else:
        threshold_ms, threshold_text = (
            iterator_age_threshold.to_milliseconds(),
            iterator_age_threshold.to_human_string(),
        )
    iterator_age = function.metric("IteratorAge", statistic="Maximum", period=_PERIOD).create_alarm(
        scope,
        "IteratorAgeAlarm",
        threshold=threshold_ms,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treat_missing_data=_NOT_BREACHING,
        alarm_description=f"{path}: the stream consumer is more than {threshold_text} behind the newest record",
    )
    errors = _at_least_one(
        scope, "ErrorsAlarm", function.metric_errors(statistic="Sum", period=_PERIOD),
        f"{path}: the stream function failed whole invocations",
    )  # fmt: skip
    dead_letter_queue = None
    if queue is not None:
        dead_letter_queue = _at_least_one(
            scope,
            "DeadLetterQueueAlarm",
            queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=_PERIOD),
            f"{path}: stream records failed for good; their sequence ranges, or the quarantined records themselves, "
            "are in the on-failure queue",
        )
    dropped = on_failure = None
    if event_count_metrics:
        dropped = _at_least_one(
            scope, "DroppedRecordsAlarm", mapping_metric(mapping, "DroppedEventCount"),
            f"{path}: the event source mapping dropped records (retries or record age exhausted with no "
            "destination, or the destination refused them)",
        )  # fmt: skip
        if has_destination:
            on_failure = _at_least_one(
                scope, "OnFailureRecordsAlarm", mapping_metric(mapping, "OnFailureDestinationDeliveredEventCount"),
                f"{path}: the event source mapping gave up on records and sent their batch to the on-failure "
                "destination",
            )  # fmt: skip
    quarantined = None
    if quarantines:
        quarantined = _at_least_one(
            scope, "QuarantinedRecordsAlarm", quarantined_records_metric(function),
            f"{path}: records failed for good (malformed, or refused) and were taken out of their batch",
        )  # fmt: skip
    alarms = TriggerAlarms(iterator_age, errors, dead_letter_queue, dropped, on_failure, quarantined)
    if alarm_topic is not None:
        action = cloudwatch_actions.SnsAction(alarm_topic)
        for alarm in alarms.all:
            alarm.add_alarm_action(action)
    return alarms


def mapping_metric(mapping: lambda_.EventSourceMapping, name: str) -> cloudwatch.Metric:
    """One of the mapping's EventCount metrics, summed over the alarm period."""
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name=name,
        dimensions_map={"EventSourceMappingUUID": mapping.event_source_mapping_id},
        statistic="Sum",
        period=_PERIOD,
    )


def quarantined_records_metric(function: lambda_.IFunction) -> cloudwatch.Metric:
    """The records the runtime took out of their batches (its Embedded Metric Format metric)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=QUARANTINED_RECORDS_METRIC,
        dimensions_map={"FunctionName": function.function_name},
        statistic="Sum",
        period=_PERIOD,
    )


def create_dashboard(
    scope: Construct,
    *,
    function: lambda_.IFunction,
    mapping: lambda_.EventSourceMapping,
    queue: sqs.IQueue | None,
    event_count_metrics: bool,
    quarantines: bool,
) -> cloudwatch.Dashboard:
    """One dashboard for the trigger: how far behind it is, how its invocations and batches went, what failed."""
    health = [
        cloudwatch.GraphWidget(
            title="Iterator age (ms, maximum)",
            left=[function.metric("IteratorAge", statistic="Maximum", period=_PERIOD)],
        ),
        cloudwatch.GraphWidget(
            title="Invocations",
            left=[
                function.metric_invocations(statistic="Sum", period=_PERIOD),
                function.metric_errors(statistic="Sum", period=_PERIOD),
                function.metric_throttles(statistic="Sum", period=_PERIOD),
            ],
        ),
    ]
    failures: list[cloudwatch.IMetric] = []
    if queue is not None:
        failures.append(queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=_PERIOD))
    if quarantines:
        failures.append(quarantined_records_metric(function))
    outcomes: list[cloudwatch.IWidget] = []
    if event_count_metrics:
        outcomes.append(
            cloudwatch.GraphWidget(
                title="Batch outcomes (records)",
                left=[mapping_metric(mapping, name) for name in ESM_EVENT_COUNT_METRICS],
            )
        )
    if failures:
        outcomes.append(cloudwatch.GraphWidget(title="Failed records", left=failures))
    return cloudwatch.Dashboard(scope, "Dashboard", widgets=[health, outcomes] if outcomes else [health])


def _at_least_one(scope: Construct, id: str, metric: cloudwatch.Metric, description: str) -> cloudwatch.Alarm:
    return metric.create_alarm(
        scope,
        id,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=_AT_LEAST,
        treat_missing_data=_NOT_BREACHING,
        alarm_description=description,
    )
