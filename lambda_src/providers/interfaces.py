"""The interfaces a user implements to plug their own embedding model, vector store or summarizer in.

A plug-in is a class in a module on the function's path (a layer the user adds), named as ``"module:Class"`` and
built with no arguments; it reads its own configuration from the environment. Raise
``lambda_src.stream_runtime.RetryableError`` for transient failures and ``PermanentError`` for final ones: the
pipeline retries the first kind within the Lambda deadline and fails the affected records after that.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["EmbeddingModel", "Summarizer", "Vector", "VectorStore", "load_plugin"]


@dataclass(frozen=True)
class Vector:
    """One vector to store: a stable ``id`` from the item's key, its ``values`` and flat ``metadata``."""

    id: str
    values: Sequence[float]
    metadata: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class EmbeddingModel(Protocol):
    """Turns texts into vectors. ``embed`` gets at most ``max_batch_texts`` texts whose estimated tokens sum to at
    most ``max_batch_tokens`` (1 for a model that takes one text a call), and returns one vector per text, in
    order."""

    max_batch_texts: int
    max_batch_tokens: int

    def embed(self, texts: Sequence[str], *, timeout: float) -> list[list[float]]: ...


@runtime_checkable
class VectorStore(Protocol):
    """Stores vectors by id. ``upsert`` gets at most ``max_batch_vectors`` vectors of at most ``max_batch_bytes``
    serialized, their values a list of floats already rounded to float32; ``delete`` at most ``max_batch_vectors``
    ids. ``update_metadata`` replaces one vector's metadata
    without a new embedding; a store that cannot do that sets ``supports_metadata_update = False`` and gets the
    vector re-embedded and upserted instead."""

    max_batch_vectors: int
    max_batch_bytes: int
    supports_metadata_update: bool

    def upsert(self, vectors: Sequence[Vector], *, timeout: float) -> None: ...

    def delete(self, ids: Sequence[str], *, timeout: float) -> None: ...

    def update_metadata(self, vector_id: str, metadata: Mapping[str, Any], *, timeout: float) -> None: ...


@runtime_checkable
class Summarizer(Protocol):
    """Summarizes one text."""

    def summarize(self, text: str, *, timeout: float) -> str: ...


def load_plugin(class_path: str, protocol: type) -> Any:
    """An instance of the class named ``"module:Class"``, checked against ``protocol``."""
    module_name, _, class_name = class_path.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"a plug-in is named as 'module:Class', got {class_path!r}")
    instance = getattr(importlib.import_module(module_name), class_name)()
    if not isinstance(instance, protocol):
        raise TypeError(f"{class_path} does not implement {protocol.__name__}")
    return instance
