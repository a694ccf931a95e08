"""Synth overhead of ``StreamTriggeredTable`` against the same resources written by hand with aws-cdk-lib.

What is measured: the wall time (``time.perf_counter``) to build a fresh ``App`` holding one ``Stack`` with
N sets, then ``app.synth()``, for N = 1, 10 and 50, in one process. Bundling is skipped with the context key
``aws:cdk:bundling-stacks = []``; N = 50 makes 701 resources, so the stack's resource limit is raised and the
matching validation finding acknowledged, on both sides alike.

- Ours: N ``StreamTriggeredTable``s with default options, ``code=`` + ``handler=`` and one
  ``StreamFilter.key_prefix`` filter.
- Baseline: the resources one such construct creates, written with aws-cdk-lib's L2s directly: a table
  (PAY_PER_REQUEST, AWS_MANAGED, PITR, NEW_AND_OLD_IMAGES stream), a log group, a role with the managed
  AWSLambdaDynamoDBExecutionRole policy, a function whose environment names the queue for the runtime's quarantine
  and which may send to it, an encrypted TLS-only SQS queue, an event source mapping with the same settings, filter
  and EventCount metrics, and six alarms (iterator age, errors, queue depth, dropped, on-failure and quarantined
  records). Both sides use ``StreamRuntimeLayer.of(stack)``, so each stack holds the same single layer.

Before timing, the script asserts both sides synthesize the same multiset of CloudFormation resource types.
One warm-up of each side keeps jsii's Node start-up and the imports out of the numbers; the rounds then
alternate which side goes first, and each side's median is reported, to cancel drift on a small machine.
The last line is ``synth overhead ratio: X``, X being ours / hand-written at N = 50.

Run from the repository root: ``python -m benchmarks.synth_overhead``.
"""

from __future__ import annotations

import gc
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aws_cdk import Acknowledgment, App, Duration, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from constructs_pkg import StreamFilter, StreamRuntimeLayer, StreamTriggeredTable
from lambda_src.contract import RuntimeEnv

__all__ = ["main"]

SIZES = (1, 10, 50)
# Odd counts, for a true median; more rounds where a run is short and its timing noisier.
ROUNDS = {1: 9, 10: 5, 50: 9}
BUDGET = 1.10
_KEY_PREFIX = ("SK", "ORDER#")
_ALARM_PERIOD = Duration.minutes(5)
# N = 50 makes 701 resources, past CloudFormation's 500 per stack, which the CDK checks at synth: raise the
# check's limit (it still runs, on both sides alike) rather than split the one stack being measured.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
_CONTEXT = {"aws:cdk:bundling-stacks": [], "@aws-cdk/core:stackResourceLimit": 1000}
_RESOURCE_COUNT_ACKNOWLEDGMENT = Acknowledgment(
    id="CloudFormation-Validate::F0007", reason="a benchmark stack, synthesized and never deployed"
)

Builder = Callable[[Stack, int, Path], None]


def build_ours(stack: Stack, count: int, handler_dir: Path) -> None:
    """``count`` StreamTriggeredTables with default options."""
    for index in range(count):
        StreamTriggeredTable(
            stack,
            f"Orders{index}",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            code=lambda_.Code.from_asset(str(handler_dir)),
            handler="app.handler",
            filters=[StreamFilter.key_prefix(*_KEY_PREFIX)],
        )


def build_hand_written(stack: Stack, count: int, handler_dir: Path) -> None:
    """``count`` sets of what one StreamTriggeredTable creates, with aws-cdk-lib's L2s directly."""
    layer = StreamRuntimeLayer.of(stack)
    attribute, prefix = _KEY_PREFIX
    for index in range(count):
        table = dynamodb.Table(
            stack,
            f"Orders{index}Table",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        )
        log_group = logs.LogGroup(stack, f"Orders{index}Logs", retention=logs.RetentionDays.ONE_MONTH)
        role = iam.Role(
            stack,
            f"Orders{index}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaDynamoDBExecutionRole")
            ],
        )
        queue = sqs.Queue(
            stack,
            f"Orders{index}DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        function = lambda_.Function(
            stack,
            f"Orders{index}Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            code=lambda_.Code.from_asset(str(handler_dir)),
            handler="app.handler",
            role=role,
            memory_size=256,
            timeout=Duration.seconds(60),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            layers=[layer],
            environment={RuntimeEnv.QUARANTINE: "sqs", RuntimeEnv.QUARANTINE_TARGET: queue.queue_url},
        )
        queue.grant_send_messages(function)
        mapping = lambda_.EventSourceMapping(
            stack,
            f"Orders{index}EventSourceMapping",
            target=function,
            event_source_arn=table.table_stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=100,
            retry_attempts=10,
            max_record_age=Duration.hours(6),
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            filters=[lambda_.FilterCriteria.filter({"dynamodb": {"Keys": {attribute: {"S": [{"prefix": prefix}]}}}})],
            on_failure=event_sources.SqsDlq(queue),
            metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
        )
        function.metric("IteratorAge", statistic="Maximum", period=_ALARM_PERIOD).create_alarm(
            stack,
            f"Orders{index}IteratorAgeAlarm",
            threshold=600_000,  # ten minutes, in milliseconds
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Orders{index}: the stream consumer is more than 10 minutes behind the newest record",
        )
        function.metric_errors(statistic="Sum", period=_ALARM_PERIOD).create_alarm(
            stack,
            f"Orders{index}ErrorsAlarm",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Orders{index}: the stream function failed whole invocations",
        )
        queue.metric_approximate_number_of_messages_visible(statistic="Maximum", period=_ALARM_PERIOD).create_alarm(
            stack,
            f"Orders{index}DeadLetterQueueAlarm",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Orders{index}: stream batches failed for good",
        )
        for name, metric in (
            ("Dropped", _mapping_metric(mapping, "DroppedEventCount")),
            ("OnFailure", _mapping_metric(mapping, "OnFailureDestinationDeliveredEventCount")),
            ("Quarantined", cloudwatch.Metric(namespace="DynamoStreamConstructs", metric_name="QuarantinedRecords",
                                              dimensions_map={"FunctionName": function.function_name},
                                              statistic="Sum", period=_ALARM_PERIOD)),
        ):  # fmt: skip
            metric.create_alarm(
                stack,
                f"Orders{index}{name}RecordsAlarm",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Orders{index}: {name} records",
            )


def _mapping_metric(mapping: lambda_.EventSourceMapping, name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name=name,
        dimensions_map={"EventSourceMappingUUID": mapping.event_source_mapping_id},
        statistic="Sum",
        period=_ALARM_PERIOD,
    )


def synthesize(build: Builder, count: int, handler_dir: Path) -> tuple[float, Counter[str]]:
    """Seconds to build and synthesize a fresh app of ``count`` sets, and the stack's resource types."""
    outdir = tempfile.mkdtemp(prefix="synth-overhead-")
    # Each side starts with no garbage of the other's to collect, and collects none while it is timed.
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        app = App(context=_CONTEXT, outdir=outdir)
        stack = Stack(app, "Bench")
        Validations.of(stack).acknowledge(_RESOURCE_COUNT_ACKNOWLEDGMENT)
        build(stack, count, handler_dir)
        assembly = app.synth()
        elapsed = time.perf_counter() - started
        resources = assembly.get_stack_by_name("Bench").template["Resources"]
        return elapsed, Counter(resource["Type"] for resource in resources.values())
    finally:
        gc.enable()
        shutil.rmtree(outdir, ignore_errors=True)


def check_same_resources(handler_dir: Path) -> int:
    """Assert both sides create the same multiset of resource types; doubles as the warm-up.

    Returns the number of resources one set adds.
    """
    totals = []
    for count in (1, 2):
        _, ours = synthesize(build_ours, count, handler_dir)
        _, hand_written = synthesize(build_hand_written, count, handler_dir)
        if ours != hand_written:  # Raised, not asserted: the check must hold under python -O too.
            raise AssertionError(f"N={count}: ours {dict(ours)} != hand-written {dict(hand_written)}")
        totals.append(ours.total())
    return totals[1] - totals[0]


def measure(count: int, rounds: int, handler_dir: Path) -> tuple[float, float]:
    """Median seconds of ours and of the hand-written version, alternating which goes first each round."""
    timings: dict[str, list[float]] = {"ours": [], "hand_written": []}
    sides: list[tuple[str, Builder]] = [("ours", build_ours), ("hand_written", build_hand_written)]
    for round_index in range(rounds):
        for name, build in sides if round_index % 2 == 0 else reversed(sides):
            timings[name].append(synthesize(build, count, handler_dir)[0])
    return statistics.median(timings["ours"]), statistics.median(timings["hand_written"])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="synth-overhead-handler-") as handler_root:
        handler_dir = Path(handler_root)
        (handler_dir / "app.py").write_text("def handler(event, context):\n    return {'batchItemFailures': []}\n")
        per_set = check_same_resources(handler_dir)
        print(f"checked: both sides synthesize the same resource types ({per_set} per set, plus one layer per stack)")
        print(f"{'N':>4}  {'ours (s)':>10}  {'hand-written (s)':>16}  {'ratio':>6}")
        ratios: dict[int, float] = {}
        for count in SIZES:
            ours, hand_written = measure(count, ROUNDS[count], handler_dir)
            ratios[count] = ours / hand_written
            print(f"{count:>4}  {ours:>10.3f}  {hand_written:>16.3f}  {ratios[count]:>6.2f}")
    print(f"bar: ratio <= {BUDGET:.2f} at N = {SIZES[-1]}")
    print(f"synth overhead ratio: {ratios[SIZES[-1]]:.2f}")


if __name__ == "__main__":
    main()
