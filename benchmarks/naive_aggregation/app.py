"""The naive baseline of ``benchmarks.aggregation``, as the public samples write it: one UpdateItem ADD per record
(the new image's sale added, the old image's subtracted), in record order. Not idempotent: a retried batch counts
twice, which the benchmark never provokes."""

from __future__ import annotations

import functools
import os
from typing import Any

from lambda_src.stream_runtime import StreamRecord


@functools.cache
def _client() -> Any:
    import boto3

    return boto3.client("dynamodb")


def handler(event: dict[str, Any], context: Any) -> None:
    table = os.environ["NAIVE_AGGREGATES_TABLE"]
    for raw in event["Records"]:
        record = StreamRecord.from_wire(raw)
        for image, sign in ((record.old_image, -1), (record.new_image, 1)):
            if image is None:
                continue
            _client().update_item(
                TableName=table,
                Key={"aggregate": {"S": f"{image['store']}|{image['soldAt'][:10]}"}},
                UpdateExpression="ADD sales :one, #total :amount",
                ExpressionAttributeNames={"#total": "total"},
                ExpressionAttributeValues={":one": {"N": str(sign)}, ":amount": {"N": str(sign * image["amount"])}},
            )
