"""Stream records as boto3's GetRecords returns them, turned into the event Lambda delivers."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["lambda_event", "lambda_record"]


def lambda_event(records: Sequence[Mapping[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The event Lambda delivers for ``records`` (from GetRecords): typed JSON with numbers as strings, binary as
    base64, ApproximateCreationDateTime in epoch seconds, and eventSourceARN: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html

    Made of new objects throughout (the strings and numbers aside), as if parsed from the payload: a handler may
    keep or change it without touching ``records``.
    """
    return {"Records": [lambda_record(record, stream_arn) for record in records]}


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in stream:
            stream[image] = {name: _wire_value(value) for name, value in stream[image].items()}
    wire = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record["eventVersion"],
        "eventSource": record["eventSource"],
        "awsRegion": record["awsRegion"],
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:
        # boto3 names the fields PrincipalId and Type; Lambda's event names them principalId and type.
        identity = record["userIdentity"]
        wire["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
    return wire


def _wire_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """A boto3 attribute value as JSON carries it (boto3 decodes B and BS to bytes, the wire has base64), new."""
    ((tag, payload),) = value.items()
    match tag:
        case "B":
            return {"B": base64.b64encode(payload).decode()}
        case "BS":
            return {"BS": [base64.b64encode(blob).decode() for blob in payload]}
        case "L":
            return {"L": [_wire_value(item) for item in payload]}
        case "M":
            return {"M": {name: _wire_value(item) for name, item in payload.items()}}
        case "SS" | "NS":
            return {tag: list(payload)}
    return {tag: payload}
