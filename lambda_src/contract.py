"""What a construct tells its bundled handler: every environment variable's name, its choices, and the defaults both
sides share, defined here once.

``constructs_pkg`` sets these variables, ``lambda_src`` reads them, and the local tooling (``constructs_pkg.local``)
inspects and overrides them; all three import the names from here, so none can drift from the others. Standard
library only: this module ships in the runtime layer.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DEFAULT_AGGREGATOR_BATCH_SIZE",
    "DEFAULT_AGGREGATOR_MARK_RETENTION_SECONDS",
    "DEFAULT_AGGREGATOR_MAX_CONCURRENCY",
    "DEFAULT_ANTHROPIC_MODEL",
    "DEFAULT_ARCHIVER_BATCHING_WINDOW_SECONDS",
    "DEFAULT_ARCHIVER_BATCH_SIZE",
    "DEFAULT_ARCHIVER_PREFIX",
    "DEFAULT_BEDROCK_MODEL",
    "DEFAULT_DEADLINE_MARGIN_MS",
    "DEFAULT_EMBEDDING_MAX_CONCURRENCY",
    "DEFAULT_FEED_BATCH_SIZE",
    "DEFAULT_FEED_CHANNEL",
    "DEFAULT_FEED_MAX_CONCURRENCY",
    "DEFAULT_LOG_LEVEL",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_PROMPT",
    "DEFAULT_REQUEST_TIMEOUT_SECONDS",
    "DEFAULT_SEARCH_MAX_BULK_ACTIONS",
    "DEFAULT_SEARCH_MAX_BULK_BYTES",
    "DEFAULT_SOURCE_ATTRIBUTE",
    "DEFAULT_SUMMARY_ATTRIBUTE",
    "DEFAULT_SUMMARY_MAX_CONCURRENCY",
    "DEFAULT_TEXT_ATTRIBUTE",
    "DEFAULT_VOYAGE_INPUT_TYPE",
    "DEFAULT_VOYAGE_MODEL",
    "FEED_MAX_EVENTS_PER_PUBLISH",
    "FEED_MAX_EVENT_BYTES",
    "PROMPT_PLACEHOLDER",
    "SEARCH_DELETED_FIELD",
    "SEARCH_SEQUENCE_FIELD",
    "AggregatorEnv",
    "ArchiverEnv",
    "EmbeddingEnv",
    "EmbeddingProvider",
    "FeedEnv",
    "PipelineEnv",
    "QuarantineMode",
    "RuntimeEnv",
    "SearchEnv",
    "SearchService",
    "SummaryEnv",
    "SummaryProvider",
    "VectorStoreKind",
    "variable_names",
]


class RuntimeEnv:
    """Read by the stream runtime in every function the library creates."""

    DEADLINE_MARGIN_MS = "STREAM_RUNTIME_DEADLINE_MARGIN_MS"
    # Where final failures go at once (a QuarantineMode), and the queue URL, topic ARN or bucket name they go to.
    QUARANTINE = "STREAM_RUNTIME_QUARANTINE"
    QUARANTINE_TARGET = "STREAM_RUNTIME_QUARANTINE_TARGET"
    LOG_LEVEL = "LOG_LEVEL"


class PipelineEnv:
    """Shared by the bundled pipeline handlers."""

    MAX_CONCURRENCY = "MAX_CONCURRENCY"
    TABLE_NAME = "TABLE_NAME"


class EmbeddingEnv:
    """EmbeddingPipeline -> ``lambda_src.embedding_pipeline``."""

    TEXT_ATTRIBUTE = "TEXT_ATTRIBUTE"
    METADATA_ATTRIBUTES = "METADATA_ATTRIBUTES"
    VECTOR_ID_ATTRIBUTES = "VECTOR_ID_ATTRIBUTES"
    REQUEST_TIMEOUT_SECONDS = "REQUEST_TIMEOUT_SECONDS"
    PROVIDER = "EMBEDDING_PROVIDER"
    PLUGIN = "EMBEDDING_PLUGIN"
    VOYAGE_MODEL = "VOYAGE_MODEL"
    VOYAGE_DIMENSIONS = "VOYAGE_DIMENSIONS"
    VOYAGE_INPUT_TYPE = "VOYAGE_INPUT_TYPE"
    VOYAGE_API_KEY_SECRET_ARN = "VOYAGE_API_KEY_SECRET_ARN"
    VOYAGE_BASE_URL = "VOYAGE_BASE_URL"
    TITAN_MODEL_ID = "TITAN_MODEL_ID"
    TITAN_DIMENSIONS = "TITAN_DIMENSIONS"
    VECTOR_STORE = "VECTOR_STORE"
    VECTOR_STORE_PLUGIN = "VECTOR_STORE_PLUGIN"
    PINECONE_INDEX_HOST = "PINECONE_INDEX_HOST"
    PINECONE_NAMESPACE = "PINECONE_NAMESPACE"
    PINECONE_API_KEY_SECRET_ARN = "PINECONE_API_KEY_SECRET_ARN"
    S3_VECTORS_BUCKET = "S3_VECTORS_BUCKET"
    S3_VECTORS_INDEX = "S3_VECTORS_INDEX"


class SummaryEnv:
    """SummaryEnricher -> ``lambda_src.summary_enricher``."""

    SOURCE_ATTRIBUTE = "SOURCE_ATTRIBUTE"
    SUMMARY_ATTRIBUTE = "SUMMARY_ATTRIBUTE"
    PROMPT = "PROMPT"
    MAX_TOKENS = "MAX_TOKENS"
    PROVIDER = "SUMMARY_PROVIDER"
    MODEL_ID = "MODEL_ID"
    ANTHROPIC_API_KEY_SECRET_ARN = "ANTHROPIC_API_KEY_SECRET_ARN"
    PLUGIN = "SUMMARIZER_PLUGIN"


class FeedEnv:
    """RealtimeFeed -> ``lambda_src.realtime_feed``."""

    # The Events API's HTTP domain (EventApi's Dns.Http), published to at https://<domain>/event with SigV4.
    HTTP_DOMAIN = "FEED_HTTP_DOMAIN"
    CHANNEL = "FEED_CHANNEL"
    ATTRIBUTES = "FEED_ATTRIBUTES"
    PRIVATE_ATTRIBUTES = "FEED_PRIVATE_ATTRIBUTES"


class SearchEnv:
    """SearchIndexer -> ``lambda_src.search_indexer``."""

    ENDPOINT = "SEARCH_ENDPOINT"
    INDEX = "SEARCH_INDEX"
    ATTRIBUTES = "SEARCH_ATTRIBUTES"
    # The index's field mappings, as the JSON of OpenSearch's "properties", created with the index on first use.
    MAPPINGS = "SEARCH_MAPPINGS"
    SERVICE = "SEARCH_SERVICE"
    MAX_BULK_BYTES = "SEARCH_MAX_BULK_BYTES"
    MAX_BULK_ACTIONS = "SEARCH_MAX_BULK_ACTIONS"


class AggregatorEnv:
    """StreamAggregator -> ``lambda_src.stream_aggregator``."""

    TARGET_TABLE = "AGGREGATOR_TARGET_TABLE"
    # The groups, measures and filter, as the JSON of lambda_src.stream_aggregator.spec.AggregationSpec.
    SPEC = "AGGREGATOR_SPEC"
    MARK_RETENTION_SECONDS = "AGGREGATOR_MARK_RETENTION_SECONDS"
    MAX_CONCURRENCY = "AGGREGATOR_MAX_CONCURRENCY"
    # "true": sum each tumbling window's records in the mapping's state and write once at its end.
    FLUSH_PER_WINDOW = "AGGREGATOR_FLUSH_PER_WINDOW"


class ArchiverEnv:
    """TtlArchiver -> ``lambda_src.ttl_archiver``."""

    BUCKET = "ARCHIVER_BUCKET"
    # Put before every object key, e.g. "archive/": objects go under <prefix>expiry_date=YYYY-MM-DD/.
    PREFIX = "ARCHIVER_PREFIX"
    # The table's TTL attribute, whose day partitions the archive.
    TTL_ATTRIBUTE = "ARCHIVER_TTL_ATTRIBUTE"


class QuarantineMode(StrEnum):
    """Where the runtime sends a record whose failure is final, instead of leaving it to the mapping's retries."""

    SQS = "sqs"
    SNS = "sns"
    S3 = "s3"
    # The trigger's on_failure is OnFailure.DISCARD: a final failure is logged and counted, then dropped.
    DISCARD = "discard"


class EmbeddingProvider(StrEnum):
    VOYAGE = "voyage"
    TITAN = "titan"
    PLUGIN = "plugin"


class VectorStoreKind(StrEnum):
    PINECONE = "pinecone"
    S3_VECTORS = "s3vectors"
    PLUGIN = "plugin"


class SearchService(StrEnum):
    """Who serves the index, and so the SigV4 service name its requests are signed for."""

    DOMAIN = "es"  # an OpenSearch Service domain
    SERVERLESS = "aoss"  # an OpenSearch Serverless collection


class SummaryProvider(StrEnum):
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    PLUGIN = "plugin"


# Stop this long before the function's timeout: a timeout fails the whole batch, the records done included.
DEFAULT_DEADLINE_MARGIN_MS = 5_000
DEFAULT_LOG_LEVEL = "INFO"

DEFAULT_TEXT_ATTRIBUTE = "body"
DEFAULT_EMBEDDING_MAX_CONCURRENCY = 8
# Long enough for a 1,000-text embedding request, short enough to leave a retry inside a one-minute function.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 20
DEFAULT_VOYAGE_MODEL = "voyage-3.5"
DEFAULT_VOYAGE_INPUT_TYPE = "document"

# The seed's choices: summarize `body` in one sentence with claude-haiku-4-5, at most 150 tokens, into `aiSummary`.
DEFAULT_SOURCE_ATTRIBUTE = "body"
DEFAULT_SUMMARY_ATTRIBUTE = "aiSummary"
DEFAULT_MAX_TOKENS = 150
PROMPT_PLACEHOLDER = "{text}"
DEFAULT_PROMPT = f"Summarize in one sentence: {PROMPT_PLACEHOLDER}"
# The seed's model alias; still valid, though Anthropic now labels it legacy. Keep it a parameter.
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
DEFAULT_BEDROCK_MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
# Summaries are network waits of about a second each: 16 in flight keeps a batch of 100 to 7 rounds. Lower it
# (max_concurrency) for a low Anthropic rate-limit tier; 429s are retried after their Retry-After either way.
DEFAULT_SUMMARY_MAX_CONCURRENCY = 16

# The Events API's limits: at most 5 events per publish (https://docs.aws.amazon.com/appsync/latest/eventapi/publish-http.html)
# and 240 KB per event (https://docs.aws.amazon.com/appsync/latest/eventapi/event-api-concepts.html), counted here as
# 240,000 bytes of the stringified event, the stricter reading of "KB".
FEED_MAX_EVENTS_PER_PUBLISH = 5
FEED_MAX_EVENT_BYTES = 240_000
DEFAULT_FEED_CHANNEL = "/items/{PK}"
# A backlog goes out in fuller requests: five events per publish and channel, and per batch each channel's last publish
# is rarely full, so larger batches come closer to the floor (benchmarks.feed_and_search: 1.18 times the floor with
# batches of 100, 1.0 with 1,000). No batching window: a quiet stream's change is still published at once.
DEFAULT_FEED_BATCH_SIZE = 1_000
# Publishes to distinct channels in flight at once; one channel's publishes always go one after another.
DEFAULT_FEED_MAX_CONCURRENCY = 8

# Every document the SearchIndexer writes carries the stream sequence number of the change it holds (40 digits,
# zero-padded, so that text order is number order) and whether the item is deleted (a tombstone).
SEARCH_SEQUENCE_FIELD = "stream_sequence"
SEARCH_DELETED_FIELD = "stream_deleted"
# Far below the smallest domain's HTTP payload limit, and in the 5-15 MiB AWS suggests for bulk requests.
DEFAULT_SEARCH_MAX_BULK_BYTES = 5 * 1024 * 1024
DEFAULT_SEARCH_MAX_BULK_ACTIONS = 1_000

# The writes are one per group a batch touches, so a fuller batch writes less per record; GetRecords reads up to
# 1,000 records a call (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html).
DEFAULT_AGGREGATOR_BATCH_SIZE = 1_000
# A shard's high-water mark must outlive every copy of its records that may still come: the stream keeps them 24 hours
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html) and an SQS on-failure queue keeps a
# message up to 14 days for a redrive (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html).
DEFAULT_AGGREGATOR_MARK_RETENTION_SECONDS = (1 + 14) * 24 * 3600
# Group updates in flight at once; one group's updates always go one after another.
DEFAULT_AGGREGATOR_MAX_CONCURRENCY = 8

# Objects are one per expiry day a batch holds, so the fuller the batch the larger the object: the mapping's most
# records and longest batching window (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html); Lambda's 6 MB
# payload limit ends a batch before 10,000 records of more than about 500 bytes.
DEFAULT_ARCHIVER_BATCH_SIZE = 10_000
DEFAULT_ARCHIVER_BATCHING_WINDOW_SECONDS = 300
DEFAULT_ARCHIVER_PREFIX = "archive/"

_VARIABLE_CLASSES = (
    RuntimeEnv,
    PipelineEnv,
    EmbeddingEnv,
    SummaryEnv,
    FeedEnv,
    SearchEnv,
    AggregatorEnv,
    ArchiverEnv,
)


def variable_names() -> frozenset[str]:
    """Every environment variable name of the contract."""
    return frozenset(
        value
        for namespace in _VARIABLE_CLASSES
        for name, value in vars(namespace).items()
        if name.isupper() and isinstance(value, str)
    )
