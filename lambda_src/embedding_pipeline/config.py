"""The embedding pipeline's configuration: environment variables the construct sets, read once per cold start.

``PipelineConfig.from_env`` checks every variable and raises one ``ConfigError`` naming each that is missing or
wrong, so a misconfigured function fails on its first invocation with a message that says what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

from lambda_src.providers.s3_vectors import S3_VECTORS_NAME_LENGTHS
from lambda_src.providers.titan import TITAN_DIMENSIONS
from lambda_src.providers.voyage import VOYAGE_BASE_URL, VOYAGE_INPUT_TYPES, VOYAGE_OUTPUT_DIMENSIONS
from lambda_src.stream_runtime.batch import DEADLINE_MARGIN_ENV, DEFAULT_DEADLINE_MARGIN

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_REQUEST_TIMEOUT_SECONDS",
    "ConfigError",
    "PineconeConfig",
    "PipelineConfig",
    "PluginConfig",
    "S3VectorsConfig",
    "TitanConfig",
    "VoyageConfig",
]

_T = TypeVar("_T")
_D = TypeVar("_D")

DEFAULT_MAX_CONCURRENCY = 8
# Long enough for a 1,000-text embedding request, short enough to leave a retry inside a one-minute function.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 20.0
# A DynamoDB key is a partition key and an optional sort key:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.CoreComponents.html#HowItWorks.CoreComponents.PrimaryKey
_KEY_ATTRIBUTE_COUNTS = range(1, 3)


class ConfigError(ValueError):
    """One or more environment variables are missing or wrong; the message names each."""


@dataclass(frozen=True)
class VoyageConfig:
    model: str
    dimensions: int | None
    input_type: str
    api_key_secret_arn: str
    base_url: str


@dataclass(frozen=True)
class TitanConfig:
    model_id: str
    dimensions: int


@dataclass(frozen=True)
class PluginConfig:
    class_path: str


@dataclass(frozen=True)
class PineconeConfig:
    index_url: str
    namespace: str
    api_key_secret_arn: str


@dataclass(frozen=True)
class S3VectorsConfig:
    bucket: str
    index: str


@dataclass(frozen=True)
class PipelineConfig:
    text_attribute: str
    metadata_attributes: tuple[str, ...]
    vector_id_attributes: tuple[str, ...]
    max_concurrency: int
    request_timeout: float
    deadline_margin: timedelta
    embedding: VoyageConfig | TitanConfig | PluginConfig
    vector_store: PineconeConfig | S3VectorsConfig | PluginConfig

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PipelineConfig:
        """Read the variables the EmbeddingPipeline construct sets:

        - TEXT_ATTRIBUTE; METADATA_ATTRIBUTES (comma-separated, may be empty); VECTOR_ID_ATTRIBUTES (the key's
          attribute names, partition key first, comma-separated); MAX_CONCURRENCY (Default: 8);
          REQUEST_TIMEOUT_SECONDS, the longest one provider call may take (Default: 20);
          STREAM_RUNTIME_DEADLINE_MARGIN_MS, the time kept back before the function's timeout (Default: 5000).
        - EMBEDDING_PROVIDER ``voyage``: VOYAGE_MODEL, VOYAGE_DIMENSIONS (empty for the model's default),
          VOYAGE_INPUT_TYPE (Default: document), VOYAGE_API_KEY_SECRET_ARN, VOYAGE_BASE_URL (Default: the API);
          ``titan``: TITAN_MODEL_ID, TITAN_DIMENSIONS; ``plugin``: EMBEDDING_PLUGIN (``module:Class``).
        - VECTOR_STORE ``pinecone``: PINECONE_INDEX_HOST (a host, https implied, or a URL), PINECONE_NAMESPACE
          (may be empty), PINECONE_API_KEY_SECRET_ARN; ``s3vectors``: S3_VECTORS_BUCKET, S3_VECTORS_INDEX;
          ``plugin``: VECTOR_STORE_PLUGIN (``module:Class``).
        """
        reader = _Reader(environ)
        config = cls(
            text_attribute=reader.required("TEXT_ATTRIBUTE"),
            metadata_attributes=reader.names("METADATA_ATTRIBUTES"),
            vector_id_attributes=reader.names("VECTOR_ID_ATTRIBUTES", counts=_KEY_ATTRIBUTE_COUNTS),
            max_concurrency=reader.parsed(
                "MAX_CONCURRENCY", _positive_int, "a whole number of at least 1", default=DEFAULT_MAX_CONCURRENCY
            ),
            request_timeout=reader.parsed(
                "REQUEST_TIMEOUT_SECONDS", _positive_float, "a positive number", default=DEFAULT_REQUEST_TIMEOUT_SECONDS
            ),
            deadline_margin=reader.parsed(
                DEADLINE_MARGIN_ENV, _milliseconds, "a whole number of milliseconds", default=DEFAULT_DEADLINE_MARGIN
            ),
            embedding=_embedding(reader),
            vector_store=_vector_store(reader),
        )
        reader.raise_problems()
        return config


def _embedding(reader: _Reader) -> VoyageConfig | TitanConfig | PluginConfig:
    match reader.choice("EMBEDDING_PROVIDER", ("voyage", "titan", "plugin")):
        case "voyage":
            return VoyageConfig(
                model=reader.required("VOYAGE_MODEL"),
                dimensions=reader.parsed(
                    "VOYAGE_DIMENSIONS", _one_of(VOYAGE_OUTPUT_DIMENSIONS), _listing(VOYAGE_OUTPUT_DIMENSIONS), None
                ),
                input_type=reader.parsed(
                    "VOYAGE_INPUT_TYPE", _one_of(VOYAGE_INPUT_TYPES), _listing(VOYAGE_INPUT_TYPES), "document"
                ),
                api_key_secret_arn=reader.required("VOYAGE_API_KEY_SECRET_ARN"),
                base_url=reader.parsed("VOYAGE_BASE_URL", _http_url, "an http(s) URL", VOYAGE_BASE_URL),
            )
        case "titan":
            return TitanConfig(
                model_id=reader.required("TITAN_MODEL_ID"),
                dimensions=reader.parsed("TITAN_DIMENSIONS", _one_of(TITAN_DIMENSIONS), _listing(TITAN_DIMENSIONS)),
            )
        case "plugin":
            return PluginConfig(reader.parsed("EMBEDDING_PLUGIN", _class_path, "'module:Class'"))
        case _:
            return _STAND_IN


def _vector_store(reader: _Reader) -> PineconeConfig | S3VectorsConfig | PluginConfig:
    match reader.choice("VECTOR_STORE", ("pinecone", "s3vectors", "plugin")):
        case "pinecone":
            return PineconeConfig(
                index_url=reader.parsed("PINECONE_INDEX_HOST", _index_url, "an index host or an http(s) URL"),
                namespace=reader.optional("PINECONE_NAMESPACE"),
                api_key_secret_arn=reader.required("PINECONE_API_KEY_SECRET_ARN"),
            )
        case "s3vectors":
            names = f"{S3_VECTORS_NAME_LENGTHS.start} to {S3_VECTORS_NAME_LENGTHS.stop - 1} characters"
            return S3VectorsConfig(
                bucket=reader.parsed("S3_VECTORS_BUCKET", _s3_vectors_name, names),
                index=reader.parsed("S3_VECTORS_INDEX", _s3_vectors_name, names),
            )
        case "plugin":
            return PluginConfig(reader.parsed("VECTOR_STORE_PLUGIN", _class_path, "'module:Class'"))
        case _:
            return _STAND_IN


# Returned for a variable that is missing or wrong: raise_problems raises before the config is used.
_STAND_IN = PluginConfig("")


class _Reader:
    """Reads variables and notes every problem, so that one error can name them all."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._problems: list[str] = []

    def optional(self, name: str) -> str:
        return self._environ.get(name, "").strip()

    def required(self, name: str) -> str:
        value = self.optional(name)
        if not value:
            self._problems.append(f"{name} is required")
        return value

    @overload
    def parsed(self, name: str, parse: Callable[[str], _T], expected: str) -> _T: ...

    @overload
    def parsed(self, name: str, parse: Callable[[str], _T], expected: str, default: _D) -> _T | _D: ...

    def parsed(self, name: str, parse: Callable[[str], Any], expected: str, default: Any = _STAND_IN) -> Any:
        """``parse(value)``, or ``default`` when the variable is unset or empty (required without one)."""
        value = self.optional(name)
        if not value:
            if default is _STAND_IN:
                self._problems.append(f"{name} is required: {expected}")
            return default
        try:
            return parse(value)
        except ValueError:
            self._problems.append(f"{name} must be {expected}, got {value!r}")
            return default

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        return self.parsed(name, _one_of(frozenset(choices)), _listing(choices))

    def names(self, name: str, *, counts: range | None = None) -> tuple[str, ...]:
        """A comma-separated list of attribute names; ``counts`` bounds how many (Default: any number)."""
        value = self.optional(name)
        found = tuple(part.strip() for part in value.split(",")) if value else ()
        if "" in found or len(set(found)) != len(found):
            self._problems.append(f"{name} must be distinct attribute names separated by commas, got {value!r}")
        elif counts is not None and len(found) not in counts:
            self._problems.append(f"{name} must name {counts.start} to {counts.stop - 1} attributes, got {value!r}")
        return found

    def raise_problems(self) -> None:
        if self._problems:
            raise ConfigError("embedding pipeline configuration: " + "; ".join(self._problems))


def _one_of(choices: frozenset[_T]) -> Callable[[str], _T]:
    def parse(text: str) -> _T:
        for choice in choices:
            if str(choice) == text:
                return choice
        raise ValueError(text)

    return parse


def _listing(choices: frozenset[int] | frozenset[str] | tuple[str, ...]) -> str:
    return "one of " + ", ".join(str(choice) for choice in sorted(choices))


def _positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(text)
    return int(text)


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(text)
    return value


def _milliseconds(text: str) -> timedelta:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return timedelta(milliseconds=int(text))


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(text)
    return text.rstrip("/")


def _index_url(text: str) -> str:
    # The control plane reports an index's host without a scheme; tests point it at http://127.0.0.1:port.
    return _http_url(text if "://" in text else f"https://{text}")


def _s3_vectors_name(text: str) -> str:
    if len(text) not in S3_VECTORS_NAME_LENGTHS:
        raise ValueError(text)
    return text


def _class_path(text: str) -> str:
    module_name, _, class_name = text.partition(":")
    if not module_name or not class_name:
        raise ValueError(text)
    return text
