"""The official DynamoDB Local on loopback for the whole test session, with its Streams API.

``dynamodb_local`` installs it (scripts/install-dynamodb-local, once per checkout), starts it on a free port and stops
it after the last test. ``StreamReader`` reads a table's stream as Lambda would see it and ``lambda_event`` turns the
records into the event Lambda delivers, so a handler runs on the very records DynamoDB wrote.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from constructs_pkg.local.dynamodb_local import DynamoDBLocal, running_dynamodb_local
from constructs_pkg.local.wire import lambda_event

__all__ = ["DynamoDBLocal", "StreamReader", "dynamodb_local", "lambda_event"]

INSTALL_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "install-dynamodb-local"


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    installed = subprocess.run([str(INSTALL_SCRIPT)], check=True, capture_output=True, text=True)
    with running_dynamodb_local(Path(installed.stdout.strip().splitlines()[-1])) as database:
        yield database


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
