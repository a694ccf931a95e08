"""Publishes a welcome message for each new user and a shipping notice for each shipped order.

The event source mappings' filters already chose the records; the handlers still check what they rely on, so a
record that reaches them by mistake fails loudly instead of sending a wrong message.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from lambda_src.stream_runtime import PermanentError, StreamRecord, get_logger, process_stream_batch

logger = get_logger(__name__)
_sns = boto3.client("sns")
_TOPIC_ARN = os.environ["NOTICE_TOPIC_ARN"]


def _publish(kind: str, record: StreamRecord, message: dict[str, Any]) -> None:
    # The eventID deduplicates at the subscriber: the stream delivers at least once.
    _sns.publish(
        TopicArn=_TOPIC_ARN,
        Message=json.dumps(message, default=str),
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": kind},
            "eventID": {"DataType": "String", "StringValue": record.event_id},
        },
    )
    logger.info("published", extra={"kind": kind})


def welcome_message(user: dict[str, Any]) -> dict[str, Any]:
    """The welcome notice for a new USER# item."""
    return {"userId": user["PK"].removeprefix("USER#"), "email": user.get("email"), "name": user.get("name")}


def shipping_message(order: dict[str, Any]) -> dict[str, Any]:
    """The shipping notice for an ORDER# item whose status became SHIPPED."""
    return {"orderId": order["SK"].removeprefix("ORDER#"), "customer": order["PK"], "status": order["status"]}


def _new_image(record: StreamRecord) -> dict[str, Any]:
    if record.new_image is None:
        raise PermanentError(f"{record.event_name} record {record.event_id} carries no new image")
    return record.new_image


def _welcome(record: StreamRecord) -> None:
    _publish("welcome", record, welcome_message(_new_image(record)))


def _shipping_notice(record: StreamRecord) -> None:
    order = _new_image(record)
    if order.get("status") != "SHIPPED":
        raise PermanentError(f"record {record.event_id} is not a change to SHIPPED; check the trigger's filter")
    _publish("shipping", record, shipping_message(order))


def welcome(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_stream_batch(event, context, _welcome)


def shipping_notice(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_stream_batch(event, context, _shipping_notice)
