"""AWS CDK constructs for event-driven pipelines on DynamoDB Streams.

- ``StreamTrigger``: attaches a function to a table's stream with safe defaults (bounded retries and record age,
  bisection, partial batch responses, an encrypted on-failure queue, alarms).
- ``StreamTriggeredTable``: a table with a stream plus its first ``StreamTrigger``.
- ``StreamFilter``: a typed, checked builder of event source mapping filter patterns.
- ``EmbeddingPipeline``: keeps a vector store (Pinecone, S3 Vectors) in step with a text attribute (Voyage, Titan).
- ``SummaryEnricher``: writes an AI summary (Anthropic API, Claude on Bedrock) back onto each item, loop-safe.
"""

from .dependency_layer import PythonDependencyLayer
from .embedding_models import EmbeddingModel
from .embedding_pipeline import EmbeddingPipeline
from .stream_filter import ItemImage, StreamFilter
from .stream_runtime_layer import StreamRuntimeLayer
from .stream_trigger import DEFAULT_RUNTIME, OnFailure, StreamTrigger, StreamTriggerOptions
from .stream_triggered_table import StreamTriggeredTable, StreamTriggeredTableOptions
from .summary_enricher import SummaryEnricher
from .summary_models import SummaryModel
from .vector_stores import VectorStore

__all__ = [
    "DEFAULT_RUNTIME",
    "EmbeddingModel",
    "EmbeddingPipeline",
    "ItemImage",
    "OnFailure",
    "PythonDependencyLayer",
    "StreamFilter",
    "StreamRuntimeLayer",
    "StreamTrigger",
    "StreamTriggerOptions",
    "StreamTriggeredTable",
    "StreamTriggeredTableOptions",
    "SummaryEnricher",
    "SummaryModel",
    "VectorStore",
]
