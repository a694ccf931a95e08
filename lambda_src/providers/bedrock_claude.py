"""Claude on Amazon Bedrock through boto3's InvokeModel (boto3 comes with the Lambda runtime)."""

from __future__ import annotations

import json

from .aws import BEDROCK_RETRYABLE_CODES, AwsClient
from .retry import FinalProviderError, RetryableProviderError

__all__ = ["BEDROCK_ANTHROPIC_VERSION", "BedrockClaude"]

# The Messages API version Bedrock expects in the body of an Anthropic model's request:
# https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"


class BedrockClaude:
    """A ``Summarizer``: one InvokeModel request per text to the Claude model or inference profile ``model_id``
    (e.g. ``us.anthropic.claude-haiku-4-5-20251001-v1:0``), the prompt made from ``prompt`` with the text in place of
    ``{text}``. ``max_connections``: the most calls made at once."""

    def __init__(self, *, model_id: str, max_tokens: int, prompt: str, max_connections: int) -> None:
        self.model_id = model_id
        self.max_tokens = max_tokens
        self.prompt = prompt
        self._bedrock = AwsClient(
            "bedrock-runtime", retryable_codes=BEDROCK_RETRYABLE_CODES, max_connections=max_connections
        )

    def summarize(self, text: str, *, timeout: float) -> str:
        """The summary of ``text``; raises ``RetryableProviderError`` or ``FinalProviderError``."""
        request = {
            "anthropic_version": BEDROCK_ANTHROPIC_VERSION,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": self.prompt.replace("{text}", text)}],
        }
        payload = self._bedrock.call(
            timeout,
            lambda client: client.invoke_model(
                modelId=self.model_id,
                body=json.dumps(request, separators=(",", ":")),
                contentType="application/json",
                accept="application/json",
            )["body"].read(),
        )
        try:
            answer = json.loads(payload)
        except ValueError as error:
            raise RetryableProviderError("bedrock-runtime", "malformed JSON in a 200 answer") from error
        content = answer.get("content") if isinstance(answer, dict) else None
        if not isinstance(content, list):
            raise RetryableProviderError("bedrock-runtime", "a 200 answer without a content list")
        texts = [block.get("text") for block in content if isinstance(block, dict) and block.get("type") == "text"]
        summary = "".join(text for text in texts if isinstance(text, str)).strip()
        if not summary:
            stop_reason = answer.get("stop_reason")
            raise FinalProviderError("bedrock-runtime", f"the answer holds no text (stop_reason {stop_reason})")
        return summary
