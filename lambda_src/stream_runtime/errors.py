"""The exceptions of the stream runtime, split by whether a retry can help."""

from __future__ import annotations

__all__ = ["MalformedRecordError", "PermanentError", "RetryableError", "StreamRuntimeError", "is_final"]


class StreamRuntimeError(Exception):
    """Base of every error the stream runtime raises; catch it to handle them all."""


class MalformedRecordError(StreamRuntimeError):
    """A record, or a whole event, that cannot be parsed. Final: redelivering the same JSON cannot fix it."""


class RetryableError(StreamRuntimeError):
    """A transient failure (throttling, a timeout, a dependency briefly down): worth a retry."""


class PermanentError(StreamRuntimeError):
    """A failure that will recur on every attempt (invalid data, a rejected request): not worth a retry."""


def is_final(error: BaseException) -> bool:
    """Whether ``error`` will recur on every attempt: a malformed record, or a PermanentError (a provider's final error
    included). Anything else, an unexpected exception included, is worth the mapping's retries."""
    return isinstance(error, MalformedRecordError | PermanentError)
