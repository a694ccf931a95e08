"""Voyage AI's embeddings API on 127.0.0.1, for the pipeline's plain-HTTP client given its URL.

Answers ``POST /v1/embeddings`` as https://docs.voyageai.com/reference/embeddings-api does: a bearer key, at most
1,000 inputs and the model's tokens per request, ``{object, data: [{object, embedding, index}], model, usage}``, and
errors as ``{"detail": ...}``. The data list comes back in reverse order: the API names each input by ``index``, and
a client that relies on the list's order is wrong. The embedding of a text is ``embedding_of(text, dimensions)``, so
a test can tell which text a stored vector came from. A request with an input holding ``refuse_marker`` is refused
with a 400, as the API refuses a request for one bad input.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random

from constructs_pkg.local.stubs.server import Reply, Request, StubServer

__all__ = ["API_KEY", "DEFAULT_DIMENSIONS", "VoyageStub", "embedding_of", "voyage_error"]

API_KEY = "pa-voyage-stub-key"
DEFAULT_DIMENSIONS = 1024
_TOKENS_PER_REQUEST = {"voyage-3.5": 320_000, "voyage-3.5-lite": 1_000_000, "voyage-3-large": 120_000}
_OUTPUT_DIMENSIONS = {256, 512, 1024, 2048}
_CONTEXT_TOKENS = 32_000


def embedding_of(text: str, dimensions: int) -> list[float]:
    """A unit vector that depends on ``text`` alone, as the real models' are unit length."""
    generator = random.Random(hashlib.sha256(text.encode()).digest())
    values = [generator.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(value * value for value in values))
    return [value / norm for value in values]


@functools.lru_cache(maxsize=1024)
def _embedding_json(text: str, dimensions: int) -> str:
    # The stub shares its process with the client it serves: drawing 1,024 Gaussians and writing them out for each of
    # a batch's texts costs the process about 100 ms every batch, more than the client's own work. Once is enough.
    return json.dumps(embedding_of(text, dimensions))


def voyage_error(status: int, detail: str, **headers: str) -> Reply:
    return Reply(status=status, body={"detail": detail}, headers=headers)


class VoyageStub(StubServer):
    """Answers ``POST /v1/embeddings`` for ``API_KEY``; ``inputs()`` lists the texts of each request."""

    EMBEDDINGS = r"^/v1/embeddings$"

    def __init__(self, *, latency: float = 0.0, refuse_marker: str = "\x00refuse") -> None:
        super().__init__(latency=latency)
        self.refuse_marker = refuse_marker
        self.route("POST", self.EMBEDDINGS, self._embeddings)

    def inputs(self) -> list[list[str]]:
        """The texts of every request that reached /v1/embeddings, in arrival order."""
        return [request.json()["input"] for request in self.requests_to(self.EMBEDDINGS)]

    # The errors the API documents (https://docs.voyageai.com/docs/error-codes), as it sends them.
    @staticmethod
    def rate_limited(retry_after: str) -> Reply:
        return voyage_error(429, "Rate limit exceeded.", **{"Retry-After": retry_after})

    @staticmethod
    def server_error() -> Reply:
        return voyage_error(500, "Internal server error.")

    @staticmethod
    def overloaded() -> Reply:
        return voyage_error(529, "The service is overloaded.")

    @staticmethod
    def malformed() -> Reply:
        return Reply(status=200, raw=b'{"object": "list", "data": [{"obj')

    @staticmethod
    def delayed(seconds: float) -> Reply:
        """An answer sent after ``seconds``: longer than the client's timeout, it never arrives."""
        return Reply(body={"object": "list", "data": []}, delay=seconds)

    def _embeddings(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return voyage_error(401, "Provided API key is invalid.")
        body = request.json()
        texts, model = body.get("input"), body.get("model")
        if not isinstance(texts, list) or not texts or not all(isinstance(text, str) and text for text in texts):
            return voyage_error(400, "input must be a non-empty list of non-empty strings.")
        if model not in _TOKENS_PER_REQUEST:
            return voyage_error(400, f"Model {model} is not supported.")
        if len(texts) > 1_000:
            return voyage_error(400, f"The batch size {len(texts)} exceeds the limit of 1000.")
        dimensions = body.get("output_dimension", DEFAULT_DIMENSIONS)
        if dimensions not in _OUTPUT_DIMENSIONS or body.get("input_type") not in (None, "document", "query"):
            return voyage_error(400, "output_dimension or input_type is not supported.")
        # About four bytes a token for prose; with truncation on, each text counts up to the context length.
        tokens = [min(_CONTEXT_TOKENS, len(text.encode()) // 4 + 1) for text in texts]
        if sum(tokens) > _TOKENS_PER_REQUEST[model]:
            return voyage_error(400, f"The max allowed tokens per submitted batch is {_TOKENS_PER_REQUEST[model]}.")
        if any(self.refuse_marker in text for text in texts):
            return voyage_error(400, "Input cannot be processed.")
        # json.dumps of {object, data: [{object, embedding, index}], model, usage}, with the data list reversed.
        data = ", ".join(
            f'{{"object": "embedding", "embedding": {_embedding_json(text, dimensions)}, "index": {index}}}'
            for index, text in reversed(list(enumerate(texts)))
        )
        usage = json.dumps({"total_tokens": sum(tokens)})
        return Reply(
            raw=f'{{"object": "list", "data": [{data}], "model": {json.dumps(model)}, "usage": {usage}}}'.encode()
        )
