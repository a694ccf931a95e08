"""Provider errors, classified once, and the bounded, jittered, deadline-aware retry loop."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from lambda_src.stream_runtime import PermanentError, RetryableError

__all__ = [
    "FinalProviderError",
    "ProviderError",
    "RetryPolicy",
    "RetryableProviderError",
    "call_with_retries",
    "classify_status",
]

_T = TypeVar("_T")

# 408 timeout, 409 conflict, 429 rate limit, 5xx server errors and Anthropic's 529 overloaded are transient:
# https://docs.anthropic.com/en/api/errors, https://docs.pinecone.io/troubleshooting/handle-rate-limits
_RETRYABLE_STATUSES = frozenset({408, 409, 429})
# A 429 that says the account's spend limit is reached stays so until a person acts: retrying only burns time.
_SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached"})


class ProviderError(Exception):
    """A provider's refusal or failure: which provider, the HTTP status (None for a network failure), its code."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}" + (f" (HTTP {status})" if status is not None else ""))
        self.provider = provider
        self.status = status
        self.code = code
        self.retry_after = retry_after


class RetryableProviderError(ProviderError, RetryableError):
    """Transient: a timeout, a dropped connection, a rate limit, an overloaded or failing server."""


class FinalProviderError(ProviderError, PermanentError):
    """Final: a bad request, bad credentials, a missing resource, a spend limit. Retrying will not help."""


def classify_status(
    provider: str, status: int, message: str, *, code: str | None = None, retry_after: float | None = None
) -> ProviderError:
    """The error for an HTTP ``status``: retryable for 408, 409, 429 (but a spend limit), 5xx and 529."""
    retryable = (status in _RETRYABLE_STATUSES or status >= 500) and code not in _SPEND_LIMIT_CODES
    error_type = RetryableProviderError if retryable else FinalProviderError
    return error_type(provider, message, status=status, code=code, retry_after=retry_after)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; a provider's Retry-After is honoured up to ``retry_after_cap``."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 20.0

    def delay(self, retry: int, retry_after: float | None, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        # Half fixed, half random: spreads out callers that failed together without collapsing to zero.
        backoff = ceiling / 2 + rng() * ceiling / 2
        if retry_after is not None:
            return max(backoff, min(retry_after, self.retry_after_cap))
        return backoff


def call_with_retries(
    operation: Callable[[], _T],
    *,
    policy: RetryPolicy,
    remaining_seconds: Callable[[], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> _T:
    """Run ``operation``, retrying ``RetryableError``s as ``policy`` allows and never past the time remaining.

    ``remaining_seconds`` tells how long the caller may still spend (the Lambda deadline less a margin); a retry
    whose wait would not leave time for the call itself is not made, and the last error is raised instead.
    """
    retry = 0
    while True:
        try:
            return operation()
        except RetryableError as error:
            retry += 1
            if retry >= policy.max_attempts:
                raise
            wait = policy.delay(retry, getattr(error, "retry_after", None))
            if remaining_seconds is not None and wait >= remaining_seconds():
                raise
            sleep(wait)
