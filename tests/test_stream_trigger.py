"""StreamTrigger and StreamTriggeredTable: every option reaches the template, every bad argument is refused."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pytest
from aws_cdk import CfnParameter, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint
from conftest import function_properties, handler_code, new_app, new_stack

import constructs_pkg
from constructs_pkg import DEFAULT_RUNTIME, OnFailure, StreamFilter, StreamTrigger, StreamTriggeredTable

ESM = "AWS::Lambda::EventSourceMapping"
PK = dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING)
SK = dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING)


def table_with_trigger(**options: Any) -> tuple[StreamTriggeredTable, Template]:
    stack = new_stack()
    options.setdefault("partition_key", PK)
    if "function" not in options:
        options.setdefault("code", handler_code())
        options.setdefault("handler", "app.handler")
    construct = StreamTriggeredTable(stack, "Orders", **options)
    return construct, Template.from_stack(stack)


def esm_properties(**options: Any) -> dict[str, Any]:
    _, template = table_with_trigger(**options)
    (mapping,) = template.find_resources(ESM).values()
    return mapping["Properties"]


# Defaults


def test_defaults_are_the_safe_ones() -> None:
    orders, template = table_with_trigger(sort_key=SK)
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        },
    )
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    template.has_resource_properties(
        ESM,
        {
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 100,
            "MaximumRetryAttempts": 10,
            "MaximumRecordAgeInSeconds": 6 * 3600,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("OrdersTable"), "StreamArn"]},
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": [Match.string_like_regexp("DeadLetterQueue"), "Arn"]}}
            },
        },
    )
    template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 24 * 3600}
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
                ]
            }
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Handler": "app.handler",
            "MemorySize": 256,
            "Timeout": 60,
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("FunctionLogs")}},
            "Layers": [{"Ref": Match.string_like_regexp("DynamoStreamRuntimeLayer")}],
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "ManagedPolicyArns": [
                {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, Match.string_like_regexp(
                    ":iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole")]]}
            ]
        },
    )  # fmt: skip
    template.has_resource_properties(ESM, {"MetricsConfig": {"Metrics": ["EventCount"]}})
    # Final failures are quarantined to the on-failure queue, which the function may send to.
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "STREAM_RUNTIME_QUARANTINE": "sqs",
                    "STREAM_RUNTIME_QUARANTINE_TARGET": {"Ref": Match.string_like_regexp("DeadLetterQueue")},
                }
            }
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": Match.array_with(["sqs:SendMessage"]), "Effect": "Allow"})]
                )
            }
        },
    )
    template.resource_count_is("AWS::CloudWatch::Alarm", 6)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 0)
    assert orders.dead_letter_queue is orders.trigger.dead_letter_queue is not None
    assert orders.function is orders.trigger.function
    assert orders.trigger.quarantines
    assert len(orders.trigger.alarms) == 6


def test_the_mapping_waits_for_the_roles_grants() -> None:
    # The mapping checks at creation that the role can read the stream; it references the function, which
    # depends on its role and the role's policy.
    _, template = table_with_trigger(least_privilege=True)
    (mapping,) = template.find_resources(ESM).values()
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    assert mapping["Properties"]["FunctionName"]["Ref"].startswith("OrdersTriggerFunction")
    assert any("DefaultPolicy" in dependency for dependency in function["DependsOn"])


def test_default_runtime_is_the_latest_python_in_aws_cdk_lib() -> None:
    def version(runtime: lambda_.Runtime) -> tuple[int, ...]:
        return tuple(int(part) for part in runtime.name.removeprefix("python").split("."))

    pythons = [runtime for runtime in lambda_.Runtime.ALL if runtime.family == lambda_.RuntimeFamily.PYTHON]
    assert version(DEFAULT_RUNTIME) == max(version(runtime) for runtime in pythons)


def test_docstrings_carry_the_defaults_they_document() -> None:
    for name in constructs_pkg.__all__:
        doc = inspect.getdoc(getattr(constructs_pkg, name)) or ""
        assert not re.search(r"\$[A-Z_]", doc), f"{name} has an unresolved placeholder"
    assert "Default: 100" in (constructs_pkg.StreamTriggerOptions.__doc__ or "")


# Table options


@pytest.mark.parametrize("view_type", list(dynamodb.StreamViewType))
def test_every_stream_view_type(view_type: dynamodb.StreamViewType) -> None:
    _, template = table_with_trigger(stream=view_type)
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"StreamSpecification": {"StreamViewType": view_type.value}}
    )


def test_table_options_pass_through() -> None:
    key = kms.Key(new_stack(), "Key")
    stack = key.stack
    StreamTriggeredTable(
        stack,
        "Orders",
        partition_key=PK,
        table_name="orders",
        billing_mode=dynamodb.BillingMode.PROVISIONED,
        read_capacity=5,
        write_capacity=7,
        time_to_live_attribute="expiresAt",
        removal_policy=RemovalPolicy.DESTROY,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery=False,
        deletion_protection=True,
        table_class=dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
        code=handler_code(),
        handler="app.handler",
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "orders",
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": False},
            "DeletionProtectionEnabled": True,
            "TableClass": "STANDARD_INFREQUENT_ACCESS",
        },
    )
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Delete"})


def test_existing_tablev2_is_used_as_is() -> None:
    stack = new_stack()
    table = dynamodb.TableV2(stack, "App", partition_key=PK, dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE)
    orders = StreamTriggeredTable(stack, "Orders", table=table, code=handler_code(), handler="app.handler")
    template = Template.from_stack(stack)
    assert orders.table is table
    template.resource_count_is("AWS::DynamoDB::GlobalTable", 1)
    template.resource_count_is("AWS::DynamoDB::Table", 0)
    template.has_resource_properties(
        ESM, {"EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("App"), "StreamArn"]}}
    )


def test_imported_table_with_stream_arn() -> None:
    stack = new_stack()
    stream_arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/Orders/stream/2026-01-01T00:00:00.000"
    table = dynamodb.Table.from_table_attributes(stack, "Imported", table_name="Orders", table_stream_arn=stream_arn)
    StreamTrigger(stack, "Trigger", table=table, code=handler_code(), handler="app.handler")
    Template.from_stack(stack).has_resource_properties(ESM, {"EventSourceArn": stream_arn})


def test_existing_table_without_stream_is_refused_with_the_fix() -> None:
    stack = new_stack()
    table = dynamodb.Table.from_table_name(stack, "Imported", "Orders")
    with pytest.raises(ValueError, match=r"table Test/Imported has no stream\. Enable one .*table_stream_arn"):
        StreamTrigger(stack, "Trigger", table=table, code=handler_code(), handler="app.handler")
    with pytest.raises(ValueError, match=r"has no stream"):
        StreamTrigger(
            stack,
            "Other",
            table=dynamodb.TableV2(stack, "NoStream", partition_key=PK),
            code=handler_code(),
            handler="app.handler",
        )


def test_table_and_new_table_options_together_are_refused() -> None:
    stack = new_stack()
    table = dynamodb.TableV2(stack, "App", partition_key=PK, dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE)
    with pytest.raises(ValueError, match=r"give either table= .* not both; got table= and partition_key, stream"):
        StreamTriggeredTable(
            stack,
            "Orders",
            table=table,
            partition_key=PK,
            stream=dynamodb.StreamViewType.KEYS_ONLY,
            code=handler_code(),
            handler="app.handler",
        )


def test_new_table_needs_a_partition_key() -> None:
    with pytest.raises(ValueError, match=r"give partition_key= for a new table, or table= for an existing one"):
        StreamTriggeredTable(new_stack(), "Orders", code=handler_code(), handler="app.handler")


# Trigger options


def test_every_event_source_option_reaches_the_mapping() -> None:
    stack = new_stack()
    key = kms.Key(stack, "FilterKey")
    StreamTriggeredTable(
        stack,
        "Orders",
        partition_key=PK,
        code=handler_code(),
        handler="app.handler",
        starting_position=lambda_.StartingPosition.LATEST,
        batch_size=500,
        max_batching_window=Duration.seconds(30),
        retry_attempts=3,
        max_record_age=Duration.hours(1),
        bisect_batch_on_error=False,
        parallelization_factor=4,
        tumbling_window=Duration.seconds(120),
        filters=[StreamFilter.inserts(), {"eventName": ["REMOVE"]}],
        filter_encryption=key,
        enabled=False,
        metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
    )
    Template.from_stack(stack).has_resource_properties(
        ESM,
        {
            "StartingPosition": "LATEST",
            "BatchSize": 500,
            "MaximumBatchingWindowInSeconds": 30,
            "MaximumRetryAttempts": 3,
            "MaximumRecordAgeInSeconds": 3600,
            "BisectBatchOnFunctionError": False,
            "ParallelizationFactor": 4,
            "TumblingWindowInSeconds": 120,
            "FilterCriteria": {
                "Filters": [{"Pattern": '{"eventName":["INSERT"]}'}, {"Pattern": '{"eventName":["REMOVE"]}'}]
            },
            "KmsKeyArn": {"Fn::GetAtt": [Match.string_like_regexp("FilterKey"), "Arn"]},
            "Enabled": False,
            "MetricsConfig": {"Metrics": ["EventCount"]},
        },
    )


def test_filter_criteria_output_is_accepted() -> None:
    properties = esm_properties(
        filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})]
    )
    assert properties["FilterCriteria"] == {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]}


def test_partial_batch_responses_off_warns() -> None:
    orders, template = table_with_trigger(report_batch_item_failures=False)
    assert (
        "FunctionResponseTypes"
        not in template.find_resources(ESM)[next(iter(template.find_resources(ESM)))]["Properties"]
    )
    Annotations.from_stack(orders.node.scope).has_warning(  # type: ignore[arg-type]
        "*", Match.string_like_regexp("Lambda ignores a returned batchItemFailures list")
    )


def test_function_creation_options() -> None:
    _, template = table_with_trigger(
        memory_size=1024,
        timeout=Duration.minutes(5),
        environment={"STAGE": "test"},
        architecture=lambda_.Architecture.ARM_64,
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": 1024,
            "Timeout": 300,
            "Environment": {"Variables": {"STAGE": "test"}},
            "Architectures": ["arm64"],
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})


# On-failure destinations


def test_own_queue_is_used_and_no_queue_is_created() -> None:
    stack = new_stack()
    queue = sqs.Queue(stack, "Mine", enforce_ssl=True)
    orders = StreamTriggeredTable(
        stack, "Orders", partition_key=PK, code=handler_code(), handler="app.handler", on_failure=queue
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 1)
    template.has_resource_properties(
        ESM,
        {
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": [Match.string_like_regexp("Mine"), "Arn"]}}
            }
        },
    )
    assert orders.dead_letter_queue is queue
    assert orders.trigger.dead_letter_queue_alarm is not None


@pytest.mark.parametrize("kind", ["topic", "bucket", "event_source_dlq"])
def test_other_destinations_create_no_queue(kind: str) -> None:
    stack = new_stack()
    destination: Any = {
        "topic": lambda: sns.Topic(stack, "Failures"),
        "bucket": lambda: s3.Bucket(stack, "Failures"),
        "event_source_dlq": lambda: event_sources.SnsDlq(sns.Topic(stack, "Failures")),
    }[kind]()
    orders = StreamTriggeredTable(
        stack, "Orders", partition_key=PK, code=handler_code(), handler="app.handler", on_failure=destination
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 0)
    assert orders.dead_letter_queue is None
    # Iterator age, errors, dropped and on-failure records, and the quarantine where the runtime can send.
    assert len(orders.trigger.alarms) == (4 if kind == "event_source_dlq" else 5)
    assert orders.trigger.quarantines is (kind != "event_source_dlq")
    arn = "Arn" if kind == "bucket" else None
    expected = (
        {"Fn::GetAtt": [Match.string_like_regexp("Failures"), arn]}
        if arn
        else {"Ref": Match.string_like_regexp("Failures")}
    )
    template.has_resource_properties(ESM, {"DestinationConfig": {"OnFailure": {"Destination": expected}}})


def test_discard_is_an_explicit_opt_out() -> None:
    orders, template = table_with_trigger(on_failure=OnFailure.DISCARD)
    template.resource_count_is("AWS::SQS::Queue", 0)
    assert "DestinationConfig" not in next(iter(template.find_resources(ESM).values()))["Properties"]
    assert orders.dead_letter_queue is None


# IAM


def test_least_privilege_grants_scoped_stream_reads_and_no_managed_policy() -> None:
    _, template = table_with_trigger(least_privilege=True)
    roles = template.find_resources("AWS::IAM::Role")
    assert all("ManagedPolicyArns" not in role["Properties"] for role in roles.values())
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Action": "dynamodb:ListStreams", "Resource": "*"}),
                        Match.object_like(
                            {
                                "Action": [
                                    "dynamodb:DescribeStream",
                                    "dynamodb:GetRecords",
                                    "dynamodb:GetShardIterator",
                                ],
                                "Resource": {"Fn::GetAtt": [Match.string_like_regexp("OrdersTable"), "StreamArn"]},
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_least_privilege_scopes_log_writes_to_the_functions_log_group() -> None:
    _, template = table_with_trigger(least_privilege=True)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": {"Fn::GetAtt": [Match.string_like_regexp("FunctionLogs"), "Arn"]},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_a_given_function_gets_the_managed_policy() -> None:
    stack = new_stack()
    function = lambda_.Function(stack, "Mine", runtime=DEFAULT_RUNTIME, code=handler_code(), handler="app.handler")
    orders = StreamTriggeredTable(stack, "Orders", partition_key=PK, function=function)
    assert orders.function is function
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Role",
        {"ManagedPolicyArns": Match.array_with([{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
         ":iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"]]}])},
    )  # fmt: skip


# Readers per stream


def test_a_third_reader_is_refused_naming_the_table() -> None:
    orders, _ = table_with_trigger()
    orders.add_trigger("Audit", code=handler_code(), handler="app.handler")
    with pytest.raises(ValueError, match=r"the stream of table Test/Orders/Table would have 3 readers .* at most 2"):
        orders.add_trigger("Third", code=handler_code(), handler="app.handler")


def test_a_global_table_allows_one_reader() -> None:
    stack = Stack(new_app(), "Test", env=Environment(region="us-east-1"))
    table = dynamodb.TableV2(
        stack,
        "Global",
        partition_key=PK,
        dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        replicas=[dynamodb.ReplicaTableProps(region="eu-west-1")],
    )
    StreamTrigger(stack, "First", table=table, code=handler_code(), handler="app.handler")
    with pytest.raises(ValueError, match=r"table Test/Global would have 2 readers .* at most 1 per shard on a global"):
        StreamTrigger(stack, "Second", table=table, code=handler_code(), handler="app.handler")


def test_a_replica_added_after_the_triggers_fails_synthesis() -> None:
    # GIVEN a single-region TableV2 with two readers, which is allowed
    stack = Stack(new_app(), "Test", env=Environment(region="us-east-1"))
    table = dynamodb.TableV2(stack, "App", partition_key=PK, dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE)
    StreamTrigger(stack, "First", table=table, code=handler_code(), handler="app.handler")
    StreamTrigger(stack, "Second", table=table, code=handler_code(), handler="app.handler")
    # WHEN a replica makes it global THEN synthesis names the table and its readers
    table.add_replica(region="eu-west-1")
    with pytest.raises(RuntimeError, match=r"table Test/App would have 2 readers \(Test/First, Test/Second\)"):
        stack.node.root.synth()  # type: ignore[attr-defined]


# Alarms


def test_alarms_notify_the_topic_and_take_the_threshold() -> None:
    stack = new_stack()
    topic = sns.Topic(stack, "Alarms")
    StreamTriggeredTable(
        stack,
        "Orders",
        partition_key=PK,
        code=handler_code(),
        handler="app.handler",
        alarm_topic=topic,
        iterator_age_alarm_threshold=Duration.minutes(2),
    )
    template = Template.from_stack(stack)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 6
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": Match.string_like_regexp("Alarms")}] or alarm[
            "Properties"
        ]["AlarmActions"][0]["Ref"].startswith("Alarms")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "IteratorAge", "Threshold": 120_000, "Statistic": "Maximum"}
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "Errors", "Threshold": 1})
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1}
    )
    for name in ("DroppedEventCount", "OnFailureDestinationDeliveredEventCount"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/Lambda",
                "MetricName": name,
                "Statistic": "Sum",
                "Threshold": 1,
                "Dimensions": [
                    {"Name": "EventSourceMappingUUID", "Value": {"Ref": Match.string_like_regexp("EventSourceMapping")}}
                ],
            },
        )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "DynamoStreamConstructs",
            "MetricName": "QuarantinedRecords",
            "Dimensions": [
                {"Name": "FunctionName", "Value": {"Ref": Match.string_like_regexp("OrdersTriggerFunction")}}
            ],
        },
    )


@pytest.mark.parametrize(
    ("kind", "mode", "action"),
    [("topic", "sns", "sns:Publish"), ("bucket", "s3", "s3:PutObject"), ("discard", "discard", None)],
)
def test_final_failures_are_quarantined_where_the_mapping_sends_failures(
    kind: str, mode: str, action: str | None
) -> None:
    stack = new_stack()
    destination: Any = {
        "topic": lambda: sns.Topic(stack, "Failures"),
        "bucket": lambda: s3.Bucket(stack, "Failures"),
        "discard": lambda: OnFailure.DISCARD,
    }[kind]()
    StreamTriggeredTable(
        stack, "Orders", partition_key=PK, code=handler_code(), handler="app.handler", on_failure=destination
    )
    template = Template.from_stack(stack)
    variables = function_properties(template)["Environment"]["Variables"]
    assert variables["STREAM_RUNTIME_QUARANTINE"] == mode
    if action is None:
        assert "STREAM_RUNTIME_QUARANTINE_TARGET" not in variables
        return
    assert variables["STREAM_RUNTIME_QUARANTINE_TARGET"]["Ref"].startswith("Failures")
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
               for statement in statements)  # fmt: skip


def test_quarantine_can_be_turned_off_and_is_off_for_a_given_function() -> None:
    stack = new_stack()
    table = dynamodb.Table(stack, "Table", partition_key=PK, stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
    off = StreamTrigger(stack, "Off", table=table, code=handler_code(), handler="app.handler", quarantine=False)
    function = lambda_.Function(stack, "Mine", runtime=DEFAULT_RUNTIME, code=handler_code(), handler="app.handler")
    given = StreamTrigger(stack, "Given", table=table, function=function)

    template = Template.from_stack(stack)
    for trigger in (off, given):
        assert not trigger.quarantines
        assert trigger.quarantined_records_alarm is None
    for properties in template.find_resources("AWS::Lambda::Function").values():
        assert "STREAM_RUNTIME_QUARANTINE" not in properties["Properties"].get("Environment", {}).get("Variables", {})


def test_a_given_function_is_quarantined_when_asked() -> None:
    stack = new_stack()
    table = dynamodb.Table(stack, "Table", partition_key=PK, stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
    function = lambda_.Function(stack, "Mine", runtime=DEFAULT_RUNTIME, code=handler_code(), handler="app.handler")
    trigger = StreamTrigger(stack, "Given", table=table, function=function, quarantine=True)

    variables = function_properties(Template.from_stack(stack))["Environment"]["Variables"]
    assert variables["STREAM_RUNTIME_QUARANTINE"] == "sqs"
    assert trigger.quarantines and trigger.quarantined_records_alarm is not None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"on_failure": "custom", "quarantine": True},
            r"quarantine=True needs an SQS queue, SNS topic or S3 bucket as on_failure",
        ),
        ({"function": "imported", "quarantine": True}, r"quarantine=True needs the function's environment"),
    ],
)
def test_quarantine_is_refused_where_it_cannot_work(options: dict[str, Any], message: str) -> None:
    stack = new_stack()
    table = dynamodb.Table(stack, "Table", partition_key=PK, stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
    if options.get("on_failure") == "custom":
        options = {**options, "on_failure": event_sources.SnsDlq(sns.Topic(stack, "Failures"))}
    if options.get("function") == "imported":
        imported = lambda_.Function.from_function_arn(
            stack, "Imported", "arn:aws:lambda:us-east-1:123456789012:function:f"
        )
        options = {**options, "function": imported}
    else:
        options = {"code": handler_code(), "handler": "app.handler", **options}
    with pytest.raises(ValueError, match=message):
        StreamTrigger(stack, "Trigger", table=table, **options)


def test_mapping_metrics_follow_the_users_metrics_config() -> None:
    stack = new_stack()
    orders = StreamTriggeredTable(
        stack,
        "Orders",
        partition_key=PK,
        code=handler_code(),
        handler="app.handler",
        metrics_config=lambda_.MetricsConfig(metrics=[]),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(ESM, {"MetricsConfig": {"Metrics": []}})
    assert orders.trigger.dropped_records_alarm is None and orders.trigger.on_failure_records_alarm is None
    assert len(orders.trigger.alarms) == 4


def test_a_dashboard_shows_the_pipelines_health_when_asked() -> None:
    stack = new_stack()
    orders = StreamTriggeredTable(
        stack, "Orders", partition_key=PK, code=handler_code(), handler="app.handler", dashboard=True
    )
    template = Template.from_stack(stack)
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("IteratorAge", "Invocations", "Errors", "PolledEventCount", "DroppedEventCount",
                   "OnFailureDestinationDeliveredEventCount", "ApproximateNumberOfMessagesVisible",
                   "QuarantinedRecords"):  # fmt: skip
        assert metric in body
    assert orders.trigger.dashboard is not None


# Validation


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, r"batch_size must be between 1 and 10000 inclusive, got 0"),
        ({"batch_size": 10_001}, r"batch_size must be between 1 and 10000 inclusive, got 10001"),
        (
            {"max_batching_window": Duration.seconds(301)},
            r"max_batching_window must be between 0 and 300 s inclusive, got 301 s",
        ),
        ({"parallelization_factor": 0}, r"parallelization_factor must be between 1 and 10 inclusive, got 0"),
        ({"parallelization_factor": 11}, r"parallelization_factor must be between 1 and 10 inclusive, got 11"),
        ({"retry_attempts": -1}, r"retry_attempts must be between 0 and 10000 inclusive, got -1: infinite retries"),
        ({"retry_attempts": 10_001}, r"retry_attempts must be between 0 and 10000 inclusive, got 10001"),
        (
            {"max_record_age": Duration.seconds(59)},
            r"max_record_age must be between 60 and 604800 s inclusive, got 59 s",
        ),
        (
            {"max_record_age": Duration.days(8)},
            r"max_record_age must be between 60 and 604800 s inclusive, got 691200 s",
        ),
        (
            {"tumbling_window": Duration.seconds(901)},
            r"tumbling_window must be between 0 and 900 s inclusive, got 901 s",
        ),
        ({"max_batching_window": Duration.millis(1500)}, r"max_batching_window must be a whole number of seconds"),
        ({"starting_position": lambda_.StartingPosition.AT_TIMESTAMP}, r"DynamoDB streams do not support AT_TIMESTAMP"),
        ({"filters": [StreamFilter.inserts()] * 6}, r"filters must hold at most 5 patterns, got 6"),
        ({"filter_encryption": "key"}, r"filter_encryption needs filters to encrypt"),
        ({"function": "fn", "handler": "app.handler"}, r"give either function= or code= and handler=, not both"),
        ({"code": None, "handler": None}, r"give function=, or code= and handler= for the construct to create"),
    ],
)
def test_bad_arguments_are_refused_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        table_with_trigger(**options)


def test_function_creation_options_with_a_given_function_are_refused() -> None:
    stack = new_stack()
    function = lambda_.Function(stack, "Mine", runtime=DEFAULT_RUNTIME, code=handler_code(), handler="app.handler")
    with pytest.raises(ValueError, match=r"memory_size, timeout apply only to a function the construct creates"):
        StreamTriggeredTable(
            stack, "Orders", partition_key=PK, function=function, memory_size=512, timeout=Duration.seconds(10)
        )


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValueError, match=r"batch_size must be .*; parallelization_factor must be .*; retry_attempts"):
        table_with_trigger(batch_size=0, parallelization_factor=20, retry_attempts=-1)


def test_unknown_option_names_a_close_match() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword arguments: 'batchsize' \(did you mean 'batch_size'\?\)"):
        table_with_trigger(batchsize=10)


def test_filters_on_images_the_stream_lacks_are_refused() -> None:
    with pytest.raises(ValueError, match=r"reads the NewImage, OldImage that a KEYS_ONLY stream does not carry"):
        table_with_trigger(stream=dynamodb.StreamViewType.KEYS_ONLY, filters=[StreamFilter.changed_to("status", "X")])


def test_tokens_are_not_validated_at_construction() -> None:
    stack = new_stack()
    batch_size = CfnParameter(stack, "BatchSize", type="Number").value_as_number
    StreamTriggeredTable(
        stack, "Orders", partition_key=PK, code=handler_code(), handler="app.handler", batch_size=batch_size
    )
    Template.from_stack(stack).has_resource_properties(ESM, {"BatchSize": {"Ref": "BatchSize"}})


@pytest.mark.parametrize("kind", ["queue", "topic", "bucket", "imported_bucket"])
def test_quarantine_alarms_and_dashboard_are_cdk_nag_and_cfn_lint_clean(kind: str) -> None:
    stack = new_stack()
    destination: Any = {
        "queue": lambda: None,
        "topic": lambda: sns.Topic(stack, "Failures", enforce_ssl=True),
        "bucket": lambda: s3.Bucket(stack, "Failures", enforce_ssl=True),
        "imported_bucket": lambda: s3.Bucket.from_bucket_name(stack, "Failures", "orders-failures"),
    }[kind]()
    options: dict[str, Any] = {} if destination is None else {"on_failure": destination}
    orders = StreamTriggeredTable(
        stack, "Orders", partition_key=PK, code=handler_code(), handler="app.handler", dashboard=True, **options
    )

    report = AwsSolutionsChecks().validate_scope(stack)
    ours = [
        f"{violation.rule_name}: {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
        if resource.construct_path.startswith(orders.node.path)
    ]
    assert ours == []
    template = json.dumps(Template.from_stack(stack).to_json())
    errors = [f"{m.rule.id} {m.message}" for m in lint(template, config=ManualArgs(regions=["us-east-1"]))]
    assert [error for error in errors if error.startswith("E")] == []
