"""A stream handler whose answer each record scripts with its ``mode`` attribute, for the local runner's fault tests.

``fail-batch``: a partial batch response with an empty itemIdentifier; ``fail-item``: a partial batch response naming
this record; ``sleep-<seconds>``: succeeds after that long; anything else succeeds. A record whose ``mode`` is listed in
the environment's ``POISON_MODES`` (comma-separated) makes the handler raise. ``environment`` answers with environment
variables, ``aggregate`` sums a tumbling window.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    poison = set(filter(None, os.environ.get("POISON_MODES", "").split(",")))
    failures: list[dict[str, str]] = []
    for record in event["Records"]:
        mode = record["dynamodb"].get("NewImage", {}).get("mode", {}).get("S", "")
        if mode in poison:
            raise ValueError(f"poison record {record['dynamodb']['SequenceNumber']}")
        if mode == "fail-batch":
            failures.append({"itemIdentifier": ""})
        elif mode == "fail-item":
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
        elif mode.startswith("sleep-"):
            time.sleep(float(mode.removeprefix("sleep-")))
    return {"batchItemFailures": failures}


def environment(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Answers with the environment variables the event names (``{"names": [...]}``)."""
    return {name: os.environ[name] for name in event["names"] if name in os.environ}


def aggregate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A tumbling-window aggregation: counts the records and sums their ``amount`` in the window's state, and logs
    every call (its window fields and record count) as a JSON line to the file ``WINDOW_LOG`` names. A record whose
    ``mode`` is ``no-state`` makes it answer without state."""
    records = event["Records"]
    with open(os.environ["WINDOW_LOG"], "a") as log:
        fields = {name: event[name] for name in ("window", "state", "shardId", "isFinalInvokeForWindow")}
        log.write(json.dumps({**fields, "early": event["isWindowTerminatedEarly"], "records": len(records)}) + "\n")
    if any(record["dynamodb"]["NewImage"].get("mode", {}).get("S") == "no-state" for record in records):
        return {"batchItemFailures": []}
    state = dict(event["state"])
    state["count"] = state.get("count", 0) + len(records)
    state["total"] = state.get("total", 0) + sum(
        int(record["dynamodb"]["NewImage"]["amount"]["N"]) for record in records
    )
    return {"state": state, "batchItemFailures": []}
