"""``_bulk`` requests sized to the domain's limits, with every item's outcome kept and the retryable ones sent again
within the time left: the part of the indexer that a reindex shares."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from lambda_src.providers import FinalProviderError, ProviderError, RetryableProviderError, RetryPolicy

from .opensearch import BulkAction, OpenSearchIndex

__all__ = ["MAX_BULK_SECONDS", "BulkWriter", "packed"]

# A 5 MiB bulk request is indexed in about a second on a small domain; past this, a fresh attempt is the better bet.
MAX_BULK_SECONDS = 30.0
_MIN_CALL_SECONDS = 1.0


def packed(actions: Sequence[BulkAction], max_bytes: int, max_actions: int) -> list[list[int]]:
    """The positions of ``actions`` grouped into requests of at most ``max_bytes`` and ``max_actions``, in order; an
    action larger than ``max_bytes`` alone is left out (the caller fails it)."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for position, action in enumerate(actions):
        length = len(action.lines)
        if length > max_bytes:
            continue
        if current and (size + length > max_bytes or len(current) >= max_actions):
            groups.append(current)
            current, size = [], 0
        current.append(position)
        size += length
    if current:
        groups.append(current)
    return groups


class BulkWriter:
    """Writes actions to ``index`` in requests of at most ``max_bytes`` and ``max_actions``."""

    def __init__(
        self,
        index: OpenSearchIndex,
        *,
        max_bytes: int,
        max_actions: int,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.index = index
        self.max_bytes = max_bytes
        self.max_actions = max_actions
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    def write(
        self, actions: Sequence[BulkAction], remaining: Callable[[], float] = lambda: math.inf
    ) -> list[BaseException | None]:
        """One outcome per action: None when applied (or fenced off as older), else the error that stands after the
        retries the time left allows."""
        outcome: list[BaseException | None] = [None] * len(actions)
        pending: list[int] = []
        for position, action in enumerate(actions):
            if len(action.lines) > self.max_bytes:
                outcome[position] = FinalProviderError(
                    "opensearch", f"a document of {len(action.lines)} bytes exceeds the bulk limit of {self.max_bytes}"
                )
            else:
                pending.append(position)
        attempt = 0
        while pending:
            attempt += 1
            retry: list[int] = []
            subset = [actions[position] for position in pending]
            for group in packed(subset, self.max_bytes, self.max_actions):
                positions = [pending[member] for member in group]
                timeout = min(MAX_BULK_SECONDS, remaining())
                if timeout < _MIN_CALL_SECONDS:
                    error = RetryableProviderError("opensearch", "too little time left before the function times out")
                    for position in positions:
                        outcome[position] = outcome[position] or error
                    continue
                try:
                    results: list[ProviderError | None] = self.index.bulk(
                        [actions[position] for position in positions], timeout=timeout
                    )
                except ProviderError as error:
                    results = [error] * len(positions)
                for position, result in zip(positions, results, strict=True):
                    outcome[position] = result
                    if isinstance(result, RetryableProviderError):
                        retry.append(position)
            if not retry or attempt >= self.policy.max_attempts:
                break
            hints = [getattr(outcome[position], "retry_after", None) for position in retry]
            wait = self.policy.delay(attempt, max((hint for hint in hints if hint is not None), default=None))
            if wait >= remaining():
                break
            self._sleep(wait)
            pending = retry
        return outcome
