"""AWS CDK constructs for event-driven pipelines on DynamoDB Streams.

- ``StreamTrigger``: attaches a function to a table's stream with safe defaults (bounded retries and record age,
  bisection, partial batch responses, an encrypted on-failure queue, alarms).
- ``StreamTriggeredTable``: a table with a stream plus its first ``StreamTrigger``.
- ``StreamFilter``: a typed, checked builder of event source mapping filter patterns.
- ``StreamPipeline``: the base of every construct whose handler the library bundles (the two below, and yours).
- ``EmbeddingPipeline``: keeps a vector store (Pinecone, S3 Vectors) in step with a text attribute (Voyage, Titan).
- ``SummaryEnricher``: writes an AI summary (Anthropic API, Claude on Bedrock) back onto each item, loop-safe.
- ``RealtimeFeed``: pushes each change to AppSync Events subscribers, in order per item, never dropped.
- ``SearchIndexer``: keeps an OpenSearch index in step with the table, fenced by stream sequence.
- ``StreamAggregator``: counts and exact sums per group in a table, exact under retries and redrives.
- ``TtlArchiver``: the items time to live deletes, archived to S3 by expiry day, on their way to Glacier.

The constructs import aws_cdk (and start jsii's Node.js process) when first used, not on ``import constructs_pkg``:
the local tooling (``python -m constructs_pkg.local``: redrive, ``run --aws``, ``run`` on a synthesized cdk.out)
works where only boto3 is installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # For type checkers and IDEs; at run time each name is imported on first use by __getattr__ below.
    from .dependency_layer import PythonDependencyLayer as PythonDependencyLayer
    from .embedding_models import EmbeddingModel as EmbeddingModel
    from .embedding_pipeline import EmbeddingPipeline as EmbeddingPipeline
    from .failure_destinations import OnFailure as OnFailure
    from .provider_binding import Binding as Binding
    from .realtime_feed import RealtimeFeed as RealtimeFeed
    from .search_indexer import SearchIndexer as SearchIndexer
    from .stream_aggregator import AggregateFilter as AggregateFilter
    from .stream_aggregator import GroupBy as GroupBy
    from .stream_aggregator import Measure as Measure
    from .stream_aggregator import StreamAggregator as StreamAggregator
    from .stream_filter import ItemImage as ItemImage
    from .stream_filter import StreamFilter as StreamFilter
    from .stream_pipeline import StreamPipeline as StreamPipeline
    from .stream_runtime_layer import StreamRuntimeLayer as StreamRuntimeLayer
    from .stream_trigger import DEFAULT_RUNTIME as DEFAULT_RUNTIME
    from .stream_trigger import StreamTrigger as StreamTrigger
    from .stream_trigger import StreamTriggerOptions as StreamTriggerOptions
    from .stream_triggered_table import StreamTriggeredTable as StreamTriggeredTable
    from .stream_triggered_table import StreamTriggeredTableOptions as StreamTriggeredTableOptions
    from .summary_enricher import SummaryEnricher as SummaryEnricher
    from .summary_models import SummaryModel as SummaryModel
    from .ttl_archiver import TtlArchiver as TtlArchiver
    from .vector_stores import VectorStore as VectorStore

# Each public name and the module that defines it.
_MODULES = {
    "AggregateFilter": ".stream_aggregator",
    "Binding": ".provider_binding",
    "DEFAULT_RUNTIME": ".stream_trigger",
    "EmbeddingModel": ".embedding_models",
    "EmbeddingPipeline": ".embedding_pipeline",
    "GroupBy": ".stream_aggregator",
    "ItemImage": ".stream_filter",
    "Measure": ".stream_aggregator",
    "OnFailure": ".failure_destinations",
    "PythonDependencyLayer": ".dependency_layer",
    "RealtimeFeed": ".realtime_feed",
    "SearchIndexer": ".search_indexer",
    "StreamAggregator": ".stream_aggregator",
    "StreamFilter": ".stream_filter",
    "StreamPipeline": ".stream_pipeline",
    "StreamRuntimeLayer": ".stream_runtime_layer",
    "StreamTrigger": ".stream_trigger",
    "StreamTriggerOptions": ".stream_trigger",
    "StreamTriggeredTable": ".stream_triggered_table",
    "StreamTriggeredTableOptions": ".stream_triggered_table",
    "SummaryEnricher": ".summary_enricher",
    "SummaryModel": ".summary_models",
    "TtlArchiver": ".ttl_archiver",
    "VectorStore": ".vector_stores",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])
