"""The library's defaults and AWS's limits, each defined once.

The construction-time checks and the docstrings both read these constants: ``documented`` substitutes
``$NAME`` placeholders in a docstring with the values below and the defaults the constructs share with their handlers
(``lambda_src.contract``), so the two cannot drift apart.
"""

from __future__ import annotations

from string import Template
from typing import Any, TypeVar

from lambda_src import contract

__all__ = [
    "BATCH_SIZE_RANGE",
    "DEFAULT_ALARM_EVALUATION_MINUTES",
    "DEFAULT_ARCHIVE_TRANSITION_DAYS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_ITERATOR_AGE_ALARM_MINUTES",
    "DEFAULT_LOG_RETENTION",
    "DEFAULT_MAX_RECORD_AGE_HOURS",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_BATCHING_WINDOW_SECONDS",
    "MAX_CONCURRENCY_RANGE",
    "MAX_FILTERS",
    "MAX_FILTER_PATTERN_CHARS",
    "MAX_READERS_PER_GLOBAL_TABLE_STREAM",
    "MAX_READERS_PER_STREAM",
    "MAX_TOKENS_RANGE",
    "MAX_TUMBLING_WINDOW_SECONDS",
    "ON_FAILURE_QUEUE_RETENTION_DAYS",
    "PARALLELIZATION_FACTOR_RANGE",
    "PIPELINE_MEMORY_MB",
    "PIPELINE_TIMEOUT_SECONDS",
    "RECORD_AGE_SECONDS_RANGE",
    "RETRY_ATTEMPTS_RANGE",
    "documented",
]

# Event source mapping limits for DynamoDB streams:
# https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html
BATCH_SIZE_RANGE = (1, 10_000)
MAX_BATCHING_WINDOW_SECONDS = 300
PARALLELIZATION_FACTOR_RANGE = (1, 10)
# AWS accepts -1 (retry forever) too; the library refuses it because one bad record would then block its shard
# until the record expires 24 hours later:
# https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
RETRY_ATTEMPTS_RANGE = (0, 10_000)
RECORD_AGE_SECONDS_RANGE = (60, 604_800)
MAX_TUMBLING_WINDOW_SECONDS = 900
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html (5 without a quota raise) and
# AWS::Lambda::EventSourceMapping Filter.Pattern (at most 4,096 characters).
MAX_FILTERS = 5
MAX_FILTER_PATTERN_CHARS = 4_096
# "No more than two processes at most should be reading from the same streams shard at the same time"; one for
# a global table, whose replication is already a reader:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.Lambda.BestPracticesWithDynamoDBStreams.html
MAX_READERS_PER_STREAM = 2
MAX_READERS_PER_GLOBAL_TABLE_STREAM = 1

DEFAULT_BATCH_SIZE = 100
# Ten retries end a poison record's hold on its shard within minutes; bisection isolates it first and does not
# use up retries.
DEFAULT_RETRY_ATTEMPTS = 10
# Well inside the stream's 24-hour retention, so a failed batch can still be re-read from the stream (its
# on-failure message holds only the sequence range) for at least 18 hours.
DEFAULT_MAX_RECORD_AGE_HOURS = 6
ON_FAILURE_QUEUE_RETENTION_DAYS = 14
DEFAULT_MEMORY_MB = 256
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_LOG_RETENTION = "one month"
DEFAULT_ITERATOR_AGE_ALARM_MINUTES = 10
DEFAULT_ALARM_EVALUATION_MINUTES = 5

# The bundled pipelines' functions: provider calls wait on the network, and more memory buys more CPU for the JSON and
# TLS work around them; the timeout leaves room for a batch's provider calls with retries (the runtime stops before
# the deadline either way).
PIPELINE_MEMORY_MB = 512
PIPELINE_TIMEOUT_SECONDS = 120
# Provider requests in flight; past 64 a function's threads cost more than they wait.
MAX_CONCURRENCY_RANGE = (1, 64)
# Claude's output limit for its current models: https://docs.anthropic.com/en/docs/about-claude/models
MAX_TOKENS_RANGE = (1, 64_000)

# When a TtlArchiver's objects move to their Glacier class: past the month in which restores are most likely.
DEFAULT_ARCHIVE_TRANSITION_DAYS = 30

_T = TypeVar("_T")


def documented(obj: _T) -> _T:
    """Substitute ``$NAME`` placeholders in ``obj.__doc__`` with this module's constants."""
    values: dict[str, Any] = {name: value for name, value in vars(contract).items() if name.startswith("DEFAULT_")}
    values.update((name, value) for name, value in globals().items() if name.isupper())
    values.update({f"{name}_MIN": value[0] for name, value in values.items() if isinstance(value, tuple)})
    values.update({f"{name}_MAX": value[1] for name, value in values.items() if isinstance(value, tuple)})
    if obj.__doc__:
        obj.__doc__ = Template(obj.__doc__).substitute(values)
    return obj
