"""Which shard a batch came from, for an event that does not say: a redrive, or a call outside the mapping.

The mapping's events carry ``shardId`` because the construct gives it a tumbling window; a plain event names only
the stream. Its shard is the one whose sequence number range holds the batch's first record: DescribeStream lists
each shard's range, open shards without an end
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_DescribeStream.html).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambda_src.providers import RetryPolicy, call_with_retries
from lambda_src.providers.aws import AwsClient
from lambda_src.stream_runtime import PermanentError

__all__ = ["ShardLocator"]

_MAX_CALL_SECONDS = 5.0


class ShardLocator:
    def __init__(self, client: AwsClient, policy: RetryPolicy | None = None) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()

    def shard_of(self, stream_arn: str, sequence_number: int, remaining_seconds: Callable[[], float]) -> str:
        """The id of the one shard of ``stream_arn`` that can hold ``sequence_number``. Raises PermanentError when
        none or several can (several open shards): a mark of the wrong shard would drop or double records."""
        candidates = []
        arguments: dict[str, Any] = {"StreamArn": stream_arn}
        while True:
            description = call_with_retries(
                lambda: self.client.call(
                    min(_MAX_CALL_SECONDS, max(1.0, remaining_seconds())),
                    lambda client: client.describe_stream(**arguments),
                ),
                policy=self.policy,
                remaining_seconds=remaining_seconds,
            )["StreamDescription"]
            for shard in description["Shards"]:
                numbers = shard.get("SequenceNumberRange", {})
                first, last = numbers.get("StartingSequenceNumber"), numbers.get("EndingSequenceNumber")
                if (
                    first is not None
                    and int(first) <= sequence_number
                    and (last is None or sequence_number <= int(last))
                ):
                    candidates.append(str(shard["ShardId"]))
            if not description.get("LastEvaluatedShardId"):
                break
            arguments["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]
        if len(candidates) != 1:
            raise PermanentError(
                f"the event names no shardId and {len(candidates) or 'no'} shards of {stream_arn} can hold sequence "
                f"number {sequence_number}: {', '.join(candidates) or 'it is trimmed'}; redrive it with its shardId "
                "or run recompute-aggregates --repair"
            )
        return candidates[0]
