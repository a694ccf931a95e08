"""The official DynamoDB Local on loopback for the whole test session, with its Streams API.

``dynamodb_local`` installs it (scripts/install-dynamodb-local, once per checkout), starts it on a free port and stops
it after the last test. ``StreamReader`` reads a table's stream as Lambda would see it and ``lambda_event`` turns the
records into the event Lambda delivers, so a handler runs on the very records DynamoDB wrote.
"""

from __future__ import annotations

import base64
import functools
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError

__all__ = ["DynamoDBLocal", "StreamReader", "dynamodb_local", "lambda_event"]

INSTALL_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "install-dynamodb-local"
REGION = "us-east-1"
# DynamoDB Local accepts any credentials; -sharedDb makes every client, whatever its key and region, see one database.
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
STARTUP_TIMEOUT_SECONDS = 60
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class DynamoDBLocal:
    """A running DynamoDB Local: ``endpoint_url``, clients for it, and how long it took to answer after launch."""

    endpoint_url: str
    startup_seconds: float

    def client(self, service_name: str = "dynamodb") -> Any:
        """A boto3 client for ``dynamodb`` or ``dynamodbstreams``, in us-east-1 with dummy credentials."""
        return _client(self.endpoint_url, service_name)

    def streams(self) -> Any:
        return self.client("dynamodbstreams")


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBLocal]:
    if shutil.which("java") is None:
        raise RuntimeError("DynamoDB Local runs on Java (17 or newer): put `java` on the PATH")
    installed = subprocess.run([str(INSTALL_SCRIPT)], check=True, capture_output=True, text=True)
    home = Path(installed.stdout.strip().splitlines()[-1])
    log_path = tmp_path_factory.mktemp("dynamodb-local") / "server.log"
    port = _free_port()
    started = time.monotonic()
    with log_path.open("wb") as log:
        # The jar has no option to choose the address: it listens on every interface, on a port nobody is told of.
        # -disableTelemetry: a test run sends nothing anywhere.
        process = subprocess.Popen(
            ["java", "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb",
             "-disableTelemetry", "-port", str(port)],
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        endpoint_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(endpoint_url, process, log_path)
        yield DynamoDBLocal(endpoint_url, startup_seconds=time.monotonic() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class StreamReader:
    """Reads a stream from its oldest record on, every shard; each ``read()`` returns what came since the last one.

    Shards found by the first DescribeStream only: enough for tests, where a stream never lives long enough to split.
    """

    def __init__(self, streams_client: Any, stream_arn: str) -> None:
        self.stream_arn = stream_arn
        self._client = streams_client
        shards = streams_client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        self._iterators: dict[str, str | None] = {
            shard["ShardId"]: streams_client.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for shard in shards
        }

    def read(self) -> list[dict[str, Any]]:
        """The records written since the last read, as boto3 returns them."""
        records: list[dict[str, Any]] = []
        for shard_id, iterator in self._iterators.items():
            while iterator is not None:
                page = self._client.get_records(ShardIterator=iterator)
                records += page["Records"]
                # An open shard always hands back a next iterator: keep it for the next read once this one is empty.
                next_iterator = page.get("NextShardIterator")
                if not page["Records"]:
                    self._iterators[shard_id] = next_iterator
                    break
                iterator = next_iterator
            else:
                self._iterators[shard_id] = None
        return records


def lambda_event(records: Sequence[Mapping[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The event Lambda delivers for ``records`` (from GetRecords): typed JSON with numbers as strings, binary as
    base64, ApproximateCreationDateTime in epoch seconds, and eventSourceARN: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
    """
    return {"Records": [_lambda_record(record, stream_arn) for record in records]}


def _lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
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
        wire["userIdentity"] = dict(record["userIdentity"])
    return wire


def _wire_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """A boto3 attribute value as JSON carries it: boto3 decodes B and BS to bytes, the wire has base64."""
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
    return {tag: payload}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@functools.cache
def _client(endpoint_url: str, service_name: str) -> Any:
    # Cached: a new session loads the service's model again, a fifth of a second each time.
    return boto3.session.Session().client(
        service_name,
        endpoint_url=endpoint_url,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10),
        **CREDENTIALS,
    )


def _wait_until_serving(endpoint_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    client = _client(endpoint_url, "dynamodb")
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            client.list_tables()
            return
        except BotoCoreError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"DynamoDB Local did not answer within {STARTUP_TIMEOUT_SECONDS} s:\n{log_path.read_text()}"
                ) from None
            time.sleep(_POLL_SECONDS)
