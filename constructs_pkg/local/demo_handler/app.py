"""The demo's handler: keeps one OrderSummaries row per order in step with the Orders table's stream.

An insert or update of an order writes its summary (status, line count, exact total), a delete removes it. Each
write holds only if it is newer than the summary's source sequence number, so a redelivered batch (streams deliver
at least once) never puts an older summary back.
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


def summary_key(keys: dict[str, Any]) -> dict[str, str]:
    return {"customerId": keys["PK"].removeprefix("CUSTOMER#"), "orderId": keys["SK"].removeprefix("ORDER#")}


def summarize(order: dict[str, Any], sequence_number: int) -> dict[str, Any]:
    lines = order.get("lines") or []
    try:
        total = sum((Decimal(line["price"]) * Decimal(line.get("quantity", 1)) for line in lines), Decimal(0))
    except (KeyError, TypeError, ArithmeticError) as error:
        raise PermanentError(f"an order line without a readable price: {error!r}") from None
    return {
        **summary_key(order),
        "status": order.get("status", "NEW"),
        "lineCount": len(lines),
        "total": total,
        "sourceSequence": sequence_number,
    }


def handle(record: StreamRecord) -> None:
    condition = {"ConditionExpression": _NEWER_ONLY, "ExpressionAttributeValues": {":sequence": record.sequence_number}}
    try:
        if record.event_name is EventName.REMOVE:
            _summaries.delete_item(Key=summary_key(record.keys), **condition)
        elif record.new_image is not None:
            _summaries.put_item(Item=summarize(record.new_image, record.sequence_number), **condition)
        else:
            raise PermanentError("the Orders stream must carry new images")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        logger.info("skipped a change older than the summary already written")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_stream_batch(event, context, handle)
