"""The vector stores an EmbeddingPipeline can write to: Pinecone, Amazon S3 Vectors, or a plug-in."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Names, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3vectors as s3vectors
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from lambda_src.contract import EmbeddingEnv, VectorStoreKind

from .provider_binding import Binding, Plugin, api_key_secret, grant_statements

__all__ = ["VectorStore"]

_S3_VECTORS_DISTANCES = ("cosine", "euclidean")
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-limitations.html
_S3_VECTORS_MAX_DIMENSION = 4_096
_S3_VECTORS_ACTIONS = ["s3vectors:PutVectors", "s3vectors:DeleteVectors", "s3vectors:GetVectors"]


class VectorStore(abc.ABC):
    """Where a pipeline keeps its vectors. Build one with ``pinecone``, ``s3_vectors`` or ``plugin``."""

    @staticmethod
    def pinecone(
        *, index_host: str, namespace: str | None = None, api_key_secret: secretsmanager.ISecret | None = None
    ) -> VectorStore:
        """A Pinecone index, the seeds' store.

        - ``index_host``: the index's data-plane host (from Pinecone's console or DescribeIndex).
        - ``namespace``: Default: - the default namespace.
        - ``api_key_secret``: Default: - a new secret to fill in.
        """
        if not index_host or "/" in index_host.removeprefix("https://"):
            raise ValueError(f"index_host must be the index's host, e.g. 'docs-abc123.svc.aped-4627.pinecone.io', "
                             f"got {index_host!r}")  # fmt: skip
        return _PineconeStore(index_host.removeprefix("https://"), namespace or "", api_key_secret)

    @staticmethod
    def s3_vectors(
        *,
        vector_bucket_name: str | None = None,
        index_name: str | None = None,
        distance_metric: str | None = None,
    ) -> VectorStore:
        """Amazon S3 Vectors. With neither name, the pipeline creates a vector bucket and an index sized to the
        embedding model's dimensions; with both, it uses that existing index.

        - ``vector_bucket_name``: an existing vector bucket. Default: - a new vector bucket and index.
        - ``index_name``: an existing index in it. Default: - a new vector bucket and index.
        - ``distance_metric``: for a new index, ``cosine`` or ``euclidean``. Default: cosine.
        """
        if (vector_bucket_name is None) != (index_name is None):
            raise ValueError("give both vector_bucket_name and index_name for an existing index, or neither to "
                             "create them")  # fmt: skip
        distance_metric = distance_metric or "cosine"
        if distance_metric not in _S3_VECTORS_DISTANCES:
            raise ValueError(f"distance_metric must be one of {list(_S3_VECTORS_DISTANCES)}, got {distance_metric!r}")
        return _S3VectorsStore(vector_bucket_name, index_name, distance_metric)

    @staticmethod
    def plugin(
        class_path: str,
        *,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str] | None = None,
        policy_statements: Sequence[iam.PolicyStatement] = (),
    ) -> VectorStore:
        """Your own store: the class ``"module:Class"`` in ``layer`` implementing
        ``lambda_src.providers.VectorStore``, with its ``environment`` and ``policy_statements``."""
        return _PluginStore(Plugin(class_path, layer, dict(environment or {}), tuple(policy_statements)))

    @abc.abstractmethod
    def bind(self, scope: Construct, dimensions: int) -> Binding:
        """Create what the store needs under ``scope`` for vectors of ``dimensions``; say how the function uses it."""


class _PineconeStore(VectorStore):
    def __init__(self, index_host: str, namespace: str, secret: secretsmanager.ISecret | None) -> None:
        self._index_host, self._namespace, self._secret = index_host, namespace, secret

    def bind(self, scope: Construct, dimensions: int) -> Binding:
        secret = api_key_secret(scope, "PineconeApiKey", "Pinecone", self._secret)
        return Binding(
            environment={
                EmbeddingEnv.VECTOR_STORE: VectorStoreKind.PINECONE.value,
                EmbeddingEnv.PINECONE_INDEX_HOST: self._index_host,
                EmbeddingEnv.PINECONE_NAMESPACE: self._namespace,
                EmbeddingEnv.PINECONE_API_KEY_SECRET_ARN: secret.secret_arn,
            },
            grant=lambda function: secret.grant_read(function),
            secrets=(secret,),
        )


class _S3VectorsStore(VectorStore):
    def __init__(self, bucket_name: str | None, index_name: str | None, distance_metric: str) -> None:
        self._bucket_name, self._index_name, self._distance_metric = bucket_name, index_name, distance_metric

    def bind(self, scope: Construct, dimensions: int) -> Binding:
        resources: dict[str, Construct] = {}
        if self._bucket_name is not None and self._index_name is not None:
            bucket_name, index_name = self._bucket_name, self._index_name
            index_arn = Stack.of(scope).format_arn(
                service="s3vectors",
                resource="bucket",
                resource_name=f"{bucket_name}/index/{index_name}",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
        else:
            if not 1 <= dimensions <= _S3_VECTORS_MAX_DIMENSION:
                raise ValueError(
                    f"S3 Vectors indexes hold 1 to {_S3_VECTORS_MAX_DIMENSION} dimensions, got {dimensions}"
                )
            # Named here, so the function's configuration does not depend on what Ref returns for these types.
            bucket_name = Names.unique_resource_name(scope, max_length=63, separator="-").lower()
            index_name = "vectors"
            vector_bucket = s3vectors.CfnVectorBucket(scope, "VectorBucket", vector_bucket_name=bucket_name)
            index = s3vectors.CfnIndex(
                scope,
                "VectorIndex",
                vector_bucket_arn=vector_bucket.attr_vector_bucket_arn,
                index_name=index_name,
                data_type="float32",  # the only type S3 Vectors stores
                dimension=dimensions,
                distance_metric=self._distance_metric,
            )
            index_arn = index.attr_index_arn
            resources = {"vector_bucket": vector_bucket, "vector_index": index}
        return Binding(
            environment={
                EmbeddingEnv.VECTOR_STORE: VectorStoreKind.S3_VECTORS.value,
                EmbeddingEnv.S3_VECTORS_BUCKET: bucket_name,
                EmbeddingEnv.S3_VECTORS_INDEX: index_name,
            },
            grant=grant_statements([iam.PolicyStatement(actions=_S3_VECTORS_ACTIONS, resources=[index_arn])]),
            resources=resources,
        )


class _PluginStore(VectorStore):
    def __init__(self, plugin: Plugin) -> None:
        self._plugin = plugin

    def bind(self, scope: Construct, dimensions: int) -> Binding:
        return self._plugin.binding(
            (EmbeddingEnv.VECTOR_STORE, VectorStoreKind.PLUGIN.value), EmbeddingEnv.VECTOR_STORE_PLUGIN
        )
