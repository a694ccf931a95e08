"""What the AI pipelines' handlers share: provider errors and retries, JSON over HTTPS, API keys, plug-in interfaces.

Every provider client raises ``RetryableProviderError`` or ``FinalProviderError``; ``call_with_retries`` is the
one place that decides whether, and when, to try again.
"""

from .interfaces import EmbeddingModel, Summarizer, Vector, VectorStore, load_plugin
from .retry import (
    FinalProviderError,
    ProviderError,
    RetryableProviderError,
    RetryPolicy,
    call_with_retries,
    classify_status,
)

__all__ = [
    "EmbeddingModel",
    "FinalProviderError",
    "ProviderError",
    "RetryPolicy",
    "RetryableProviderError",
    "Summarizer",
    "Vector",
    "VectorStore",
    "call_with_retries",
    "classify_status",
    "load_plugin",
]
