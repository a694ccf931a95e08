"""Keeps one OrderSummaries row per order in step with the Orders table's stream.

INSERT and MODIFY write the summary, REMOVE deletes it. Each write is conditional on the stream sequence number,
so a duplicate or stale delivery (streams deliver at least once) never overwrites a newer summary.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from lambda_src.stream_runtime import EventName, PermanentError, StreamRecord, get_logger, process_stream_batch

logger = get_logger(__name__)
_summaries = boto3.resource("dynamodb").Table(os.environ["SUMMARY_TABLE_NAME"])
_NEWER_ONLY = "attribute_not_exists(sourceSequence) OR sourceSequence < :sequence"


def summarize(order: dict[str, Any], sequence_number: int) -> dict[str, Any]:
    """The projection written to OrderSummaries: the order's key fields, its total and its line count."""
    lines = order.get("lines") or []
    total = sum((Decimal(line.get("price", 0)) * Decimal(line.get("quantity", 1)) for line in lines), Decimal(0))
    return {
        "customerId": order["PK"].removeprefix("CUSTOMER#"),
        "orderId": order["SK"].removeprefix("ORDER#"),
        "status": order.get("status", "NEW"),
        "lineCount": len(lines),
        "total": total,
        "sourceSequence": sequence_number,
    }


def handle(record: StreamRecord) -> None:
    sequence = {":sequence": record.sequence_number}
    try:
        if record.event_name is EventName.REMOVE:
            keys = summarize(record.keys, record.sequence_number)
            _summaries.delete_item(
                Key={"customerId": keys["customerId"], "orderId": keys["orderId"]},
                ConditionExpression=_NEWER_ONLY,
                ExpressionAttributeValues=sequence,
            )
        else:
            if record.new_image is None:
                raise PermanentError("the Orders stream must carry new images (NEW_IMAGE or NEW_AND_OLD_IMAGES)")
            _summaries.put_item(
                Item=summarize(record.new_image, record.sequence_number),
                ConditionExpression=_NEWER_ONLY,
                ExpressionAttributeValues=sequence,
            )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("skipped a change older than the summary already written")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_stream_batch(event, context, handle)
