"""Claude through the Anthropic Messages API, with the official ``anthropic`` SDK.

The SDK is not in the Lambda runtime: it ships in a layer and is imported on first use, so a function configured for
another provider never loads it.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

from . import secrets
from .http import parse_retry_after
from .retry import FinalProviderError, RetryableProviderError, classify_status

if TYPE_CHECKING:
    import anthropic

__all__ = ["AnthropicMessages"]

PROVIDER = "anthropic"


class AnthropicMessages:
    """A ``Summarizer``: one Messages API request per text, the prompt made from ``prompt`` with the text in place of
    ``{text}``. The API key is read from Secrets Manager (``api_key_secret_id``) on the first call.

    The SDK's own retries are off: ``call_with_retries`` is the one retry loop, the one that knows the Lambda
    deadline and never retries a spend-limit 429. ANTHROPIC_BASE_URL, read by the SDK, points it elsewhere.
    """

    def __init__(self, *, model: str, max_tokens: int, prompt: str, api_key_secret_id: str) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.prompt = prompt
        self._api_key_secret_id = api_key_secret_id
        self._client: anthropic.Anthropic | None = None
        self._client_lock = threading.Lock()

    def summarize(self, text: str, *, timeout: float) -> str:
        """The summary of ``text``; raises ``RetryableProviderError`` or ``FinalProviderError``."""
        import anthropic

        prompt = self.prompt.replace("{text}", text)
        try:
            message = self._anthropic(timeout).messages.create(
                model=self.model,
                max_tokens=self.max_tokens,
                messages=[{"role": "user", "content": prompt}],
                timeout=timeout,
            )
        except anthropic.APIStatusError as error:
            raise classify_status(
                PROVIDER,
                error.status_code,
                error.api_message or "no message",
                code=error.error_code or error.type,
                retry_after=parse_retry_after(error.response.headers),
            ) from error
        except anthropic.APITimeoutError as error:
            raise RetryableProviderError(PROVIDER, "timed out") from error
        except anthropic.APIConnectionError as error:
            raise RetryableProviderError(PROVIDER, "connection failed") from error
        except json.JSONDecodeError as error:
            # The SDK hands a cut-off body or a proxy's page over as is: the API did not answer what it meant to.
            raise RetryableProviderError(PROVIDER, "malformed JSON in a 200 answer") from error
        if not isinstance(message.content, list):
            raise RetryableProviderError(PROVIDER, "a 200 answer without a content list")
        summary = "".join(block.text for block in message.content if block.type == "text").strip()
        if not summary:
            raise FinalProviderError(PROVIDER, f"the answer holds no text (stop_reason {message.stop_reason})")
        return summary

    def _anthropic(self, timeout: float) -> anthropic.Anthropic:
        with self._client_lock:
            if self._client is None:
                import anthropic

                # Every request passes its own timeout; the client's only replaces the SDK's default of 600 s:
                # https://github.com/anthropics/anthropic-sdk-python#timeouts
                self._client = anthropic.Anthropic(
                    api_key=secrets.api_key(self._api_key_secret_id), max_retries=0, timeout=timeout
                )
            return self._client
