"""TtlArchiver: the items DynamoDB's time to live deletes, archived to S3 by expiry day, on their way to Glacier."""

from __future__ import annotations

from typing import Any, ClassVar, Unpack

from aws_cdk import Acknowledgment, Annotations, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambda_src.contract import (
    DEFAULT_ARCHIVER_BATCH_SIZE,
    DEFAULT_ARCHIVER_BATCHING_WINDOW_SECONDS,
    DEFAULT_ARCHIVER_PREFIX,
    ArchiverEnv,
)
from lambda_src.stream_runtime.metrics import METRICS_NAMESPACE
from lambda_src.ttl_archiver.app import ARCHIVED_TTL_DELETES_METRIC

from .failure_destinations import QUARANTINE_KEY_PREFIX
from .limits import DEFAULT_ARCHIVE_TRANSITION_DAYS, documented
from .stream_filter import StreamFilter
from .stream_pipeline import StreamPipeline
from .stream_trigger import StreamTriggerOptions
from .stream_triggered_table import StreamTriggeredTable
from .table_facts import nag_resource_name, table_properties

__all__ = ["TtlArchiver"]

# The archive's own objects beside the ones failures leave in the same bucket.
_RESERVED_PREFIXES = ("aws/", QUARANTINE_KEY_PREFIX)
_NONCURRENT_VERSION_DAYS = 30
_GAP_PERIOD = Duration.hours(1)
_GLACIER_CLASSES = (s3.StorageClass.GLACIER.value, s3.StorageClass.DEEP_ARCHIVE.value)
_LOG_BUCKET_ACKNOWLEDGMENT = Acknowledgment(
    id="AwsSolutions-S1", reason="This is the archive bucket's server access log bucket: it cannot log to itself"
)


@documented
class TtlArchiver(StreamPipeline):
    """Writes the items that ``table``'s time to live deletes to S3 as gzip-compressed JSON Lines, numbers kept
    exact (DynamoDB JSON, as DynamoDB's own export writes it), under Hive-style keys
    ``<prefix>expiry_date=YYYY-MM-DD/<table>-<sequence number>.jsonl.gz``, one object per expiry day and batch. The
    mapping gathers large batches, so objects are large enough for lifecycle transitions; a lifecycle rule moves them
    to ``storage_class`` after ``transition_after``. A batch is archived whole or retried whole; what the mapping gives
    up on goes to the on-failure destination, by default the archive bucket itself (under ``aws/lambda/``, with the
    records). An alarm sets the table's TimeToLiveDeletedItemCount against the items archived, hour by hour.

    - ``table``: an ``ITable`` with an OLD_IMAGE or NEW_AND_OLD_IMAGES stream, or a ``StreamTriggeredTable``.
    - ``ttl_attribute``: the table's TTL attribute, whose day partitions the archive. Default: - the table's
      TimeToLiveSpecification, when the table is defined in this app (else required).
    - ``bucket``: where the archive goes. Default: - a new bucket: S3-managed encryption, TLS only, versioned, public
      access blocked, access-logged to a bucket of its own, retained on deletion. A bucket of this app is checked for
      the same, and each thing missing is a synth warning.
    - ``prefix``: put before every key; ends with "/". Default: "$DEFAULT_ARCHIVER_PREFIX".
    - ``include_caller_deletes``: archive deletes by callers too (an audit trail), each line marked ``"deletedBy":
      "caller"`` beside ``"ttl"``. Default: False.
    - ``storage_class``: where objects under ``prefix`` move (``s3.StorageClass.GLACIER_INSTANT_RETRIEVAL``,
      ``GLACIER`` for Flexible Retrieval, ``DEEP_ARCHIVE``). Default: - Glacier Instant Retrieval (read at once, as
      ``restore`` does; the other two need an S3 restore first). For ``GLACIER`` and ``DEEP_ARCHIVE`` the rule also
      moves objects under 128 KB, which S3 otherwise leaves behind.
    - ``transition_after``: the objects' age at the move. Default: $DEFAULT_ARCHIVE_TRANSITION_DAYS days.
    - ``batch_size``: Default: $DEFAULT_ARCHIVER_BATCH_SIZE (Lambda's 6 MB payload ends a batch first).
    - ``max_batching_window``: Default: $DEFAULT_ARCHIVER_BATCHING_WINDOW_SECONDS seconds.
    - ``on_failure``: Default: - the archive bucket.
    - Every other ``StreamTriggerOptions`` option but ``function``, ``code``, ``handler`` and ``filters``, as
      ``StreamPipeline`` takes them.

    Attributes: those of ``StreamPipeline``, ``bucket`` (created or given), ``access_log_bucket`` (None for a given
    bucket), ``ttl_attribute``, ``prefix`` and ``archive_gap_alarm``.
    """

    HANDLER: ClassVar[str] = "lambda_src.ttl_archiver.app.handler"
    STREAM_VIEW_TYPES = (dynamodb.StreamViewType.OLD_IMAGE, dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
    STREAM_VIEW_REASON = "the archive keeps each deleted item's old image"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        table: dynamodb.ITable | StreamTriggeredTable,
        ttl_attribute: str | None = None,
        bucket: s3.IBucket | None = None,
        prefix: str | None = None,
        include_caller_deletes: bool | None = None,
        storage_class: s3.StorageClass | None = None,
        transition_after: Duration | None = None,
        **options: Unpack[StreamTriggerOptions],
    ) -> None:
        options.setdefault("batch_size", DEFAULT_ARCHIVER_BATCH_SIZE)
        options.setdefault("max_batching_window", Duration.seconds(DEFAULT_ARCHIVER_BATCHING_WINDOW_SECONDS))
        super().__init__(scope, id, table=table, **options)
        self.prefix = DEFAULT_ARCHIVER_PREFIX if prefix is None else prefix
        declared = _declared_ttl_attribute(self.table)
        problems = []
        if ttl_attribute is None and declared is None:
            problems.append(
                f"ttl_attribute is required: table {self.table.node.path} has no TimeToLiveSpecification this app "
                "can read"
            )
        elif ttl_attribute is not None and declared is not None and ttl_attribute != declared:
            problems.append(
                f"ttl_attribute is {ttl_attribute!r}, but table {self.table.node.path}'s TTL is {declared!r}"
            )
        if not self.prefix.endswith("/") or self.prefix.startswith(_RESERVED_PREFIXES):
            problems.append(
                f"prefix must end with '/' and not start with {' or '.join(_RESERVED_PREFIXES)} (failed records go "
                f"there), got {self.prefix!r}"
            )
        after = Duration.days(DEFAULT_ARCHIVE_TRANSITION_DAYS) if transition_after is None else transition_after
        days = after.to_days(integral=False)
        if not Token.is_unresolved(days) and days != int(days):
            problems.append(f"transition_after must be whole days (lifecycle rules count days), got {days:g}")
        self.refuse(problems)
        self.ttl_attribute: str = ttl_attribute or declared or ""
        storage = storage_class or s3.StorageClass.GLACIER_INSTANT_RETRIEVAL
        self.access_log_bucket: s3.Bucket | None = None
        if bucket is None:
            self.bucket: s3.IBucket = self._new_bucket(storage, after)
        else:
            self.bucket = bucket
            self._check_bucket(bucket, storage, after)
        self.attach_handler(
            environment={
                ArchiverEnv.BUCKET: self.bucket.bucket_name,
                ArchiverEnv.PREFIX: self.prefix,
                ArchiverEnv.TTL_ATTRIBUTE: self.ttl_attribute,
            },
            filters=[StreamFilter.removes() if include_caller_deletes else StreamFilter.ttl_deletes()],
            option_defaults={"on_failure": self.bucket},
        )
        # Put, and delete: a batch that fails halfway takes back the objects it wrote.
        self.bucket.grant_put(self.function, f"{self.prefix}*")
        self.bucket.grant_delete(self.function, f"{self.prefix}*")
        bucket_arn = nag_resource_name(Stack.of(self).resolve(self.bucket.bucket_arn))
        Validations.of(self).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{bucket_arn}/{self.prefix}*]",
                reason="The archive's objects, one per expiry day and batch under generated keys below the prefix",
            )
        )
        self.archive_gap_alarm = self._gap_alarm(options)

    @property
    def alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        return (*self.trigger.alarms, self.archive_gap_alarm)

    def _new_bucket(self, storage: s3.StorageClass, after: Duration) -> s3.Bucket:
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(self.access_log_bucket).acknowledge(_LOG_BUCKET_ACKNOWLEDGMENT)
        small_objects_move = storage.value in _GLACIER_CLASSES
        return s3.Bucket(
            self,
            "Archive",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="archive-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
            # Objects under 128 KB stay where they are unless the rule says otherwise; Flexible Retrieval and Deep
            # Archive take them: https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
            transition_default_minimum_object_size=(
                s3.TransitionDefaultMinimumObjectSize.VARIES_BY_STORAGE_CLASS if small_objects_move else None
            ),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ArchiveToGlacier",
                    prefix=self.prefix,
                    transitions=[s3.Transition(storage_class=storage, transition_after=after)],
                    # A retried batch writes its object again: the version it replaces holds the same items.
                    noncurrent_version_expiration=Duration.days(_NONCURRENT_VERSION_DAYS),
                )
            ],
        )

    def _check_bucket(self, bucket: s3.IBucket, storage: s3.StorageClass, after: Duration) -> None:
        """Warn of what a given bucket lacks that the archive's own bucket would have."""
        resource = bucket.node.default_child
        if not isinstance(resource, s3.CfnBucket):
            Annotations.of(self).add_warning_v2(
                "TtlArchiver:ImportedBucket",
                "bucket is imported: make sure it is encrypted, TLS only, versioned, access-logged and has a lifecycle "
                "rule for the archive prefix",
            )
            return
        properties: dict[str, Any] = Stack.of(bucket).resolve(resource._cfn_properties)
        missing = []
        if (properties.get("versioningConfiguration") or {}).get("status") != "Enabled":
            missing.append("versioning")
        if not properties.get("loggingConfiguration"):
            missing.append("server access logs")
        if not _blocks_public_access(properties.get("publicAccessBlockConfiguration") or {}):
            missing.append("a block of all public access")
        policy = getattr(bucket, "policy", None)
        if policy is None or "aws:SecureTransport" not in str(Stack.of(bucket).resolve(policy.document.to_json())):
            missing.append("a TLS-only bucket policy (enforce_ssl=True)")
        if not (properties.get("lifecycleConfiguration") or {}).get("rules"):
            missing.append(f"a lifecycle rule moving {self.prefix} to {storage.value} after {after.to_days()} days")
        if missing:
            Annotations.of(self).add_warning_v2(
                "TtlArchiver:BucketChecks", f"bucket {bucket.node.path} has no {', no '.join(missing)}"
            )

    def _gap_alarm(self, options: StreamTriggerOptions) -> cloudwatch.Alarm:
        deleted = self.table.metric("TimeToLiveDeletedItemCount", statistic="Sum", period=_GAP_PERIOD)
        archived = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=ARCHIVED_TTL_DELETES_METRIC,
            dimensions_map={"FunctionName": self.function.function_name},
            statistic="Sum",
            period=_GAP_PERIOD,
        )
        gap = cloudwatch.MathExpression(
            expression="FILL(deleted, 0) - FILL(archived, 0)",
            using_metrics={"deleted": deleted, "archived": archived},
            label="TTL deletes not archived",
            period=_GAP_PERIOD,
        )
        alarm = gap.create_alarm(
            self,
            "ArchiveGapAlarm",
            alarm_description=(
                f"{self.node.path}: TTL deleted more items than were archived, two hours running (the archive counts "
                "each item in the hour it was deleted)"
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        topic = options.get("alarm_topic")
        if topic is not None:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        return alarm


def _declared_ttl_attribute(table: dynamodb.ITable) -> str | None:
    specification = (table_properties(table) or {}).get("timeToLiveSpecification") or {}
    name = specification.get("attributeName")
    return name if specification.get("enabled") and isinstance(name, str) else None


def _blocks_public_access(configuration: dict[str, Any]) -> bool:
    return all(configuration.get(name) for name in
               ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))  # fmt: skip
