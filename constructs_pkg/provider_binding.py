"""What binding a provider to a pipeline's function yields, and the API key secret that several providers share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

__all__ = ["Binding", "Plugin", "api_key_secret", "grant_statements"]


@dataclass(frozen=True)
class Binding:
    """A provider bound to a pipeline's function: its environment variables, its grants, the layers its code needs,
    the API key ``secrets`` it reads (created or given) and the ``resources`` the binding created, by name (an S3
    Vectors bucket and index, say). Binding creates and returns; it never changes the provider object it came from,
    so one model serves several pipelines."""

    environment: Mapping[str, str]
    grant: Callable[[lambda_.IFunction], object]
    layers: Sequence[lambda_.ILayerVersion] = field(default_factory=tuple)
    secrets: Sequence[secretsmanager.ISecret] = field(default_factory=tuple)
    resources: Mapping[str, Construct] = field(default_factory=dict)


def api_key_secret(
    scope: Construct, id: str, provider: str, secret: secretsmanager.ISecret | None
) -> secretsmanager.ISecret:
    """``secret``, or a new one for the user to fill in with the provider's API key after deploying.

    Keys live only in Secrets Manager: the function gets the secret's ARN, reads the key once per cold start, and
    the grant covers this secret alone.
    """
    if secret is not None:
        return secret
    created = secretsmanager.Secret(
        scope,
        id,
        description=f"The {provider} API key used by {scope.node.path}: replace this generated value with the key "
        '(the key itself, or {"apiKey": "..."})',
    )
    Validations.of(created).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SMG4",
            reason=f"A {provider} API key is issued by {provider}, not by AWS: rotating it needs the provider's "
            "console, so no rotation Lambda can do it",
        )
    )
    return created


def grant_statements(statements: Sequence[iam.PolicyStatement]) -> Callable[[lambda_.IFunction], None]:
    """A grant that adds ``statements`` to the function's role."""

    def grant(function: lambda_.IFunction) -> None:
        for statement in statements:
            function.add_to_role_policy(statement)

    return grant


@dataclass(frozen=True)
class Plugin:
    """A user's class ``"module:Class"`` in ``layer``, with the environment and grants it needs."""

    class_path: str
    layer: lambda_.ILayerVersion
    environment: Mapping[str, str] = field(default_factory=dict)
    policy_statements: Sequence[iam.PolicyStatement] = ()

    def __post_init__(self) -> None:
        module, _, name = self.class_path.partition(":")
        if not module or not name:
            raise ValueError(f"class_path is 'module:Class', got {self.class_path!r}")

    def binding(self, choice: tuple[str, str], class_variable: str) -> Binding:
        """The binding that selects this plug-in with ``choice`` (the provider variable and its plug-in value) and
        names it in ``class_variable``."""
        provider_variable, plugin_value = choice
        return Binding(
            environment={**self.environment, provider_variable: plugin_value, class_variable: self.class_path},
            grant=grant_statements(self.policy_statements),
            layers=(self.layer,),
        )
