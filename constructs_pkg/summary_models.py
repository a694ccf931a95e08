"""The models a SummaryEnricher can use: the Anthropic API, Claude on Amazon Bedrock, or a plug-in."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from lambda_src.contract import DEFAULT_ANTHROPIC_MODEL, DEFAULT_BEDROCK_MODEL, SummaryEnv, SummaryProvider

from .dependency_layer import PythonDependencyLayer
from .provider_binding import Binding, Plugin, api_key_secret, grant_statements

__all__ = ["SummaryModel"]
# Cross-Region inference profile ids start with a geography:
# https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
_PROFILE_GEOGRAPHIES = frozenset({"us", "eu", "apac", "global", "jp", "au", "ca", "us-gov"})


class SummaryModel(abc.ABC):
    """Which model writes a SummaryEnricher's summaries. Build one with ``anthropic``, ``bedrock`` or ``plugin``."""

    @staticmethod
    def anthropic(*, model: str | None = None, api_key_secret: secretsmanager.ISecret | None = None) -> SummaryModel:
        """The Anthropic API through the ``anthropic`` SDK, shipped in a layer built without Docker.

        - ``model``: Default: claude-haiku-4-5 (the seed's).
        - ``api_key_secret``: Default: - a new secret to fill in.
        """
        return _AnthropicModel(DEFAULT_ANTHROPIC_MODEL if model is None else model, api_key_secret)

    @staticmethod
    def bedrock(*, model_id: str | None = None) -> SummaryModel:
        """Claude on Amazon Bedrock, no API key.

        - ``model_id``: a model id, or an inference profile id such as ``us.anthropic.claude-haiku-4-5-20251001-v1:0``;
          the function may invoke that model (and, for a profile, that profile and the model in the Regions it routes
          to) only. Default: anthropic.claude-haiku-4-5-20251001-v1:0.
        """
        return _BedrockModel(DEFAULT_BEDROCK_MODEL if model_id is None else model_id)

    @staticmethod
    def plugin(
        class_path: str,
        *,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str] | None = None,
        policy_statements: Sequence[iam.PolicyStatement] = (),
    ) -> SummaryModel:
        """Your own summarizer: the class ``"module:Class"`` in ``layer`` implementing
        ``lambda_src.providers.Summarizer``, with its ``environment`` and ``policy_statements``."""
        return _PluginModel(Plugin(class_path, layer, dict(environment or {}), tuple(policy_statements)))

    @abc.abstractmethod
    def bind(self, scope: Construct, architecture: lambda_.Architecture | None) -> Binding:
        """Create what the model needs under ``scope``; say how the function uses it."""


class _AnthropicModel(SummaryModel):
    def __init__(self, model: str, secret: secretsmanager.ISecret | None) -> None:
        self._model, self._secret = model, secret

    def bind(self, scope: Construct, architecture: lambda_.Architecture | None) -> Binding:
        secret = api_key_secret(scope, "AnthropicApiKey", "Anthropic", self._secret)
        return Binding(
            environment={
                SummaryEnv.PROVIDER: SummaryProvider.ANTHROPIC.value,
                SummaryEnv.MODEL_ID: self._model,
                SummaryEnv.ANTHROPIC_API_KEY_SECRET_ARN: secret.secret_arn,
            },
            grant=lambda function: secret.grant_read(function),
            layers=(PythonDependencyLayer.anthropic(scope, architecture),),
            secrets=(secret,),
        )


class _BedrockModel(SummaryModel):
    def __init__(self, model_id: str) -> None:
        self._model_id = model_id

    def bind(self, scope: Construct, architecture: lambda_.Architecture | None) -> Binding:
        stack = Stack.of(scope)
        geography, _, base_model = self._model_id.partition(".")
        if geography in _PROFILE_GEOGRAPHIES and base_model:
            # A profile routes each request to one of its Regions: InvokeModel is checked on the profile and on the
            # model in whichever Region serves it.
            resources = [
                stack.format_arn(service="bedrock", resource="inference-profile", resource_name=self._model_id,
                                 arn_format=ArnFormat.SLASH_RESOURCE_NAME),
                stack.format_arn(service="bedrock", region="*", account="", resource="foundation-model",
                                 resource_name=base_model, arn_format=ArnFormat.SLASH_RESOURCE_NAME),
            ]  # fmt: skip
            Validations.of(scope).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/{base_model}]",
                    reason="An inference profile serves requests from several Regions: the grant names one model "
                    "in any Region, as Bedrock's inference profile guide prescribes",
                )
            )
        else:
            model_arn = stack.format_arn(
                service="bedrock",
                account="",
                resource="foundation-model",
                resource_name=self._model_id,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            resources = [model_arn]
        return Binding(
            environment={SummaryEnv.PROVIDER: SummaryProvider.BEDROCK.value, SummaryEnv.MODEL_ID: self._model_id},
            grant=grant_statements([iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=resources)]),
        )


class _PluginModel(SummaryModel):
    def __init__(self, plugin: Plugin) -> None:
        self._plugin = plugin

    def bind(self, scope: Construct, architecture: lambda_.Architecture | None) -> Binding:
        return self._plugin.binding((SummaryEnv.PROVIDER, SummaryProvider.PLUGIN.value), SummaryEnv.PLUGIN)
