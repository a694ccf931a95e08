"""The embedding pipeline's configuration: the environment variables the construct sets, read once per cold start.

``PipelineConfig.from_env`` checks every variable and raises one ``ConfigError`` naming each that is missing or
wrong, so a misconfigured function fails on its first invocation with a message that says what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from lambda_src.contract import (
    DEFAULT_DEADLINE_MARGIN_MS,
    DEFAULT_EMBEDDING_MAX_CONCURRENCY,
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    DEFAULT_VOYAGE_INPUT_TYPE,
    EmbeddingEnv,
    EmbeddingProvider,
    PipelineEnv,
    RuntimeEnv,
    VectorStoreKind,
)
from lambda_src.providers.s3_vectors import S3_VECTORS_NAME_LENGTHS
from lambda_src.providers.titan import TITAN_DIMENSIONS
from lambda_src.providers.voyage import VOYAGE_BASE_URL, VOYAGE_INPUT_TYPES, VOYAGE_OUTPUT_DIMENSIONS
from lambda_src.stream_runtime.config import REQUIRED, ConfigError, EnvironmentReader

__all__ = [
    "ConfigError",
    "PineconeConfig",
    "PipelineConfig",
    "PluginConfig",
    "S3VectorsConfig",
    "TitanConfig",
    "VoyageConfig",
]

# A DynamoDB key is a partition key and an optional sort key:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.CoreComponents.html#HowItWorks.CoreComponents.PrimaryKey
_KEY_ATTRIBUTE_COUNTS = range(1, 3)


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
        """Read the variables the EmbeddingPipeline construct sets (names in ``lambda_src.contract``):

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
        reader = EnvironmentReader(environ, "embedding pipeline")
        config = cls(
            text_attribute=reader.text(EmbeddingEnv.TEXT_ATTRIBUTE),
            metadata_attributes=reader.names(EmbeddingEnv.METADATA_ATTRIBUTES),
            vector_id_attributes=reader.names(EmbeddingEnv.VECTOR_ID_ATTRIBUTES, counts=_KEY_ATTRIBUTE_COUNTS),
            max_concurrency=reader.whole_number(
                PipelineEnv.MAX_CONCURRENCY, DEFAULT_EMBEDDING_MAX_CONCURRENCY, minimum=1
            ),
            request_timeout=reader.positive_number(
                EmbeddingEnv.REQUEST_TIMEOUT_SECONDS, float(DEFAULT_REQUEST_TIMEOUT_SECONDS)
            ),
            deadline_margin=reader.milliseconds(RuntimeEnv.DEADLINE_MARGIN_MS, DEFAULT_DEADLINE_MARGIN_MS),
            embedding=_embedding(reader),
            vector_store=_vector_store(reader),
        )
        reader.finish()
        return config


def _embedding(reader: EnvironmentReader) -> VoyageConfig | TitanConfig | PluginConfig:
    match reader.choice(EmbeddingEnv.PROVIDER, EmbeddingProvider):
        case EmbeddingProvider.VOYAGE:
            return VoyageConfig(
                model=reader.text(EmbeddingEnv.VOYAGE_MODEL),
                dimensions=reader.one_of(EmbeddingEnv.VOYAGE_DIMENSIONS, VOYAGE_OUTPUT_DIMENSIONS, None),
                input_type=reader.one_of(EmbeddingEnv.VOYAGE_INPUT_TYPE, VOYAGE_INPUT_TYPES, DEFAULT_VOYAGE_INPUT_TYPE),
                api_key_secret_arn=reader.text(EmbeddingEnv.VOYAGE_API_KEY_SECRET_ARN),
                base_url=reader.http_url(EmbeddingEnv.VOYAGE_BASE_URL, VOYAGE_BASE_URL),
            )
        case EmbeddingProvider.TITAN:
            return TitanConfig(
                model_id=reader.text(EmbeddingEnv.TITAN_MODEL_ID),
                dimensions=reader.one_of(EmbeddingEnv.TITAN_DIMENSIONS, TITAN_DIMENSIONS),
            )
        case EmbeddingProvider.PLUGIN:
            return PluginConfig(reader.class_path(EmbeddingEnv.PLUGIN))
    return _STAND_IN


def _vector_store(reader: EnvironmentReader) -> PineconeConfig | S3VectorsConfig | PluginConfig:
    match reader.choice(EmbeddingEnv.VECTOR_STORE, VectorStoreKind):
        case VectorStoreKind.PINECONE:
            return PineconeConfig(
                # The control plane reports an index's host without a scheme; tests point it at http://127.0.0.1:port.
                index_url=reader.http_url(EmbeddingEnv.PINECONE_INDEX_HOST, REQUIRED, scheme_implied="https"),
                namespace=reader.text(EmbeddingEnv.PINECONE_NAMESPACE, ""),
                api_key_secret_arn=reader.text(EmbeddingEnv.PINECONE_API_KEY_SECRET_ARN),
            )
        case VectorStoreKind.S3_VECTORS:
            names = f"{S3_VECTORS_NAME_LENGTHS.start} to {S3_VECTORS_NAME_LENGTHS.stop - 1} characters"
            return S3VectorsConfig(
                bucket=reader.parsed(EmbeddingEnv.S3_VECTORS_BUCKET, _s3_vectors_name, names),
                index=reader.parsed(EmbeddingEnv.S3_VECTORS_INDEX, _s3_vectors_name, names),
            )
        case VectorStoreKind.PLUGIN:
            return PluginConfig(reader.class_path(EmbeddingEnv.VECTOR_STORE_PLUGIN))
    return _STAND_IN


# Returned for a choice that is missing or wrong: finish() raises before the config is used.
_STAND_IN = PluginConfig("")


def _s3_vectors_name(text: str) -> str:
    if len(text) not in S3_VECTORS_NAME_LENGTHS:
        raise ValueError(text)
    return text
