"""Seed 000's token streaming: an AI answer written into its DynamoDB item while the model streams it, in coalesced
chunks, so the RealtimeFeed pushes each chunk to subscribers.

Every write is one write unit and one stream record, and Lambda reads a shard about four times a second, so writing
each token would cost a write per token and deliver no sooner: ``stream_answer`` writes when ``min_tokens`` tokens
have arrived since the last write or ``max_seconds`` have passed, and once more at the end (``status`` done). Run it
where the answer is requested (an API handler); the table's stream does the rest.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_MAX_SECONDS", "DEFAULT_MIN_TOKENS", "StreamedAnswer", "stream_answer"]

DEFAULT_MIN_TOKENS = 8
# Lambda polls each shard about four times a second: a chunk more often than that arrives no sooner.
DEFAULT_MAX_SECONDS = 0.25


@dataclass(frozen=True)
class StreamedAnswer:
    text: str
    tokens: int
    writes: int


def stream_answer(
    anthropic_client: Any,
    dynamodb_client: Any,
    *,
    table_name: str,
    key: Mapping[str, Any],
    prompt: str,
    model: str = "claude-haiku-4-5",
    max_tokens: int = 1024,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> StreamedAnswer:
    """Stream the answer to ``prompt`` into the item ``key`` (DynamoDB JSON) of ``table_name``: ``answer`` holds the
    text so far, ``chunks`` the writes made, ``status`` ``streaming`` then ``done``."""
    text, pending, tokens, writes = "", 0, 0, 0
    last_write = time.monotonic()

    def write(status: str) -> None:
        nonlocal writes, pending, last_write
        writes += 1
        dynamodb_client.update_item(
            TableName=table_name,
            Key=dict(key),
            UpdateExpression="SET #answer = :answer, #chunks = :chunks, #status = :status",
            ExpressionAttributeNames={"#answer": "answer", "#chunks": "chunks", "#status": "status"},
            ExpressionAttributeValues={
                ":answer": {"S": text},
                ":chunks": {"N": str(writes)},
                ":status": {"S": status},
            },
        )
        pending, last_write = 0, time.monotonic()

    with anthropic_client.messages.stream(
        model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        for token in stream.text_stream:
            text += token
            tokens += 1
            pending += 1
            if pending >= min_tokens or time.monotonic() - last_write >= max_seconds:
                write("streaming")
    write("done")
    return StreamedAnswer(text=text, tokens=tokens, writes=writes)
