"""StreamTrigger: attaches a Lambda function to a DynamoDB table's stream, with the safe defaults applied."""

from __future__ import annotations

import difflib
import enum
import json
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, Unpack

import jsii
from aws_cdk import Acknowledgment, Annotations, Duration, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IValidation

from .limits import (
    BATCH_SIZE_RANGE,
    DEFAULT_ALARM_EVALUATION_MINUTES,
    DEFAULT_BATCH_SIZE,
    DEFAULT_ITERATOR_AGE_ALARM_MINUTES,
    DEFAULT_MAX_RECORD_AGE_HOURS,
    DEFAULT_MEMORY_MB,
    DEFAULT_RETRY_ATTEMPTS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_BATCHING_WINDOW_SECONDS,
    MAX_FILTERS,
    MAX_READERS_PER_GLOBAL_TABLE_STREAM,
    MAX_READERS_PER_STREAM,
    MAX_TUMBLING_WINDOW_SECONDS,
    ON_FAILURE_QUEUE_RETENTION_DAYS,
    PARALLELIZATION_FACTOR_RANGE,
    RECORD_AGE_SECONDS_RANGE,
    RETRY_ATTEMPTS_RANGE,
    documented,
)
from .stream_filter import ItemImage, StreamFilter
from .stream_runtime_layer import StreamRuntimeLayer

__all__ = ["DEFAULT_RUNTIME", "DYNAMODB_EXECUTION_POLICY", "OnFailure", "StreamTrigger", "StreamTriggerOptions"]

DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14
DYNAMODB_EXECUTION_POLICY = "service-role/AWSLambdaDynamoDBExecutionRole"
_DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class OnFailure(enum.Enum):
    """Explicit choices for ``on_failure`` besides a destination."""

    DISCARD = "discard"
    """Drop the records that exhaust their retries or age out. Only for streams whose changes may be lost."""


FailureDestination = sqs.IQueue | sns.ITopic | s3.IBucket | lambda_.IEventSourceDlq | OnFailure


@documented
class StreamTriggerOptions(TypedDict, total=False):
    """The options of a stream trigger: the function, the event source mapping, failure handling and alarms.

    The function, as exactly one of:

    - ``function``: an existing ``IFunction``.
    - ``code`` and ``handler``: the construct creates the function: the latest Python runtime
      (``DEFAULT_RUNTIME``), active tracing, its own log group, and the stream runtime layer
      (``import lambda_src.stream_runtime``). With it, and only with it:
      ``memory_size`` (Default: $DEFAULT_MEMORY_MB), ``timeout`` (Default: $DEFAULT_TIMEOUT_SECONDS seconds),
      ``environment`` (Default: - none), ``architecture`` (Default: X86_64),
      ``log_retention`` (Default: $DEFAULT_LOG_RETENTION), ``layers`` (Default: - the stream runtime layer only).

    IAM: ``least_privilege`` (Default: False): by default the function's role gets the AWS-managed policy
    ``service-role/AWSLambdaDynamoDBExecutionRole``; True grants only stream reads scoped to this stream (and log writes
    scoped to the function's log group when the construct creates the function).

    The event source mapping, named as ``aws_lambda_event_sources.DynamoEventSource``'s options:

    - ``starting_position``: Default: TRIM_HORIZON (LATEST misses changes made while the mapping is created).
    - ``batch_size``: $BATCH_SIZE_RANGE_MIN..$BATCH_SIZE_RANGE_MAX. Default: $DEFAULT_BATCH_SIZE.
    - ``max_batching_window``: at most $MAX_BATCHING_WINDOW_SECONDS seconds. Default: - none.
    - ``retry_attempts``: $RETRY_ATTEMPTS_RANGE_MIN..$RETRY_ATTEMPTS_RANGE_MAX, never -1 (infinite).
      Default: $DEFAULT_RETRY_ATTEMPTS.
    - ``max_record_age``: $RECORD_AGE_SECONDS_RANGE_MIN..$RECORD_AGE_SECONDS_RANGE_MAX seconds, never -1.
      Default: $DEFAULT_MAX_RECORD_AGE_HOURS hours, which leaves most of the stream's 24-hour retention to redrive.
    - ``bisect_batch_on_error``: Default: True.
    - ``report_batch_item_failures``: Default: True (the stream runtime returns partial batch responses).
    - ``parallelization_factor``: $PARALLELIZATION_FACTOR_RANGE_MIN..$PARALLELIZATION_FACTOR_RANGE_MAX.
      Default: 1.
    - ``tumbling_window``: at most $MAX_TUMBLING_WINDOW_SECONDS seconds. Default: - none.
    - ``filters``: at most $MAX_FILTERS ``StreamFilter``s (or raw patterns, checked the same way), ORed.
      Default: - every record.
    - ``filter_encryption``: a KMS key for the filter criteria. Default: - AWS-owned key.
    - ``enabled``: Default: True.
    - ``metrics_config``: Default: - no event source mapping metrics.

    Failure handling: ``on_failure``: an ``IQueue``, ``ITopic`` or ``IBucket`` (S3 keeps the failed records
    themselves, SQS and SNS only their stream coordinates), an ``IEventSourceDlq``, or ``OnFailure.DISCARD``.
    Default: - a new SQS queue, encrypted, TLS-only, keeping messages $ON_FAILURE_QUEUE_RETENTION_DAYS days.

    Alarms on iterator age, function errors and the on-failure queue's depth:
    ``alarm_topic`` (Default: - alarms notify no one), ``iterator_age_alarm_threshold``
    (Default: $DEFAULT_ITERATOR_AGE_ALARM_MINUTES minutes).
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
    alarm_topic: sns.ITopic
    iterator_age_alarm_threshold: Duration


_FUNCTION_CREATION_OPTIONS = ("memory_size", "timeout", "environment", "architecture", "log_retention", "layers")
# Immutable values, made once per process: each jsii call is a round trip to Node.js.
_ALARM_PERIOD = Duration.minutes(DEFAULT_ALARM_EVALUATION_MINUTES)
_DEFAULT_TIMEOUT = Duration.seconds(DEFAULT_TIMEOUT_SECONDS)
_DEFAULT_MAX_RECORD_AGE = Duration.hours(DEFAULT_MAX_RECORD_AGE_HOURS)
_ON_FAILURE_QUEUE_RETENTION = Duration.days(ON_FAILURE_QUEUE_RETENTION_DAYS)
_LAMBDA_PRINCIPAL = iam.ServicePrincipal("lambda.amazonaws.com")
_DYNAMODB_EXECUTION_MANAGED_POLICY = iam.ManagedPolicy.from_aws_managed_policy_name(DYNAMODB_EXECUTION_POLICY)
# Each read of a construct's property is a round trip to jsii's Node.js process: what Python already knows about
# the tables and triggers of this app is kept here instead of read back.
# Readers per table, to refuse a third before AWS throttles it at run time.
_readers: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()
# The stream view types of the tables StreamTriggeredTable created.
_stream_view_types: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


class StreamTrigger(Construct):
    """Attaches a function to a table's stream: event source mapping, on-failure destination, IAM and alarms.

    Every higher construct of the library is built on it. See ``StreamTriggerOptions`` for the options and their
    defaults. Attributes: ``table``, ``function``, ``event_source_mapping``, ``dead_letter_queue`` (None when
    another destination, or none, was chosen), ``filters``, ``alarms`` and one attribute per alarm.
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
        if stream_arn is None or (view_type is None and _table_properties(table) is not None):
            raise ValueError(
                f"table {table.node.path} has no stream. Enable one (Table: stream=StreamViewType.NEW_AND_OLD_IMAGES; "
                "TableV2: dynamo_stream=StreamViewType.NEW_AND_OLD_IMAGES), or import the table with "
                "Table.from_table_attributes(..., table_stream_arn=...)"
            )
        self.table = table
        _register_reader(table, self, path)

        self.function_role: iam.Role | None = None
        self.log_group: logs.LogGroup | None = None
        self.function = options.get("function") or self._create_function(options)
        role = self.function_role or self.function.role
        least_privilege = options.get("least_privilege", False)
        self._grant_stream_read(role, least_privilege)

        on_failure = options.get("on_failure")
        self.dead_letter_queue: sqs.IQueue | None = None
        if on_failure is None:
            self.dead_letter_queue = self._create_dead_letter_queue()
            destination: lambda_.IEventSourceDlq | None = event_sources.SqsDlq(self.dead_letter_queue)
        else:
            if isinstance(on_failure, OnFailure):
                Annotations.of(self).add_info(
                    "on_failure=OnFailure.DISCARD: records that exhaust their retries or age out are dropped"
                )
            elif _is_queue(on_failure):
                self.dead_letter_queue = on_failure  # type: ignore[assignment]
            destination = _destination(on_failure)

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
            metrics_config=options.get("metrics_config"),
            on_failure=destination,
            support_s3_on_failure_destination=on_failure is not None and _is_bucket(on_failure),
        )
        if not options.get("report_batch_item_failures", True):
            Annotations.of(self).add_warning_v2(
                "dynamodb-stream-constructs:noPartialBatchResponse",
                "report_batch_item_failures=False: Lambda ignores a returned batchItemFailures list and counts "
                "those failures as successes",
            )
        self._create_alarms(options, path)
        self._acknowledge_findings(role is not None, least_privilege, on_failure)

    # Function and IAM

    def _create_function(self, options: StreamTriggerOptions) -> lambda_.Function:
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
        return lambda_.Function(
            self,
            "Function",
            runtime=DEFAULT_RUNTIME,
            code=options["code"],
            handler=options["handler"],
            role=self.function_role,
            memory_size=options.get("memory_size", DEFAULT_MEMORY_MB),
            timeout=options.get("timeout", _DEFAULT_TIMEOUT),
            environment=dict(options.get("environment") or {}),
            architecture=options.get("architecture"),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            layers=[StreamRuntimeLayer.of(self), *(options.get("layers") or ())],
        )

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

    def _create_dead_letter_queue(self) -> sqs.Queue:
        return sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=_ON_FAILURE_QUEUE_RETENTION,
        )

    # Alarms

    def _create_alarms(self, options: StreamTriggerOptions, path: str) -> None:
        period = _ALARM_PERIOD
        threshold = options.get("iterator_age_alarm_threshold")
        threshold_ms: float
        if threshold is None:
            threshold_ms, threshold_text = (
                DEFAULT_ITERATOR_AGE_ALARM_MINUTES * 60_000,
                f"{DEFAULT_ITERATOR_AGE_ALARM_MINUTES} minutes",
            )
        else:
            threshold_ms, threshold_text = threshold.to_milliseconds(), threshold.to_human_string()
        self.iterator_age_alarm = self.function.metric("IteratorAge", statistic="Maximum", period=period).create_alarm(
            self,
            "IteratorAgeAlarm",
            threshold=threshold_ms,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{path}: the stream consumer is more than {threshold_text} behind the newest record",
        )
        self.errors_alarm = self.function.metric_errors(statistic="Sum", period=period).create_alarm(
            self,
            "ErrorsAlarm",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{path}: the stream function failed whole invocations",
        )
        self.dead_letter_queue_alarm: cloudwatch.Alarm | None = None
        if self.dead_letter_queue is not None:
            self.dead_letter_queue_alarm = self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                statistic="Maximum", period=period
            ).create_alarm(
                self,
                "DeadLetterQueueAlarm",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{path}: stream batches failed for good; their sequence ranges are "
                "in the on-failure queue",
            )
        self.alarms: tuple[cloudwatch.Alarm, ...] = tuple(
            alarm for alarm in (self.iterator_age_alarm, self.errors_alarm, self.dead_letter_queue_alarm) if alarm
        )
        topic = options.get("alarm_topic")
        if topic is not None:
            action = cloudwatch_actions.SnsAction(topic)
            for alarm in self.alarms:
                alarm.add_alarm_action(action)

    # cdk-nag

    def _acknowledge_findings(
        self, has_role: bool, least_privilege: bool, on_failure: FailureDestination | None
    ) -> None:
        acknowledgments = []
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
        if on_failure is None:  # The construct created the queue.
            acknowledgments.append(
                Acknowledgment(
                    id="AwsSolutions-SQS3",
                    reason="This queue is the on-failure destination (a dead-letter queue itself); it holds the "
                    "stream coordinates of failed batches for redrive",
                )
            )
        if _is_bucket(on_failure):
            acknowledgments.extend(
                Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason="Lambda writes failed batches to S3 as new "
                               "objects under a generated key, so the grant covers the bucket's objects")
                for finding in ("Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*",
                                "Action::s3:GetObject*", "Action::s3:List*", "Resource::<BucketArn>/*")
            )  # fmt: skip
        if acknowledgments:
            Validations.of(self).acknowledge(*acknowledgments)


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


def _table_properties(table: dynamodb.ITable) -> dict[str, Any] | None:
    """The CloudFormation properties of a table defined in this app (Table or TableV2); None for an imported one."""
    resource = table.node.default_child
    if not isinstance(resource, dynamodb.CfnTable | dynamodb.CfnGlobalTable):
        return None
    # The L1s' typed getters cannot read back TableV2's lazy values; the resolved properties can.
    properties: dict[str, Any] = Stack.of(table).resolve(resource._cfn_properties)
    return properties


def key_attributes_of(table: dynamodb.ITable) -> list[str] | None:
    """The table's key attribute names, partition key first, when the table is defined in this app."""
    properties = _table_properties(table)
    if properties is None:
        return None
    schema = sorted(properties.get("keySchema") or [], key=lambda key: key.get("keyType") != "HASH")
    return [key["attributeName"] for key in schema]


def remember_stream_view_type(table: dynamodb.ITable, view_type: dynamodb.StreamViewType) -> None:
    """Record the view type of a table the library creates, so triggers need not read it back."""
    _stream_view_types[table] = view_type.value


def stream_view_type_of(table: dynamodb.ITable) -> str | None:
    """The view type of the table's stream, when the table is defined in this app and has one."""
    if table in _stream_view_types:
        return _stream_view_types[table]
    properties = _table_properties(table)
    view_type = ((properties or {}).get("streamSpecification") or {}).get("streamViewType")
    return view_type if isinstance(view_type, str) else None


def _register_reader(table: dynamodb.ITable, trigger: StreamTrigger, path: str) -> None:
    readers = _readers.setdefault(table, [])
    readers.append(path)
    if len(readers) > MAX_READERS_PER_GLOBAL_TABLE_STREAM:
        _ReaderLimit(table, readers).check(raise_error=True)
    if isinstance(table, dynamodb.TableV2):
        # TableV2.add_replica after this trigger can make the table global: check again at synthesis.
        trigger.node.add_validation(_ReaderLimit(table, readers))


@jsii.implements(IValidation)
class _ReaderLimit:
    def __init__(self, table: dynamodb.ITable, readers: list[str]) -> None:
        self._table = table
        self._readers = readers

    def validate(self) -> list[str]:
        return self.check(raise_error=False)

    def check(self, *, raise_error: bool) -> list[str]:
        is_global = _is_global_table(self._table)
        limit = MAX_READERS_PER_GLOBAL_TABLE_STREAM if is_global else MAX_READERS_PER_STREAM
        if len(self._readers) <= limit:
            return []
        message = (
            f"the stream of table {self._table.node.path} would have {len(self._readers)} readers "
            f"({', '.join(self._readers)}); DynamoDB allows at most {limit} per shard"
            f"{' on a global table' if is_global else ''} before it throttles them. Fan out from one reader "
            "instead (e.g. EventBridge Pipes or an SNS topic)"
        )
        if raise_error:
            raise ValueError(message)
        return [message]


def _is_global_table(table: dynamodb.ITable) -> bool:
    if isinstance(table.node.default_child, dynamodb.CfnGlobalTable):
        replicas = (_table_properties(table) or {}).get("replicas") or []
        return len(replicas) > 1
    # Table's replication_regions creates one custom resource per replica region.
    return any(child.node.id.startswith("Replica") for child in table.node.children)


def _is_queue(value: object) -> bool:
    return hasattr(value, "queue_arn")


def _is_bucket(value: object) -> bool:
    return hasattr(value, "bucket_arn")


def _destination(on_failure: FailureDestination | None) -> lambda_.IEventSourceDlq | None:
    if on_failure is None or isinstance(on_failure, OnFailure):
        return None
    if _is_queue(on_failure):
        return event_sources.SqsDlq(on_failure)  # type: ignore[arg-type]
    if hasattr(on_failure, "topic_arn"):
        return event_sources.SnsDlq(on_failure)  # type: ignore[arg-type]
    if _is_bucket(on_failure):
        return event_sources.S3OnFailureDestination(on_failure)  # type: ignore[arg-type]
    return on_failure  # type: ignore[return-value]
