"""The example stacks' handlers, driven by wire-shaped stream events.

botocore's Stubber stands in for DynamoDB and SNS here: these are unit tests of one handler each, checking the
exact requests they make and how each outcome maps onto the partial batch response.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

EVENTS = Path(__file__).parent / "events"
NEWER_ONLY = "attribute_not_exists(sourceSequence) OR sourceSequence < :sequence"


def orders_event(*event_names: str) -> dict[str, Any]:
    event = json.loads((EVENTS / "orders.json").read_text())
    event["Records"] = [record for record in event["Records"] if record["eventName"] in event_names]
    return event


@pytest.fixture
def basic_flow(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Stubber]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("SUMMARY_TABLE_NAME", "OrderSummaries")
    module = importlib.reload(importlib.import_module("examples.basic_flow.handler.app"))
    with Stubber(module._summaries.meta.client) as stubber:
        yield module, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def notifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, Stubber]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("NOTICE_TOPIC_ARN", "arn:aws:sns:eu-west-1:111122223333:Notices")
    module = importlib.reload(importlib.import_module("examples.notifications.handler.app"))
    with Stubber(module._sns) as stubber:
        yield module, stubber
        stubber.assert_no_pending_responses()


def test_summary_is_exact_decimal_arithmetic(basic_flow: tuple[ModuleType, Stubber]) -> None:
    module, _ = basic_flow
    order = {"PK": "CUSTOMER#42", "SK": "ORDER#1001", "lines": [{"price": Decimal("19.99"), "quantity": Decimal(3)}]}
    assert module.summarize(order, 7) == {
        "customerId": "42",
        "orderId": "1001",
        "status": "NEW",
        "lineCount": 1,
        "total": Decimal("59.97"),
        "sourceSequence": 7,
    }


def test_insert_and_modify_write_the_summary_only_if_newer(basic_flow: tuple[ModuleType, Stubber]) -> None:
    module, stubber = basic_flow
    # GIVEN an INSERT then a MODIFY of one order
    for total, status, lines, sequence in ((Decimal("60.07"), "PAID", 2, 4421584500000000017450439091),
                                           (Decimal(0), "SHIPPED", 0, 4421584600000000017450439138)):  # fmt: skip
        stubber.add_response(
            "put_item",
            {},
            {
                "TableName": "OrderSummaries",
                "Item": {
                    "customerId": "42",
                    "orderId": "1001",
                    "status": status,
                    "lineCount": lines,
                    "total": total,
                    "sourceSequence": sequence,
                },
                "ConditionExpression": NEWER_ONLY,
                "ExpressionAttributeValues": {":sequence": sequence},
            },
        )
    # WHEN the handler runs THEN both writes happen and nothing fails
    assert module.handler(orders_event("INSERT", "MODIFY"), None) == {"batchItemFailures": []}


def test_remove_deletes_the_summary(basic_flow: tuple[ModuleType, Stubber]) -> None:
    module, stubber = basic_flow
    stubber.add_response(
        "delete_item",
        {},
        {
            "TableName": "OrderSummaries",
            "Key": {"customerId": "42", "orderId": "1001"},
            "ConditionExpression": NEWER_ONLY,
            "ExpressionAttributeValues": {":sequence": 4421584700000000017450439201},
        },
    )
    assert module.handler(orders_event("REMOVE"), None) == {"batchItemFailures": []}


def test_a_stale_or_duplicate_delivery_is_done_not_failed(basic_flow: tuple[ModuleType, Stubber]) -> None:
    module, stubber = basic_flow
    stubber.add_client_error("put_item", "ConditionalCheckFailedException", http_status_code=400)
    assert module.handler(orders_event("INSERT"), None) == {"batchItemFailures": []}


def test_a_dynamodb_error_fails_that_record_and_stops_the_batch(basic_flow: tuple[ModuleType, Stubber]) -> None:
    module, stubber = basic_flow
    # GIVEN DynamoDB throttles the first write
    stubber.add_client_error("put_item", "ProvisionedThroughputExceededException", http_status_code=400)
    # WHEN the batch of three runs THEN the first record is reported and the others are left for redelivery
    response = module.handler(orders_event("INSERT", "MODIFY", "REMOVE"), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439091"}]}


def test_welcome_publishes_one_message_per_new_user(notifications: tuple[ModuleType, Stubber]) -> None:
    module, stubber = notifications
    event = orders_event("INSERT")
    event["Records"][0]["dynamodb"]["NewImage"] = {"PK": {"S": "USER#7"}, "SK": {"S": "PROFILE"},
                                                   "email": {"S": "ada@example.com"}, "name": {"S": "Ada"}}  # fmt: skip
    stubber.add_response(
        "publish",
        {"MessageId": "1"},
        {
            "TopicArn": "arn:aws:sns:eu-west-1:111122223333:Notices",
            "Message": json.dumps({"userId": "7", "email": "ada@example.com", "name": "Ada"}),
            "MessageAttributes": {
                "kind": {"DataType": "String", "StringValue": "welcome"},
                "eventID": {"DataType": "String", "StringValue": "c81e728d9d4c2f636f067f89cc14862c"},
            },
        },
    )
    assert module.welcome(event, None) == {"batchItemFailures": []}


def test_shipping_notice_for_a_shipped_order(notifications: tuple[ModuleType, Stubber]) -> None:
    module, stubber = notifications
    expected = {"orderId": "1001", "customer": "CUSTOMER#42", "status": "SHIPPED"}
    stubber.add_response("publish", {"MessageId": "2"}, {"TopicArn": ANY, "Message": json.dumps(expected),
                                                         "MessageAttributes": ANY})  # fmt: skip
    assert module.shipping_notice(orders_event("MODIFY"), None) == {"batchItemFailures": []}


def test_shipping_notice_refuses_a_record_its_filter_should_have_dropped(
    notifications: tuple[ModuleType, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    module, _ = notifications
    response = module.shipping_notice(orders_event("INSERT"), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439091"}]}
    assert "check the trigger's filter" in capsys.readouterr().out
