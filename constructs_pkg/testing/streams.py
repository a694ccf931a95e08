"""A table's stream read as Lambda reads it, for tests that run a handler on the very records DynamoDB wrote."""

from __future__ import annotations

from typing import Any

__all__ = ["StreamReader"]


class StreamReader:
    """Reads a stream from its oldest record on, every shard; each ``read()`` returns what came since the last one.

    ``streams_client`` is a boto3 ``dynamodbstreams`` client (``DynamoDBLocal.streams()``), ``stream_arn`` the
    table's LatestStreamArn. Shards are found by the first DescribeStream only: enough for tests, where a stream
    never lives long enough to split. ``constructs_pkg.local.wire.lambda_event(records, stream_arn)`` turns what
    ``read()`` returns into the event Lambda delivers.
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
