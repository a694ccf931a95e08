"""The embedding models an EmbeddingPipeline can use: Voyage AI, Amazon Titan Text Embeddings V2, or a plug-in."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from lambda_src.contract import DEFAULT_VOYAGE_INPUT_TYPE, DEFAULT_VOYAGE_MODEL, EmbeddingEnv, EmbeddingProvider
from lambda_src.providers.titan import TITAN_DEFAULT_DIMENSIONS, TITAN_DIMENSIONS, TITAN_V2_MODEL_ID
from lambda_src.providers.voyage import VOYAGE_INPUT_TYPES, VOYAGE_MODEL_DIMENSIONS

from .provider_binding import Binding, Plugin, api_key_secret, grant_statements

__all__ = ["EmbeddingModel"]


class EmbeddingModel(abc.ABC):
    """Which model turns a pipeline's texts into vectors. Build one with ``voyage``, ``titan`` or ``plugin``."""

    def __init__(self, provider: EmbeddingProvider, dimensions: int, *, label: str) -> None:
        self.provider = provider
        self.dimensions = dimensions
        self._label = label

    def __repr__(self) -> str:
        return f"EmbeddingModel.{self._label}"

    @staticmethod
    def voyage(
        *,
        model: str | None = None,
        dimensions: int | None = None,
        input_type: str | None = None,
        api_key_secret: secretsmanager.ISecret | None = None,
    ) -> EmbeddingModel:
        """Voyage AI over HTTPS, the seeds' provider. Known models' dimensions are checked; another model needs
        ``dimensions``.

        - ``model``: Default: voyage-3.5.
        - ``dimensions``: the model's output size. Default: 1024, the known models' own default.
        - ``input_type``: ``document`` for stored content, ``query`` for searches. Default: document.
        - ``api_key_secret``: Default: - a new secret to fill in.
        """
        model = model or DEFAULT_VOYAGE_MODEL
        input_type = input_type or DEFAULT_VOYAGE_INPUT_TYPE
        if input_type not in VOYAGE_INPUT_TYPES:
            raise ValueError(f"input_type must be one of {sorted(VOYAGE_INPUT_TYPES)}, got {input_type!r}")
        if model in VOYAGE_MODEL_DIMENSIONS:
            default, allowed = VOYAGE_MODEL_DIMENSIONS[model]
            dimensions = dimensions or default
            if dimensions not in allowed:
                raise ValueError(f"dimensions for {model} must be one of {sorted(allowed)}, got {dimensions}")
        elif dimensions is None:
            raise ValueError(f"give dimensions= for the Voyage model {model!r}: its output size is not known here")
        return _VoyageEmbeddingModel(model, dimensions, input_type, api_key_secret)

    @staticmethod
    def titan(*, dimensions: int | None = None) -> EmbeddingModel:
        """Amazon Titan Text Embeddings V2 on Bedrock: no API key; the function may invoke this model only.

        - ``dimensions``: 256, 512 or 1024. Default: 1024.
        """
        dimensions = dimensions or TITAN_DEFAULT_DIMENSIONS
        if dimensions not in TITAN_DIMENSIONS:
            raise ValueError(f"dimensions for Titan Text Embeddings V2 must be one of {sorted(TITAN_DIMENSIONS)}, "
                             f"got {dimensions}")  # fmt: skip
        return _TitanEmbeddingModel(dimensions)

    @staticmethod
    def plugin(
        class_path: str,
        *,
        layer: lambda_.ILayerVersion,
        dimensions: int,
        environment: Mapping[str, str] | None = None,
        policy_statements: Sequence[iam.PolicyStatement] = (),
    ) -> EmbeddingModel:
        """Your own model: the class ``"module:Class"`` in ``layer`` implementing
        ``lambda_src.providers.EmbeddingModel``, with its ``environment`` and ``policy_statements``."""
        return _PluginEmbeddingModel(
            Plugin(class_path, layer, dict(environment or {}), tuple(policy_statements)), dimensions
        )

    @abc.abstractmethod
    def bind(self, scope: Construct) -> Binding:
        """Create what the model needs under ``scope`` and say how the function uses it."""


class _VoyageEmbeddingModel(EmbeddingModel):
    def __init__(self, model: str, dimensions: int, input_type: str, secret: secretsmanager.ISecret | None) -> None:
        super().__init__(EmbeddingProvider.VOYAGE, dimensions, label=f"voyage({model}, {dimensions})")
        self._model, self._input_type, self._secret = model, input_type, secret

    def bind(self, scope: Construct) -> Binding:
        secret = api_key_secret(scope, "VoyageApiKey", "Voyage AI", self._secret)
        return Binding(
            environment={
                EmbeddingEnv.PROVIDER: EmbeddingProvider.VOYAGE.value,
                EmbeddingEnv.VOYAGE_MODEL: self._model,
                EmbeddingEnv.VOYAGE_DIMENSIONS: str(self.dimensions),
                EmbeddingEnv.VOYAGE_INPUT_TYPE: self._input_type,
                EmbeddingEnv.VOYAGE_API_KEY_SECRET_ARN: secret.secret_arn,
            },
            grant=lambda function: secret.grant_read(function),
            secrets=(secret,),
        )


class _TitanEmbeddingModel(EmbeddingModel):
    def __init__(self, dimensions: int) -> None:
        super().__init__(EmbeddingProvider.TITAN, dimensions, label=f"titan({dimensions})")

    def bind(self, scope: Construct) -> Binding:
        model_arn = Stack.of(scope).format_arn(
            service="bedrock",
            account="",
            resource="foundation-model",
            resource_name=TITAN_V2_MODEL_ID,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        return Binding(
            environment={
                EmbeddingEnv.PROVIDER: EmbeddingProvider.TITAN.value,
                EmbeddingEnv.TITAN_MODEL_ID: TITAN_V2_MODEL_ID,
                EmbeddingEnv.TITAN_DIMENSIONS: str(self.dimensions),
            },
            grant=grant_statements([iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[model_arn])]),
        )


class _PluginEmbeddingModel(EmbeddingModel):
    def __init__(self, plugin: Plugin, dimensions: int) -> None:
        super().__init__(EmbeddingProvider.PLUGIN, dimensions, label=f"plugin({plugin.class_path})")
        self._plugin = plugin

    def bind(self, scope: Construct) -> Binding:
        return self._plugin.binding((EmbeddingEnv.PROVIDER, EmbeddingProvider.PLUGIN.value), EmbeddingEnv.PLUGIN)
