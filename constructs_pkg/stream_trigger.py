"""StreamTrigger: attaches a Lambda function to a DynamoDB table's stream, with the safe defaults applied."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, Unpack

from aws_cdk import Acknowledgment, Annotations, Duration, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .failure_destinations import QUARANTINE_KEY_PREFIX, FailureDestination, FailureRoute, OnFailure, route_failures
from .limits import (
    BATCH_SIZE_RANGE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_ITERATOR_AGE_ALARM_MINUTES,
    DEFAULT_MAX_RECORD_AGE_HOURS,
    DEFAULT_MEMORY_MB,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_BATCHING_WINDOW_SECONDS,
    MAX_FILTERS,
    MAX_TUMBLING_WINDOW_SECONDS,
    PARALLELIZATION_FACTOR_RANGE,
    RECORD_AGE_SECONDS_RANGE,
    RETRY_ATTEMPTS_RANGE,
    documented,
)
from .stream_filter import ItemImage, StreamFilter
from .stream_runtime_layer import StreamRuntimeLayer
from .table_facts import nag_resource_name, register_reader, stream_view_type_of, table_properties
from .trigger_monitoring import create_alarms, create_dashboard

__all__ = ["DEFAULT_RUNTIME", "DYNAMODB_EXECUTION_POLICY", "OnFailure", "StreamTrigger", "StreamTriggerOptions"]

DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14
DYNAMODB_EXECUTION_POLICY = "service-role/AWSLambdaDynamoDBExecutionRole"
_DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH


@documented
class StreamTriggerOptions(TypedDict, total=False):
    """The options of a stream trigger: the function, the event source mapping, failure handling and monitoring.

    The function, as exactly one of ``function`` (an existing ``IFunction``) or ``code`` and ``handler``, with which
    the construct creates the function: the latest Python runtime (``DEFAULT_RUNTIME``), active tracing, its own log
    group, and the stream runtime layer (``import lambda_src.stream_runtime``). These apply to it, and only to it:

    - ``memory_size``: MB. Default: $DEFAULT_MEMORY_MB.
    - ``timeout``: Default: $DEFAULT_TIMEOUT_SECONDS seconds.
    - ``environment``: Default: - none.
    - ``architecture``: Default: X86_64.
    - ``log_retention``: Default: $DEFAULT_LOG_RETENTION.
    - ``layers``: more layers. Default: - the stream runtime layer only.

    IAM:

    - ``least_privilege``: False gives the function's role the AWS-managed policy
      ``service-role/AWSLambdaDynamoDBExecutionRole``; True grants only stream reads scoped to this stream (and log
      writes scoped to the function's log group when the construct creates the function). Default: False.

    The event source mapping, named as ``aws_lambda_event_sources.DynamoEventSource``'s options:

    - ``starting_position``: LATEST misses changes made while the mapping is created. Default: TRIM_HORIZON.
    - ``batch_size``: $BATCH_SIZE_RANGE_MIN..$BATCH_SIZE_RANGE_MAX. Default: $DEFAULT_BATCH_SIZE.
    - ``max_batching_window``: at most $MAX_BATCHING_WINDOW_SECONDS seconds. Default: - none.
    - ``retry_attempts``: $RETRY_ATTEMPTS_RANGE_MIN..$RETRY_ATTEMPTS_RANGE_MAX, never -1 (infinite).
      Default: $DEFAULT_RETRY_ATTEMPTS.
    - ``max_record_age``: $RECORD_AGE_SECONDS_RANGE_MIN..$RECORD_AGE_SECONDS_RANGE_MAX seconds, never -1; the
      default leaves most of the stream's 24-hour retention to redrive. Default: $DEFAULT_MAX_RECORD_AGE_HOURS hours.
    - ``bisect_batch_on_error``: Default: True.
    - ``report_batch_item_failures``: the stream runtime returns partial batch responses. Default: True.
    - ``parallelization_factor``: $PARALLELIZATION_FACTOR_RANGE_MIN..$PARALLELIZATION_FACTOR_RANGE_MAX.
      Default: 1.
    - ``tumbling_window``: at most $MAX_TUMBLING_WINDOW_SECONDS seconds. Default: - none.
    - ``filters``: at most $MAX_FILTERS ``StreamFilter``s (or raw patterns, checked the same way), ORed.
      Default: - every record.
    - ``filter_encryption``: a KMS key for the filter criteria. Default: - an AWS-owned key.
    - ``enabled``: Default: True.
    - ``metrics_config``: the mapping's metrics; without EventCount, the dropped and on-failure alarms go too.
      Default: - EventCount.

    Failures:

    - ``on_failure``: an ``IQueue``, ``ITopic`` or ``IBucket`` (S3 keeps the failed records themselves, SQS and SNS
      only their stream coordinates), an ``IEventSourceDlq``, or ``OnFailure.DISCARD``.
      Default: - a new SQS queue, encrypted, TLS-only, keeping messages $ON_FAILURE_QUEUE_RETENTION_DAYS days.
    - ``quarantine``: the stream runtime sends a record whose failure is final (malformed, or a PermanentError) to the
      on-failure destination at once, whole, with the reason, and the batch moves on; False leaves such records to
      the mapping's retries. True with ``function=`` (a ``lambda_.Function`` of this app, running the stream runtime)
      sets its environment and grants the send; not with a custom ``IEventSourceDlq``.
      Default: True for a function the construct creates, False for ``function=``.

    Monitoring:

    - ``alarm_topic``: the SNS topic every alarm notifies. Default: - none.
    - ``iterator_age_alarm_threshold``: Default: $DEFAULT_ITERATOR_AGE_ALARM_MINUTES minutes.
    - ``dashboard``: a CloudWatch dashboard of the trigger (iterator age, invocations, batch outcomes, failed
      records). Default: False.
    """

    function: lambda_.IFunction
    code: lambda_.Code
    handler: str
    memory_size: int
    timeout: Duration
    environment: Mapping[str, str]
    architecture: lambda_.Architecture
    log_retention: logs.RetentionDays
    layers: Sequence[lambda_.ILayerVersion]
    least_privilege: bool
    starting_position: lambda_.StartingPosition
    batch_size: int
    max_batching_window: Duration
    retry_attempts: int
    max_record_age: Duration
    bisect_batch_on_error: bool
    report_batch_item_failures: bool
    parallelization_factor: int
    tumbling_window: Duration
    filters: Sequence[StreamFilter | Mapping[str, Any]]
    filter_encryption: kms.IKey
    enabled: bool
    metrics_config: lambda_.MetricsConfig
    on_failure: FailureDestination
    quarantine: bool
    alarm_topic: sns.ITopic
    iterator_age_alarm_threshold: Duration
    dashboard: bool


_FUNCTION_CREATION_OPTIONS = ("memory_size", "timeout", "environment", "architecture", "log_retention", "layers")
# Immutable values, made once per process: each jsii call is a round trip to Node.js.
_DEFAULT_TIMEOUT = Duration.seconds(DEFAULT_TIMEOUT_SECONDS)
_DEFAULT_MAX_RECORD_AGE = Duration.hours(DEFAULT_MAX_RECORD_AGE_HOURS)
_DEFAULT_METRICS = lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT])
_LAMBDA_PRINCIPAL = iam.ServicePrincipal("lambda.amazonaws.com")
_DYNAMODB_EXECUTION_MANAGED_POLICY = iam.ManagedPolicy.from_aws_managed_policy_name(DYNAMODB_EXECUTION_POLICY)


class StreamTrigger(Construct):
    """Attaches a function to a table's stream: event source mapping, on-failure destination, quarantine of final
    failures, IAM and alarms.

    Every higher construct of the library is built on it. See ``StreamTriggerOptions`` for the options and their
    defaults. Attributes: ``table``, ``function``, ``event_source_mapping``, ``dead_letter_queue`` (None when
    another destination, or none, was chosen), ``quarantines`` (whether final failures are quarantined), ``filters``,
    ``alarms`` and one attribute per alarm (None for an alarm whose metric the trigger does not produce),
    ``dashboard`` (None unless asked for).
    """

    def __init__(self, scope: Construct, id: str, *, table: dynamodb.ITable, **options: Unpack[StreamTriggerOptions]):
        super().__init__(scope, id)
        path = self.node.path
        check_options(options, StreamTriggerOptions.__optional_keys__, "StreamTrigger")
        self.filters: tuple[StreamFilter, ...] = tuple(_as_filter(f) for f in options.get("filters") or ())
        view_type = stream_view_type_of(table)
        problems = _option_problems(options, self.filters) + _view_type_problems(view_type, self.filters)
        if problems:
            raise ValueError(f"StreamTrigger {path}: " + "; ".join(problems))
        stream_arn = table.table_stream_arn
        # TableV2 gives a stream ARN token even without a stream; its properties tell.
        if stream_arn is None or (view_type is None and table_properties(table) is not None):
            raise ValueError(
                f"table {table.node.path} has no stream. Enable one (Table: stream=StreamViewType.NEW_AND_OLD_IMAGES; "
                "TableV2: dynamo_stream=StreamViewType.NEW_AND_OLD_IMAGES), or import the table with "
                "Table.from_table_attributes(..., table_stream_arn=...)"
            )
        self.table = table
        register_reader(table, self, path)

        route = route_failures(self, options.get("on_failure"))
        self.dead_letter_queue: sqs.IQueue | None = route.queue
        given_function = options.get("function")
        self.quarantines = _quarantines(options, given_function, route, path)
        self.function_role: iam.Role | None = None
        self.log_group: logs.LogGroup | None = None
        if isinstance(given_function, lambda_.Function) and self.quarantines:
            for name, value in route.quarantine_environment().items():
                given_function.add_environment(name, value)
        self.function = given_function or self._create_function(options, route)
        role = self.function_role or self.function.role
        least_privilege = options.get("least_privilege", False)
        self._grant_stream_read(role, least_privilege)
        if self.quarantines and route.grant_quarantine is not None:
            route.grant_quarantine(self.function)

        metrics_config = options.get("metrics_config", _DEFAULT_METRICS)
        self.event_source_mapping = lambda_.EventSourceMapping(
            self,
            "EventSourceMapping",
            target=self.function,
            event_source_arn=stream_arn,
            starting_position=options.get("starting_position", lambda_.StartingPosition.TRIM_HORIZON),
            batch_size=options.get("batch_size", DEFAULT_BATCH_SIZE),
            max_batching_window=options.get("max_batching_window"),
            retry_attempts=options.get("retry_attempts", DEFAULT_RETRY_ATTEMPTS),
            max_record_age=options.get("max_record_age", _DEFAULT_MAX_RECORD_AGE),
            bisect_batch_on_error=options.get("bisect_batch_on_error", True),
            report_batch_item_failures=options.get("report_batch_item_failures", True),
            parallelization_factor=options.get("parallelization_factor"),
            tumbling_window=options.get("tumbling_window"),
            filters=[lambda_.FilterCriteria.filter(f.pattern) for f in self.filters] or None,
            filter_encryption=options.get("filter_encryption"),
            enabled=options.get("enabled"),
            metrics_config=metrics_config,
            on_failure=route.destination,
            support_s3_on_failure_destination=route.bucket is not None,
        )
        if not options.get("report_batch_item_failures", True):
            Annotations.of(self).add_warning_v2(
                "dynamodb-stream-constructs:noPartialBatchResponse",
                "report_batch_item_failures=False: Lambda ignores a returned batchItemFailures list and counts "
                "those failures as successes",
            )
        event_counts = metrics_config is _DEFAULT_METRICS or lambda_.MetricType.EVENT_COUNT in (
            metrics_config.metrics or []
        )
        alarms = create_alarms(
            self,
            path,
            function=self.function,
            mapping=self.event_source_mapping,
            queue=self.dead_letter_queue,
            event_count_metrics=event_counts,
            has_destination=route.destination is not None,
            quarantines=self.quarantines,
            iterator_age_threshold=options.get("iterator_age_alarm_threshold"),
            iterator_age_threshold_minutes=DEFAULT_ITERATOR_AGE_ALARM_MINUTES,
            alarm_topic=options.get("alarm_topic"),
        )
        self.iterator_age_alarm = alarms.iterator_age
        self.errors_alarm = alarms.errors
        self.dead_letter_queue_alarm = alarms.dead_letter_queue
        self.dropped_records_alarm = alarms.dropped_records
        self.on_failure_records_alarm = alarms.on_failure_records
        self.quarantined_records_alarm = alarms.quarantined_records
        self.alarms: tuple[cloudwatch.Alarm, ...] = alarms.all
        self.dashboard: cloudwatch.Dashboard | None = None
        if options.get("dashboard", False):
            self.dashboard = create_dashboard(
                self,
                function=self.function,
                mapping=self.event_source_mapping,
                queue=self.dead_letter_queue,
                event_count_metrics=event_counts,
                quarantines=self.quarantines,
            )
        self._acknowledge_findings(role is not None, least_privilege, route)

    # Function and IAM

    def _create_function(self, options: StreamTriggerOptions, route: FailureRoute) -> lambda_.Function:
        self.log_group = logs.LogGroup(
            self, "FunctionLogs", retention=options.get("log_retention", _DEFAULT_LOG_RETENTION)
        )
        managed_policies = None
        if not options.get("least_privilege", False):
            managed_policies = [_DYNAMODB_EXECUTION_MANAGED_POLICY]
        self.function_role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=_LAMBDA_PRINCIPAL,
            managed_policies=managed_policies,
        )
        if managed_policies is None:
            self.log_group.grant_write(self.function_role)
        environment = dict(options.get("environment") or {})
        if self.quarantines:
            # What the construct needs to work goes last: the user's variables cannot turn it off by accident.
            environment.update(route.quarantine_environment())
        function = lambda_.Function(
            self,
            "Function",
            runtime=DEFAULT_RUNTIME,
            code=options["code"],
            handler=options["handler"],
            role=self.function_role,
            memory_size=options.get("memory_size", DEFAULT_MEMORY_MB),
            timeout=options.get("timeout", _DEFAULT_TIMEOUT),
            environment=environment,
            architecture=options.get("architecture"),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            layers=[StreamRuntimeLayer.of(self), *(options.get("layers") or ())],
        )
        return function

    def _grant_stream_read(self, role: iam.IRole | None, least_privilege: bool) -> None:
        if role is None:
            Annotations.of(self).add_warning_v2(
                "dynamodb-stream-constructs:noRole",
                f"function {self.function.node.path} has no role the construct can change: grant it stream reads "
                f"({DYNAMODB_EXECUTION_POLICY}) yourself",
            )
        elif least_privilege:
            self.table.grant_stream_read(self.function)
        elif self.function_role is None:  # A role the construct creates gets the managed policy at creation.
            role.add_managed_policy(_DYNAMODB_EXECUTION_MANAGED_POLICY)

    # cdk-nag

    def _acknowledge_findings(self, has_role: bool, least_privilege: bool, route: FailureRoute) -> None:
        # One call for all of them: each is a round trip to jsii's Node.js process.
        acknowledgments = list(route.acknowledgments)
        if not least_privilege and has_role:
            acknowledgments.append(
                Acknowledgment(
                    id=f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{DYNAMODB_EXECUTION_POLICY}]",
                    reason="The AWS-managed AWSLambdaDynamoDBExecutionRole grants exactly the stream reads and log "
                    "writes a stream consumer needs; pass least_privilege=True for scoped inline grants instead",
                )
            )
        if self.function_role is not None or least_privilege:
            acknowledgments.append(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="X-Ray's PutTraceSegments/PutTelemetryRecords and DynamoDB's ListStreams support no "
                    "resource-level permissions",
                )
            )
        if route.bucket is not None:
            # cdk-nag names a finding's resource as the template writes it: <LogicalId.Arn> for a bucket of this app.
            bucket_arn = nag_resource_name(Stack.of(self).resolve(route.bucket.bucket_arn))
            findings = ["Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*",
                        "Action::s3:GetObject*", "Action::s3:List*", f"Resource::{bucket_arn}/*"]  # fmt: skip
            acknowledgments.extend(
                Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason="Lambda writes failed batches to S3 as new "
                               "objects under a generated key, so the grant covers the bucket's objects")
                for finding in findings
            )  # fmt: skip
            if self.quarantines:
                acknowledgments.append(
                    Acknowledgment(
                        id=f"AwsSolutions-IAM5[Resource::{bucket_arn}/{QUARANTINE_KEY_PREFIX}*]",
                        reason="The stream runtime writes each quarantined record as a new object under a generated "
                        f"key below {QUARANTINE_KEY_PREFIX}",
                    )
                )
        if acknowledgments:
            Validations.of(self).acknowledge(*acknowledgments)


def _quarantines(
    options: StreamTriggerOptions, function: lambda_.IFunction | None, route: FailureRoute, path: str
) -> bool:
    """Whether the runtime quarantines final failures: by default for a function the construct creates."""
    wanted = options.get("quarantine")
    if wanted is None:
        return function is None and route.quarantine_mode is not None
    if wanted and route.quarantine_mode is None:
        raise ValueError(
            f"StreamTrigger {path}: quarantine=True needs an SQS queue, SNS topic or S3 bucket as on_failure (or "
            "OnFailure.DISCARD): the runtime cannot send to a custom destination"
        )
    if wanted and function is not None and not isinstance(function, lambda_.Function):
        raise ValueError(f"StreamTrigger {path}: quarantine=True needs the function's environment: pass a "
                         "lambda_.Function of this app, or code= and handler=")  # fmt: skip
    return wanted


def check_options(options: Mapping[str, Any], known: frozenset[str], owner: str) -> None:
    """Refuse option names ``owner`` does not know (keyword arguments typed by a TypedDict are not checked)."""
    unknown = sorted(set(options) - known)
    if unknown:
        hints = [f"{name!r}" + "".join(f" (did you mean {m!r}?)" for m in difflib.get_close_matches(name, known, 1))
                 for name in unknown]  # fmt: skip
        raise TypeError(f"{owner} got unexpected keyword arguments: {', '.join(hints)}")


def _as_filter(value: StreamFilter | Mapping[str, Any]) -> StreamFilter:
    if isinstance(value, StreamFilter):
        return value
    if isinstance(value, Mapping) and set(value) == {"pattern"} and isinstance(value["pattern"], str):
        # The output of aws_lambda.FilterCriteria.filter(), as DynamoEventSource users write it.
        return StreamFilter(json.loads(value["pattern"]))
    return StreamFilter(value)


def _option_problems(options: StreamTriggerOptions, filters: Sequence[StreamFilter]) -> list[str]:
    problems: list[str] = []

    def check_range(name: str, bounds: tuple[int, int], value: int | None, unit: str = "") -> None:
        if value is None or Token.is_unresolved(value):
            return
        low, high = bounds
        if not low <= value <= high:
            problems.append(f"{name} must be between {low} and {high}{unit} inclusive, got {value}{unit}")

    def seconds(name: str) -> int | None:
        duration = options.get(name)
        if not isinstance(duration, Duration) or duration.is_unresolved():
            return None
        try:
            return int(duration.to_seconds())
        except RuntimeError:  # jsii's error for a Duration with a fraction of a second
            problems.append(f"{name} must be a whole number of seconds, got {duration.to_human_string()}")
            return None

    function_given = options.get("function") is not None
    code_given = options.get("code") is not None or options.get("handler") is not None
    if function_given and code_given:
        problems.append("give either function= or code= and handler=, not both")
    elif not function_given and (options.get("code") is None or options.get("handler") is None):
        problems.append("give function=, or code= and handler= for the construct to create the function")
    if function_given:
        extra = [name for name in _FUNCTION_CREATION_OPTIONS if options.get(name) is not None]
        if extra:
            problems.append(f"{', '.join(extra)} apply only to a function the construct creates from code=")

    check_range("batch_size", BATCH_SIZE_RANGE, options.get("batch_size"))
    check_range("max_batching_window", (0, MAX_BATCHING_WINDOW_SECONDS), seconds("max_batching_window"), " s")
    check_range("parallelization_factor", PARALLELIZATION_FACTOR_RANGE, options.get("parallelization_factor"))
    retry_attempts = options.get("retry_attempts")
    if retry_attempts == -1:
        problems.append(
            "retry_attempts must be between 0 and 10000 inclusive, got -1: infinite retries let one bad record "
            "block its shard until it expires"
        )
    else:
        check_range("retry_attempts", RETRY_ATTEMPTS_RANGE, retry_attempts)
    check_range("max_record_age", RECORD_AGE_SECONDS_RANGE, seconds("max_record_age"), " s")
    check_range("tumbling_window", (0, MAX_TUMBLING_WINDOW_SECONDS), seconds("tumbling_window"), " s")
    if options.get("starting_position") == lambda_.StartingPosition.AT_TIMESTAMP:
        problems.append(
            "starting_position must be TRIM_HORIZON or LATEST: DynamoDB streams do not support AT_TIMESTAMP"
        )
    if len(filters) > MAX_FILTERS:
        problems.append(f"filters must hold at most {MAX_FILTERS} patterns, got {len(filters)}")
    if options.get("filter_encryption") is not None and not filters:
        problems.append("filter_encryption needs filters to encrypt")
    return problems


def _view_type_problems(view_type: str | None, filters: Sequence[StreamFilter]) -> list[str]:
    if view_type is None:
        return []
    carried = {
        "NEW_AND_OLD_IMAGES": {ItemImage.NEW, ItemImage.OLD},
        "NEW_IMAGE": {ItemImage.NEW},
        "OLD_IMAGE": {ItemImage.OLD},
        "KEYS_ONLY": set(),
    }[view_type]
    return [
        f"filter {f!r} reads the {', '.join(sorted(i.value for i in f.images - carried))} that a {view_type} stream "
        "does not carry, so it would never match"
        for f in filters
        if f.images - carried
    ]
