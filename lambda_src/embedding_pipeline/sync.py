"""Apply a batch's vector changes in as few provider requests as the limits allow, in parallel, failing per record."""

from __future__ import annotations

import contextvars
import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from lambda_src.providers import (
    EmbeddingModel,
    FinalProviderError,
    RetryPolicy,
    Vector,
    VectorStore,
    call_with_retries,
)
from lambda_src.providers.pinecone import PineconeIndex
from lambda_src.providers.s3_vectors import S3VectorsIndex
from lambda_src.stream_runtime import (
    ChangeFailure,
    Deadline,
    ItemChange,
    PermanentError,
    RetryableError,
    get_logger,
    process_item_changes,
    put_metric,
)

from .changes import Action, Change, plan_changes
from .config import PipelineConfig
from .vectors import float32_values, serialized_size

__all__ = ["SPLIT_STATUSES", "VectorSync"]

_T = TypeVar("_T")
_R = TypeVar("_R")

# A request refused for what it carries (400 bad request, 413 too large, 422 unprocessable) may be refused for one
# input among many: its halves are tried, and theirs, so that only the inputs refused on their own fail.
SPLIT_STATUSES = frozenset({400, 413, 422})
# Estimated tokens for a model that does not estimate its own (see voyage.py for why two UTF-8 bytes a token).
_UTF8_BYTES_PER_TOKEN = 2
_RETRY_POLICY = RetryPolicy()
# The stores that take a vector's values as the Float32Values they are; a plug-in store gets a list of floats, as it
# always has, since it may hand the values to a JSON encoder that knows only lists.
_FLOAT32_STORES = (PineconeIndex, S3VectorsIndex)

_logger = get_logger(__name__)


@dataclass(frozen=True)
class _Refused:
    """A change an operation could not carry out on its own, while the others in its request went through."""

    change: Change
    error: Exception


_Operation = Callable[[list[Change]], list[Change | _Refused]]


class VectorSync:
    """Brings ``store`` up to date with a batch of stream records, embedding texts with ``model``.

    ``executor`` runs the requests of a batch in parallel; it is made once per cold start and bounds the
    concurrency. ``handle(event, context)`` returns the partial batch response.
    """

    def __init__(
        self,
        *,
        config: PipelineConfig,
        model: EmbeddingModel,
        store: VectorStore,
        executor: Executor,
    ) -> None:
        self._config = config
        self._model = model
        self._store = store
        self._executor = executor

    def close(self) -> None:
        """Stop the pool's threads (a Lambda environment never needs to; tests do)."""
        self._executor.shutdown()

    def handle(self, event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        """The partial batch response for ``event``: the batch-level runtime folds it into item changes."""
        return process_item_changes(event, context, self.apply, deadline_margin=self._config.deadline_margin)

    def apply(self, items: Sequence[ItemChange], deadline: Deadline) -> list[ChangeFailure]:
        """Bring the store up to date with the batch's net changes ``items``; the changes that failed, and why."""
        plan = plan_changes(
            items,
            text_attribute=self._config.text_attribute,
            metadata_attributes=self._config.metadata_attributes,
            vector_id_attributes=self._config.vector_id_attributes,
            max_id_length=getattr(self._store, "max_id_length", None),
            supports_metadata_update=self._store.supports_metadata_update,
        )
        if plan.skipped:
            put_metric("SkippedRecords", plan.skipped)
        run = _BatchRun(
            self._model,
            self._store,
            self._executor,
            request_timeout=self._config.request_timeout,
            remaining_seconds=deadline.remaining_seconds,
        )
        run.apply(plan.changes)
        _logger.info(
            "Changes applied",
            extra={
                "changes": len(plan.changes),
                "skipped": plan.skipped,
                "failedItems": len(plan.failed) + len(run.failed),
                **{_applied_key(action): count for action, count in run.applied.items()},
            },
        )
        return plan.failed + run.failed


class _BatchRun:
    """One batch's requests and their outcomes. Only the handler's thread changes ``failed`` and ``applied``."""

    def __init__(
        self,
        model: EmbeddingModel,
        store: VectorStore,
        executor: Executor,
        *,
        request_timeout: float,
        remaining_seconds: Callable[[], float],
    ) -> None:
        self._model = model
        self._store = store
        self._executor = executor
        self._request_timeout = request_timeout
        self._remaining_seconds = remaining_seconds
        self.failed: list[ChangeFailure] = []
        self.applied: Counter[Action] = Counter()

    def apply(self, changes: Sequence[Change]) -> None:
        """Embed, delete and update metadata in parallel; then upsert what was embedded."""
        model, store = self._model, self._store
        estimate: Callable[[str], int] = getattr(model, "estimate_tokens", _estimate_tokens)
        to_embed = [change for change in changes if change.action is Action.UPSERT]
        to_delete = [change for change in changes if change.action is Action.DELETE]
        to_update = [change for change in changes if change.action is Action.UPDATE_METADATA]
        first_round: list[tuple[_Operation, list[Change]]] = [
            (self._embed, chunk)
            for chunk in _chunks(to_embed, model.max_batch_texts, model.max_batch_tokens, lambda c: estimate(c.text))
        ]
        first_round += [(self._delete, chunk) for chunk in _chunks(to_delete, store.max_batch_vectors)]
        first_round += [(self._update_metadata, [change]) for change in to_update]
        embedded = self._run(first_round)
        upserts = _chunks(
            embedded, store.max_batch_vectors, store.max_batch_bytes, lambda c: serialized_size(_vector(c))
        )
        self._run([(self._upsert, chunk) for chunk in upserts])

    def _run(self, tasks: list[tuple[_Operation, list[Change]]]) -> list[Change]:
        """Run ``tasks`` in parallel; a task that fails fails its changes, or has its halves run when it may be
        one input's fault. Returns what the tasks produced for the next round."""
        produced: list[Change] = []
        pending: dict[Future[list[Change | _Refused]], tuple[_Operation, list[Change]]] = {}

        def submit(operation: _Operation, chunk: list[Change]) -> None:
            # A copy of the context per task keeps the invocation's requestId on the log lines workers write.
            future = self._executor.submit(contextvars.copy_context().run, operation, chunk)
            pending[future] = (operation, chunk)

        for operation, chunk in tasks:
            submit(operation, chunk)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                operation, chunk = pending.pop(future)
                error = future.exception()
                if error is None:
                    for outcome in future.result():
                        if isinstance(outcome, _Refused):
                            self._fail([outcome.change], outcome.error, operation.__name__.lstrip("_"))
                        else:
                            produced.append(outcome)
                    if operation != self._embed:
                        self.applied[chunk[0].action] += len(chunk)
                elif len(chunk) > 1 and isinstance(error, FinalProviderError) and error.status in SPLIT_STATUSES:
                    _logger.warning(
                        "Request refused: trying its halves",
                        extra={"operation": operation.__name__.lstrip("_"), "inputs": len(chunk), "error": str(error)},
                    )
                    middle = len(chunk) // 2
                    submit(operation, chunk[:middle])
                    submit(operation, chunk[middle:])
                else:
                    self._fail(chunk, error, operation.__name__.lstrip("_"))
        return produced

    def _fail(self, changes: Sequence[Change], error: BaseException, operation: str) -> None:
        _logger.error(
            "Records failed",
            extra={
                "operation": operation,
                "error": f"{error.__class__.__name__}: {error}",
                "sequenceNumbers": [str(change.sequence_number) for change in changes],
                "eventIDs": [event_id for change in changes for event_id in change.event_ids],
            },
        )
        self.failed += [ChangeFailure(change.item, error) for change in changes]

    def _call(self, request: Callable[[float], _R]) -> _R:
        """``request(timeout)`` with retries, each attempt given no more time than the function has left."""

        def attempt() -> _R:
            seconds_left = self._remaining_seconds()
            if seconds_left <= 0:
                raise RetryableError("no time left before the function's deadline")
            return request(min(self._request_timeout, seconds_left))

        return call_with_retries(attempt, policy=_RETRY_POLICY, remaining_seconds=self._remaining_seconds)

    def _embed(self, changes: list[Change]) -> list[Change | _Refused]:
        texts = [change.text for change in changes]
        embeddings = self._call(lambda timeout: self._model.embed(texts, timeout=timeout))
        if len(embeddings) != len(changes):
            raise PermanentError(f"the embedding model returned {len(embeddings)} vectors for {len(changes)} texts")
        embedded: list[Change | _Refused] = []
        for change, values in zip(changes, embeddings, strict=True):
            try:
                vector = Vector(change.vector_id, float32_values(values), change.metadata)
            except PermanentError as error:
                embedded.append(_Refused(change, error))
            else:
                embedded.append(dataclasses.replace(change, vector=vector))
        return embedded

    def _upsert(self, changes: list[Change]) -> list[Change | _Refused]:
        vectors = [_vector(change) for change in changes]
        if not isinstance(self._store, _FLOAT32_STORES):
            vectors = [dataclasses.replace(vector, values=list(vector.values)) for vector in vectors]
        self._call(lambda timeout: self._store.upsert(vectors, timeout=timeout))
        return []

    def _delete(self, changes: list[Change]) -> list[Change | _Refused]:
        ids = [change.vector_id for change in changes]
        self._call(lambda timeout: self._store.delete(ids, timeout=timeout))
        return []

    def _update_metadata(self, changes: list[Change]) -> list[Change | _Refused]:
        (change,) = changes
        self._call(lambda timeout: self._store.update_metadata(change.vector_id, change.metadata, timeout=timeout))
        return []


def _chunks(
    items: Sequence[_T], max_count: int, max_size: int | None = None, size: Callable[[_T], int] | None = None
) -> list[list[_T]]:
    """``items`` in order, cut into as few runs as ``max_count`` items and ``max_size`` summed ``size`` allow. An
    item over ``max_size`` alone gets a run of its own: the provider truncates it, or refuses only that record."""
    chunks: list[list[_T]] = []
    current: list[_T] = []
    current_size = 0
    for item in items:
        item_size = size(item) if size is not None else 0
        if current and (len(current) == max_count or (max_size is not None and current_size + item_size > max_size)):
            chunks.append(current)
            current, current_size = [], 0
        current.append(item)
        current_size += item_size
    if current:
        chunks.append(current)
    return chunks


def _vector(change: Change) -> Vector:
    assert change.vector is not None, "only embedded changes are upserted"
    return change.vector


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / _UTF8_BYTES_PER_TOKEN)


def _applied_key(action: Action) -> str:
    return {Action.UPSERT: "upserted", Action.DELETE: "deleted", Action.UPDATE_METADATA: "metadataUpdated"}[action]
