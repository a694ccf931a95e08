"""Archived items put back into a table: the objects a TtlArchiver wrote, read back by key or by expiry day.

Each item is put on condition that no item with its key exists, so a restore never overwrites a newer item; one
restored twice is there once. The archive's format is ``lambda_src.ttl_archiver.archive``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lambda_src.ttl_archiver.archive import DAY_PARTITION, OBJECT_SUFFIX, day_of_key, decoded_lines

__all__ = ["RestoreOutcome", "archived_lines", "restore"]


@dataclass
class RestoreOutcome:
    """What a restore did: items put back, and items left because the table holds their key."""

    restored: int = 0
    kept_newer: int = 0


def archived_lines(
    s3: Any, bucket: str, prefix: str, *, from_day: str | None = None, to_day: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every line of the archive under ``prefix`` whose expiry day is within ``from_day``..``to_day`` (YYYY-MM-DD,
    inclusive; Default: - every day), object by object in key order."""
    start = f"{prefix}{DAY_PARTITION}={from_day}/" if from_day else None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}{DAY_PARTITION}="):
        for entry in page.get("Contents", []):
            key = entry["Key"]
            day = day_of_key(key)
            if not key.endswith(OBJECT_SUFFIX) or day is None or (start and key < start):
                continue
            if to_day and day > to_day:
                return
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            yield from decoded_lines(body)


def restore(
    dynamodb: Any, table: str, lines: Iterator[Mapping[str, Any]], *, key: Mapping[str, Any] | None = None
) -> RestoreOutcome:
    """Put the items of ``lines`` back into ``table`` unless it holds their key; only those with ``key`` (DynamoDB
    JSON, e.g. ``{"PK": {"S": "SESSION#1"}}``) when given. When the archive holds one key more than once, the copy
    deleted last is the one put back."""
    latest: dict[str, Mapping[str, Any]] = {}
    for line in lines:
        if key is not None and line["Keys"] != key:
            continue
        identity = json.dumps(line["Keys"], sort_keys=True)
        held = latest.get(identity)
        if held is None or int(held["sequenceNumber"]) < int(line["sequenceNumber"]):
            latest[identity] = line
    outcome = RestoreOutcome()
    key_names = list(next(iter(latest.values()))["Keys"]) if latest else []
    condition = " AND ".join(f"attribute_not_exists(#k{index})" for index in range(len(key_names)))
    names = {f"#k{index}": name for index, name in enumerate(key_names)}
    for line in latest.values():
        try:
            dynamodb.put_item(
                TableName=table,
                Item={name: _boto3_value(value) for name, value in line["Item"].items()},
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
            )
            outcome.restored += 1
        except dynamodb.exceptions.ConditionalCheckFailedException:
            outcome.kept_newer += 1
    return outcome


def _boto3_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB JSON value as the archive holds it (binary in base64) as boto3's client takes it (bytes)."""
    ((tag, payload),) = value.items()
    match tag:
        case "B":
            return {"B": base64.b64decode(payload)}
        case "BS":
            return {"BS": [base64.b64decode(blob) for blob in payload]}
        case "L":
            return {"L": [_boto3_value(item) for item in payload]}
        case "M":
            return {"M": {name: _boto3_value(item) for name, item in payload.items()}}
    return {tag: payload}
