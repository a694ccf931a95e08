"""Voyage AI embeddings over plain HTTPS: the official SDK pulls in numpy and tokenizers, too heavy for Lambda.

API reference: https://docs.voyageai.com/reference/embeddings-api
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .http import JsonHttpClient
from .retry import RetryableProviderError

__all__ = [
    "VOYAGE_BASE_URL",
    "VOYAGE_CONTEXT_TOKENS",
    "VOYAGE_DEFAULT_TOKENS_PER_REQUEST",
    "VOYAGE_INPUT_TYPES",
    "VOYAGE_MAX_TEXTS_PER_REQUEST",
    "VOYAGE_MODEL_DIMENSIONS",
    "VOYAGE_OUTPUT_DIMENSIONS",
    "VOYAGE_TOKENS_PER_REQUEST",
    "VoyageEmbeddings",
]

VOYAGE_BASE_URL = "https://api.voyageai.com"
# Request limits, from https://docs.voyageai.com/reference/embeddings-api: at most 1,000 texts, and at most a
# model-specific number of tokens summed over them.
VOYAGE_MAX_TEXTS_PER_REQUEST = 1_000
VOYAGE_TOKENS_PER_REQUEST = {
    "voyage-3.5": 320_000,
    "voyage-3.5-lite": 1_000_000,
    "voyage-3-large": 120_000,
}
# The smallest cap the same page lists (voyage-3-large, voyage-code-3, the voyage-2 family), so that a model this
# table does not know yet never gets a request it must refuse.
VOYAGE_DEFAULT_TOKENS_PER_REQUEST = 120_000
# Each text's context length; with truncation=true the API cuts a longer text to it rather than refusing it:
# https://docs.voyageai.com/docs/embeddings
VOYAGE_CONTEXT_TOKENS = 32_000
# The values output_dimension takes, for the models that take it (voyage-3.5, voyage-3.5-lite, voyage-3-large).
VOYAGE_OUTPUT_DIMENSIONS = frozenset({256, 512, 1024, 2048})
# Each known model's default output size and the sizes it takes (https://docs.voyageai.com/docs/embeddings): voyage-3
# has one size only.
VOYAGE_MODEL_DIMENSIONS = {
    "voyage-3.5": (1024, VOYAGE_OUTPUT_DIMENSIONS),
    "voyage-3.5-lite": (1024, VOYAGE_OUTPUT_DIMENSIONS),
    "voyage-3-large": (1024, VOYAGE_OUTPUT_DIMENSIONS),
    "voyage-3": (1024, frozenset({1024})),
}
VOYAGE_INPUT_TYPES = frozenset({"document", "query"})

# Voyage's current tokenizers are byte-level BPE (https://docs.voyageai.com/docs/tokenization), so a text never has
# more tokens than UTF-8 bytes, and English prose averages four to five bytes a token. Two bytes a token
# overestimates prose about twofold and CJK text (three bytes a character) by about a third; only text that
# tokenizes worse than two bytes a token (long runs of digits or symbols) can exceed the estimate, by at most
# twofold, and the pipeline splits a refused request in halves, which then fit.
_UTF8_BYTES_PER_TOKEN = 2
# Room for the start and end tokens the tokenizer may add to each text.
_SPECIAL_TOKENS_PER_TEXT = 2


class VoyageEmbeddings:
    """Embeds texts with one ``POST /v1/embeddings`` per call; implements ``EmbeddingModel``.

    ``dimensions=None`` keeps the model's default size; ``input_type="document"`` suits stored content.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        input_type: str = "document",
        dimensions: int | None = None,
        base_url: str = VOYAGE_BASE_URL,
    ) -> None:
        self.model = model
        self.max_batch_texts = VOYAGE_MAX_TEXTS_PER_REQUEST
        self.max_batch_tokens = VOYAGE_TOKENS_PER_REQUEST.get(model, VOYAGE_DEFAULT_TOKENS_PER_REQUEST)
        self._input_type = input_type
        self._dimensions = dimensions
        self._http = JsonHttpClient("voyage", base_url, {"Authorization": f"Bearer {api_key}"})

    def estimate_tokens(self, text: str) -> int:
        """An upper estimate of the tokens ``text`` counts for in a request (see ``_UTF8_BYTES_PER_TOKEN``)."""
        utf8_bytes = len(text.encode("utf-8", "surrogatepass"))
        return min(VOYAGE_CONTEXT_TOKENS, math.ceil(utf8_bytes / _UTF8_BYTES_PER_TOKEN) + _SPECIAL_TOKENS_PER_TEXT)

    def embed(self, texts: Sequence[str], *, timeout: float) -> list[list[float]]:
        body: dict[str, Any] = {
            "input": list(texts),
            "model": self.model,
            "input_type": self._input_type,
            "truncation": True,
        }
        if self._dimensions is not None:
            body["output_dimension"] = self._dimensions
        return _embeddings_in_input_order(self._http.post("/v1/embeddings", body, timeout=timeout), len(texts))


def _embeddings_in_input_order(answer: Any, count: int) -> list[list[float]]:
    # The API names each embedding's input by data[i].index rather than promising the order of the list.
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or len(data) != count:
        raise RetryableProviderError("voyage", f"expected {count} embeddings in data, got another answer")
    ordered: list[list[float] | None] = [None] * count
    for entry in data:
        index = entry.get("index") if isinstance(entry, dict) else None
        embedding = entry.get("embedding") if isinstance(entry, dict) else None
        if type(index) is not int or not 0 <= index < count or ordered[index] is not None:
            raise RetryableProviderError("voyage", f"an embedding with a missing, repeated or stray index {index!r}")
        if not isinstance(embedding, list) or not embedding:
            raise RetryableProviderError("voyage", f"embedding {index} is not a list of numbers")
        ordered[index] = embedding
    return [embedding for embedding in ordered if embedding is not None]
