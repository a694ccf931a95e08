"""DynamoDB's time to live, emulated at once: expired items deleted, their REMOVE records marked as the service's.

DynamoDB Local deletes expired items itself, and marks their REMOVE records with the TTL identity, but slowly: about
20 items every 10 seconds (measured with 1.25.1), where the service deletes a table's expired items within days, at
any rate. ``TtlSweeper`` deletes what has expired whenever the runner asks, as the service would eventually, and
``marked`` gives the REMOVE records of its own deletes the identity the service puts on them, so that
``StreamFilter.ttl_deletes()`` and the handlers see what they would on AWS:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["TTL_IDENTITY", "TtlSweeper", "TtlTable"]

# A REMOVE record's userIdentity for a TTL delete, as GetRecords returns it (Lambda's event names the fields in
# lowerCamelCase: constructs_pkg.local.wire).
TTL_IDENTITY = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
# TTL ignores values more than five years in the past:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-before-you-start.html
_OLDEST_SECONDS = 5 * 365 * 24 * 3600
_DELETE_THREADS = 8


@dataclass(frozen=True)
class TtlTable:
    """A table with TTL on: its name, the TTL attribute, its key attribute names and its stream's ARN."""

    name: str
    attribute: str
    key_names: tuple[str, ...]
    stream_arn: str


class TtlSweeper:
    """Deletes the items of ``tables`` whose TTL attribute (a Number of epoch seconds, at most five years old) is
    before ``clock()`` (Default: ``time.time``), with ``client`` (boto3 ``dynamodb``); each delete is conditional on
    the item still being expired, so an item given a later expiry meanwhile stays."""

    def __init__(self, client: Any, tables: list[TtlTable], *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self.tables = tables
        self._clock = clock
        self._lock = threading.Lock()
        # (stream ARN, keys) -> the old images of the items this sweeper deleted, not yet seen in the stream.
        self._deleted: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.deleted = 0

    @classmethod
    def of_tables(cls, client: Any, ttl_attributes: Mapping[str, str], **options: Any) -> TtlSweeper:
        """The sweeper of the tables ``ttl_attributes`` names (table name -> TTL attribute), described once."""
        tables = []
        for name, attribute in ttl_attributes.items():
            description = client.describe_table(TableName=name)["Table"]
            keys = tuple(key["AttributeName"] for key in description["KeySchema"])
            tables.append(TtlTable(name, attribute, keys, description.get("LatestStreamArn", "")))
        return cls(client, tables, **options)

    def sweep(self) -> int:
        """Delete every item expired now; how many were deleted."""
        now = int(self._clock())
        deleted = 0
        with ThreadPoolExecutor(_DELETE_THREADS, thread_name_prefix="ttl") as pool:
            for table in self.tables:
                futures = [pool.submit(self._delete, table, key, now) for key in self._expired_keys(table, now)]
                deleted += sum(future.result() for future in futures)
        self.deleted += deleted
        return deleted

    def marked(self, stream_arn: str, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` (from GetRecords) with the TTL identity when it is the REMOVE of an item this sweeper deleted."""
        if record.get("eventName") != "REMOVE" or "userIdentity" in record:
            return record
        stream = record["dynamodb"]
        key = (stream_arn, _keys_json(stream["Keys"]))
        with self._lock:
            images = self._deleted.get(key)
            if not images:
                return record
            # Matched by the old image, so that a caller's delete of the same key read late is not taken for it.
            old = stream.get("OldImage")
            if old is not None and old not in images:
                return record
            images.remove(old if old is not None else images[0])
            if not images:
                del self._deleted[key]
        return {**record, "userIdentity": dict(TTL_IDENTITY)}

    def _expired_keys(self, table: TtlTable, now: int) -> Iterator[dict[str, Any]]:
        names = {f"#k{index}": name for index, name in enumerate(table.key_names)}
        pages = self._client.get_paginator("scan").paginate(
            TableName=table.name,
            FilterExpression="#ttl BETWEEN :oldest AND :now",
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames={"#ttl": table.attribute, **names},
            ExpressionAttributeValues=_window(now),
        )
        for page in pages:
            yield from page["Items"]

    def _delete(self, table: TtlTable, key: dict[str, Any], now: int) -> int:
        try:
            answer = self._client.delete_item(
                TableName=table.name,
                Key=key,
                ConditionExpression="#ttl BETWEEN :oldest AND :now",
                ExpressionAttributeNames={"#ttl": table.attribute},
                ExpressionAttributeValues=_window(now),
                ReturnValues="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return 0
        with self._lock:
            self._deleted.setdefault((table.stream_arn, _keys_json(key)), []).append(answer["Attributes"])
        return 1


def _window(now: int) -> dict[str, Any]:
    return {":oldest": {"N": str(now - _OLDEST_SECONDS)}, ":now": {"N": str(now)}}


def _keys_json(keys: Mapping[str, Any]) -> str:
    return json.dumps(keys, sort_keys=True, default=str)
