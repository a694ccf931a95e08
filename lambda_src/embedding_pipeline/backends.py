"""The embedding model and vector store a configuration names, built once per cold start."""

from __future__ import annotations

from typing import assert_never

from lambda_src.providers import EmbeddingModel, VectorStore, load_plugin
from lambda_src.providers.pinecone import PineconeIndex
from lambda_src.providers.s3_vectors import S3VectorsIndex
from lambda_src.providers.secrets import api_key
from lambda_src.providers.titan import TitanEmbeddings
from lambda_src.providers.voyage import VoyageEmbeddings

from .config import PineconeConfig, PipelineConfig, PluginConfig, S3VectorsConfig, TitanConfig, VoyageConfig

__all__ = ["embedding_model", "vector_store"]


def embedding_model(config: PipelineConfig) -> EmbeddingModel:
    """Voyage (its API key read from Secrets Manager now), Titan, or the plug-in ``config`` names."""
    embedding = config.embedding
    if isinstance(embedding, VoyageConfig):
        return VoyageEmbeddings(
            model=embedding.model,
            api_key=api_key(embedding.api_key_secret_arn),
            input_type=embedding.input_type,
            dimensions=embedding.dimensions,
            base_url=embedding.base_url,
        )
    if isinstance(embedding, TitanConfig):
        return TitanEmbeddings(
            model_id=embedding.model_id, dimensions=embedding.dimensions, max_connections=config.max_concurrency
        )
    if isinstance(embedding, PluginConfig):
        plugin: EmbeddingModel = load_plugin(embedding.class_path, EmbeddingModel)
        return plugin
    assert_never(embedding)


def vector_store(config: PipelineConfig) -> VectorStore:
    """Pinecone (its API key read from Secrets Manager now), S3 Vectors, or the plug-in ``config`` names."""
    store = config.vector_store
    if isinstance(store, PineconeConfig):
        return PineconeIndex(
            index_url=store.index_url, namespace=store.namespace, api_key=api_key(store.api_key_secret_arn)
        )
    if isinstance(store, S3VectorsConfig):
        return S3VectorsIndex(bucket=store.bucket, index=store.index, max_connections=config.max_concurrency)
    if isinstance(store, PluginConfig):
        plugin: VectorStore = load_plugin(store.class_path, VectorStore)
        return plugin
    assert_never(store)
