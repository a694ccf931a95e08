"""Amazon Titan Text Embeddings V2 through boto3's bedrock-runtime InvokeModel, one text a call.

Model parameters: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html
boto3 is imported on the first call, so a pipeline on another provider never loads it for embeddings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .aws import BEDROCK_RETRYABLE_CODES, AwsClient
from .retry import RetryableProviderError

__all__ = [
    "TITAN_DEFAULT_DIMENSIONS",
    "TITAN_DIMENSIONS",
    "TITAN_MAX_INPUT_CHARACTERS",
    "TITAN_MAX_INPUT_TOKENS",
    "TITAN_V2_MODEL_ID",
    "TitanEmbeddings",
]

TITAN_V2_MODEL_ID = "amazon.titan-embed-text-v2:0"
# From the model parameters page above: one text per call, at most 8,192 tokens or 50,000 characters, and an
# output of 1,024 (the default), 512 or 256 dimensions.
TITAN_MAX_INPUT_CHARACTERS = 50_000
TITAN_MAX_INPUT_TOKENS = 8_192
TITAN_DIMENSIONS = frozenset({256, 512, 1024})
TITAN_DEFAULT_DIMENSIONS = 1024


class TitanEmbeddings:
    """Embeds one text per InvokeModel call; implements ``EmbeddingModel``. A text over 50,000 characters is cut to
    that length here, since the model refuses longer ones. ``max_connections``: the most calls made at once."""

    max_batch_texts = 1
    max_batch_tokens = TITAN_MAX_INPUT_TOKENS

    def __init__(self, *, model_id: str, dimensions: int, max_connections: int) -> None:
        self.model_id = model_id
        self._dimensions = dimensions
        self._bedrock = AwsClient(
            "bedrock-runtime", retryable_codes=BEDROCK_RETRYABLE_CODES, max_connections=max_connections
        )

    def embed(self, texts: Sequence[str], *, timeout: float) -> list[list[float]]:
        return [self._embed_one(text, timeout) for text in texts]

    def _embed_one(self, text: str, timeout: float) -> list[float]:
        body = json.dumps(
            {"inputText": text[:TITAN_MAX_INPUT_CHARACTERS], "dimensions": self._dimensions, "normalize": True}
        )
        payload = self._bedrock.call(
            timeout,
            lambda client: client.invoke_model(
                modelId=self.model_id, body=body, contentType="application/json", accept="application/json"
            )["body"].read(),
        )
        try:
            answer = json.loads(payload)
        except ValueError as error:
            raise RetryableProviderError("bedrock-runtime", "malformed JSON in an InvokeModel answer") from error
        embedding = answer.get("embedding") if isinstance(answer, dict) else None
        if not isinstance(embedding, list) or not embedding:
            raise RetryableProviderError("bedrock-runtime", "an InvokeModel answer without an embedding")
        return embedding
