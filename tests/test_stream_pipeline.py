"""StreamPipeline: a new bundled-handler construct is one subclass; the base owns the trigger and checks its options."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from conftest import HANDLER_DIR, function_properties, new_stack
from constructs import Construct

from constructs_pkg import Binding, StreamFilter, StreamPipeline, StreamTriggeredTable

PK = dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING)


class OrderArchiver(StreamPipeline):
    """The README's example subclass, as written there."""

    HANDLER = "order_archiver.app.handler"
    STREAM_VIEW_TYPES = (dynamodb.StreamViewType.OLD_IMAGE, dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
    STREAM_VIEW_REASON = "the archiver keeps the item as it was"

    def __init__(self, scope: Construct, id: str, *, table: Any, bucket: s3.IBucket, item_filter: Any = None,
                 **options: Any) -> None:  # fmt: skip
        super().__init__(scope, id, table=table, item_filter=item_filter, **options)
        code = lambda_.LayerVersion(self, "Code", code=lambda_.Code.from_asset(str(HANDLER_DIR)))
        self.attach_handler(
            environment={"ARCHIVE_BUCKET": bucket.bucket_name},
            bindings=[Binding(environment={}, grant=bucket.grant_put, layers=[code])],
            filters=[StreamFilter.removes()],
        )


def orders(stack: Any, stream: dynamodb.StreamViewType = dynamodb.StreamViewType.NEW_AND_OLD_IMAGES) -> dynamodb.Table:
    return dynamodb.Table(stack, "Orders", partition_key=PK, stream=stream)


def test_a_subclass_gets_the_trigger_the_handler_and_its_grants() -> None:
    stack = new_stack()
    bucket = s3.Bucket(stack, "Archive")
    archiver = OrderArchiver(
        stack,
        "Archiver",
        table=orders(stack),
        bucket=bucket,
        item_filter=StreamFilter.key_prefix("PK", "ORDER#"),
        batch_size=500,
    )

    template = Template.from_stack(stack)
    properties = function_properties(template)
    assert properties["Handler"] == "order_archiver.app.handler"
    assert properties["MemorySize"] == 512 and properties["Timeout"] == 120
    assert properties["Code"]["ZipFile"] == "# The handler is order_archiver.app in the runtime layer.\n"
    assert len(properties["Layers"]) == 2
    assert properties["Environment"]["Variables"]["ARCHIVE_BUCKET"]["Ref"].startswith("Archive")
    (mapping,) = template.find_resources("AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["BatchSize"] == 500
    (pattern,) = [json.loads(f["Pattern"]) for f in mapping["Properties"]["FilterCriteria"]["Filters"]]
    assert pattern == {"eventName": ["REMOVE"], "dynamodb": {"Keys": {"PK": {"S": [{"prefix": "ORDER#"}]}}}}
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any("s3:PutObject" in statement["Action"] for statement in statements)
    assert archiver.function is archiver.trigger.function
    assert archiver.alarms == archiver.trigger.alarms and archiver.dead_letter_queue is not None
    assert archiver.secrets == ()


def test_a_stream_of_another_view_type_is_refused_with_the_reason() -> None:
    stack = new_stack()
    with pytest.raises(
        ValueError,
        match=r"OrderArchiver Test/Archiver: table Test/Orders streams KEYS_ONLY; the archiver keeps the item as it "
        r"was, so it needs OLD_IMAGE or NEW_AND_OLD_IMAGES",
    ):
        OrderArchiver(stack, "Archiver", table=orders(stack, dynamodb.StreamViewType.KEYS_ONLY), bucket=s3.Bucket(
            stack, "Archive"))  # fmt: skip


def test_options_the_pipeline_sets_itself_are_refused_and_unknown_ones_named() -> None:
    stack = new_stack()
    table, bucket = orders(stack), s3.Bucket(stack, "Archive")
    with pytest.raises(ValueError, match=r"OrderArchiver Test/A: handler, filters are set by the pipeline itself"):
        OrderArchiver(stack, "A", table=table, bucket=bucket, handler="x.y", filters=[])
    with pytest.raises(TypeError, match=r"OrderArchiver got unexpected keyword arguments: 'batch_sise' \(did you mean"):
        OrderArchiver(stack, "B", table=table, bucket=bucket, batch_sise=10)


def test_a_streamtriggeredtable_is_taken_as_its_table() -> None:
    stack = new_stack()
    table = StreamTriggeredTable(stack, "Orders", partition_key=PK, code=lambda_.Code.from_asset(str(HANDLER_DIR)),
                                 handler="app.handler")  # fmt: skip
    archiver = OrderArchiver(stack, "Archiver", table=table, bucket=s3.Bucket(stack, "Archive"))

    assert archiver.table is table.table


def test_the_trigger_is_there_only_once_the_handler_is_attached() -> None:
    class Unfinished(StreamPipeline):
        HANDLER = "unfinished.app.handler"

    stack = new_stack()
    pipeline = Unfinished(stack, "Unfinished", table=orders(stack))
    with pytest.raises(RuntimeError, match=r"Unfinished Test/Unfinished: attach_handler\(\) has not been called"):
        _ = pipeline.function
