"""The naive baselines of ``benchmarks.feed_and_search``, as the public samples write them (but correct): one signed
publish per record, one signed index or delete request per record, in record order, each answer checked."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from lambda_src.providers.signed_http import SignedHttpClient
from lambda_src.realtime_feed.messages import to_json_value
from lambda_src.search_indexer.documents import document_id
from lambda_src.stream_runtime import EventName, StreamRecord


@functools.cache
def _client(variable: str, service: str) -> SignedHttpClient:
    return SignedHttpClient("naive", os.environ[variable], service=service)


def feed(event: dict[str, Any], context: Any) -> None:
    client = _client("NAIVE_FEED_ENDPOINT", "appsync")
    for raw in event["Records"]:
        record = StreamRecord.from_wire(raw)
        message = {
            "key": to_json_value(record.keys),
            "eventName": str(record.event_name),
            "item": to_json_value(record.new_image or {}),
        }
        answer = client.json(
            "POST", "/event", {"channel": f"/bench/{record.keys['PK']}", "events": [json.dumps(message)]}, timeout=10
        )
        if answer.get("failed"):
            raise RuntimeError(f"publish failed: {answer['failed']}")


def search(event: dict[str, Any], context: Any) -> None:
    client = _client("NAIVE_SEARCH_ENDPOINT", "es")
    for raw in event["Records"]:
        record = StreamRecord.from_wire(raw)
        path = f"/naive/_doc/{document_id(record.keys)}"
        if record.event_name is EventName.REMOVE:
            answer = client.request("DELETE", path, timeout=10)
            if answer.status >= 300 and answer.status != 404:
                raise RuntimeError(f"delete failed: {answer.status}")
        else:
            client.json("PUT", path, to_json_value(record.new_image or {}), timeout=10)
