"""The AI providers a local run's functions call: each one a stub on loopback, or the real service with your keys.

The providers are read from the functions' environments as the constructs set them (``lambda_src.contract``:
EMBEDDING_PROVIDER, VECTOR_STORE, SUMMARY_PROVIDER). A stubbed provider (``constructs_pkg.local.stubs``) gets its
endpoint variable set on every function and its stub key put in the function's secret. A real one is reached as
deployed: Voyage, Pinecone and Anthropic with the API key from the runner's own environment (``VOYAGE_API_KEY``,
``PINECONE_API_KEY``, ``ANTHROPIC_API_KEY``) put in the function's local secret; Bedrock and S3 Vectors with boto3's
default credentials and region, handed to the functions (their DynamoDB, SQS and Secrets Manager calls stay local).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.feed_and_search import feed_and_search_stubs
from constructs_pkg.local.runner import aws_session_environment
from constructs_pkg.local.stubs import anthropic, pinecone, voyage
from constructs_pkg.local.stubs.anthropic import AnthropicStub
from constructs_pkg.local.stubs.bedrock_claude import BedrockClaudeStub
from constructs_pkg.local.stubs.bedrock_router import BedrockRouter
from constructs_pkg.local.stubs.bedrock_titan import TitanStub
from constructs_pkg.local.stubs.pinecone import PineconeStub
from constructs_pkg.local.stubs.s3_vectors import S3VectorsStub
from constructs_pkg.local.stubs.server import StubServer
from constructs_pkg.local.stubs.voyage import VoyageStub
from lambda_src.contract import EmbeddingEnv, EmbeddingProvider, SummaryEnv, SummaryProvider, VectorStoreKind

__all__ = ["API_KEYS", "GIVEN_STUBS", "PROVIDERS", "ApiKey", "ProviderSetup", "local_providers", "providers_used"]

PROVIDERS = ("voyage", "pinecone", "anthropic", "bedrock", "s3vectors")


class ApiKey(NamedTuple):
    """Where a provider's API key goes: the function variable naming its secret, the variable of the runner's
    environment holding the real key, and the stub's key."""

    secret_variable: str
    environment_variable: str
    stub_key: str


API_KEYS = {
    "voyage": ApiKey(EmbeddingEnv.VOYAGE_API_KEY_SECRET_ARN, "VOYAGE_API_KEY", voyage.API_KEY),
    "pinecone": ApiKey(EmbeddingEnv.PINECONE_API_KEY_SECRET_ARN, "PINECONE_API_KEY", pinecone.API_KEY),
    "anthropic": ApiKey(SummaryEnv.ANTHROPIC_API_KEY_SECRET_ARN, "ANTHROPIC_API_KEY", anthropic.API_KEY),
}
# What each construct variable's value means: (variable, value) -> provider.
_CHOICES = {
    (EmbeddingEnv.PROVIDER, EmbeddingProvider.VOYAGE): "voyage",
    (EmbeddingEnv.PROVIDER, EmbeddingProvider.TITAN): "bedrock",
    (EmbeddingEnv.VECTOR_STORE, VectorStoreKind.PINECONE): "pinecone",
    (EmbeddingEnv.VECTOR_STORE, VectorStoreKind.S3_VECTORS): "s3vectors",
    (SummaryEnv.PROVIDER, SummaryProvider.ANTHROPIC): "anthropic",
    (SummaryEnv.PROVIDER, SummaryProvider.BEDROCK): "bedrock",
}


@dataclass
class ProviderSetup:
    """How the functions reach their providers: ``environment`` for every function (``LocalRunner``'s
    ``environment_overrides``), ``secret_values`` by secret variable (its ``secret_values``), the running ``stubs``
    by provider (Bedrock's is the router; its models' stubs are ``bedrock_models``), and which providers are ``real``.
    """

    used: frozenset[str]
    real: frozenset[str]
    environment: dict[str, str] = field(default_factory=dict)
    secret_values: dict[str, str] = field(default_factory=dict)
    stubs: dict[str, StubServer] = field(default_factory=dict)
    bedrock_models: dict[str, StubServer] = field(default_factory=dict)

    def describe(self) -> list[str]:
        """One line per provider used: where its calls go."""
        lines = []
        for provider in sorted(self.used):
            if provider in self.real:
                lines.append(f"{provider}: the real service")
            else:
                lines.append(f"{provider}: a stub at {self.stubs[provider].url}")
        return lines

    def activity(self) -> list[str]:
        """One line per stub: how many requests it answered, and how many of them were errors."""
        lines = []
        for provider, stub in sorted(self.stubs.items()):
            lines.append(f"{provider} stub: {len(stub.requests)} requests, {stub.errors} answered with an error")
        return lines


def providers_used(app: LocalApp) -> frozenset[str]:
    """The providers the app's functions call, by the variables the constructs set."""
    return frozenset(
        provider
        for function in app.functions.values()
        for (variable, value), provider in _CHOICES.items()
        if function.environment.get(variable) == value
    )


# The stubs a caller may hand over (``local_providers(..., stubs=...)``): each provider's, and Bedrock's by model kind.
GIVEN_STUBS = ("voyage", "pinecone", "anthropic", "s3vectors", "titan", "bedrock-claude")


@contextlib.contextmanager
def local_providers(
    app: LocalApp,
    real: Collection[str] = (),
    environ: Mapping[str, str] = os.environ,
    *,
    stubs: Mapping[str, StubServer] | None = None,
) -> Iterator[ProviderSetup]:
    """Stubs for the providers ``app`` uses that are not in ``real``, running until the block ends.

    ``stubs`` (Default: - none) are running stubs to use instead of new ones, by the names of ``GIVEN_STUBS``
    (``titan`` and ``bedrock-claude`` serve every Titan or Claude model id the functions name, behind a new
    Bedrock router): a test scripts their faults and reads what they received.

    Raises ValueError for a name not in ``PROVIDERS`` or ``GIVEN_STUBS``, and for a real provider whose API key
    variable is not set in ``environ`` (Default: the process's environment).
    """
    given = dict(stubs or {})
    unknown_stubs = sorted(set(given) - set(GIVEN_STUBS))
    if unknown_stubs:
        raise ValueError(f"unknown stubs {', '.join(unknown_stubs)}: choose from {', '.join(GIVEN_STUBS)}")
    unknown = sorted(set(real) - set(PROVIDERS))
    if unknown:
        raise ValueError(f"unknown providers {', '.join(unknown)}: choose from {', '.join(PROVIDERS)}")
    used = providers_used(app)
    setup = ProviderSetup(used=used, real=frozenset(real) & used)
    keys = {provider: API_KEYS[provider] for provider in sorted(used & set(API_KEYS))}
    missing = [key.environment_variable for provider, key in keys.items() if provider in setup.real]
    missing = [variable for variable in missing if not environ.get(variable)]
    if missing:
        raise ValueError(f"a real provider needs its API key: set {', '.join(missing)}")
    for provider, key in keys.items():
        real_key = provider in setup.real
        setup.secret_values[key.secret_variable] = environ[key.environment_variable] if real_key else key.stub_key
    with contextlib.ExitStack() as running:
        if setup.real & {"bedrock", "s3vectors"}:
            import boto3

            try:
                setup.environment.update(aws_session_environment(boto3.session.Session()))
            except ValueError as error:
                raise ValueError(f"a real Bedrock or S3 Vectors needs AWS credentials: {error}") from None
        stubbed = used - setup.real

        def stub_of(name: str, make: Callable[[], StubServer]) -> Any:
            return given[name] if name in given else running.enter_context(make())

        if "voyage" in stubbed:
            setup.stubs["voyage"] = stub_of("voyage", VoyageStub)
            setup.environment[EmbeddingEnv.VOYAGE_BASE_URL] = setup.stubs["voyage"].url
        if "pinecone" in stubbed:
            setup.stubs["pinecone"] = stub_of("pinecone", PineconeStub)
            setup.environment[EmbeddingEnv.PINECONE_INDEX_HOST] = setup.stubs["pinecone"].url
        if "anthropic" in stubbed:
            setup.stubs["anthropic"] = stub_of("anthropic", AnthropicStub)
            setup.environment["ANTHROPIC_BASE_URL"] = setup.stubs["anthropic"].url
        if "bedrock" in stubbed:
            setup.bedrock_models = _bedrock_models(app, lambda kind, make: stub_of(kind, make))
            setup.stubs["bedrock"] = running.enter_context(
                BedrockRouter({model_id: stub.url for model_id, stub in setup.bedrock_models.items()})
            )
            # boto3's per-service endpoint variable: https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
            setup.environment["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = setup.stubs["bedrock"].url
        if "s3vectors" in stubbed:
            vectors = stub_of("s3vectors", S3VectorsStub)
            for function in app.functions.values():
                if function.environment.get(EmbeddingEnv.VECTOR_STORE) == VectorStoreKind.S3_VECTORS:
                    index = (
                        str(function.environment.get(EmbeddingEnv.S3_VECTORS_BUCKET)),
                        str(function.environment.get(EmbeddingEnv.S3_VECTORS_INDEX)),
                    )
                    # A stub handed over may hold the index already, with what a test put in it.
                    if index not in vectors.indexes:
                        vectors.create_index(*index, _dimension(function.environment))
            setup.stubs["s3vectors"] = vectors
            setup.environment["AWS_ENDPOINT_URL_S3VECTORS"] = vectors.url
        # The RealtimeFeed's Events API and the SearchIndexer's OpenSearch on loopback (local.feed_and_search).
        setup.stubs.update(running.enter_context(feed_and_search_stubs(app)).by_provider)
        yield setup


def _bedrock_models(
    app: LocalApp, stub_of: Callable[[str, Callable[[], StubServer]], StubServer]
) -> dict[str, StubServer]:
    """A stub per Bedrock model the functions name (``stub_of(kind, make)`` gives one): Titan embeddings, and
    Claude for summaries."""
    models: dict[str, StubServer] = {}
    for function in app.functions.values():
        environment = function.environment
        titan, claude = str(environment.get(EmbeddingEnv.TITAN_MODEL_ID)), str(environment.get(SummaryEnv.MODEL_ID))
        if environment.get(EmbeddingEnv.PROVIDER) == EmbeddingProvider.TITAN and titan not in models:
            models[titan] = stub_of("titan", TitanStub)
        if environment.get(SummaryEnv.PROVIDER) == SummaryProvider.BEDROCK and claude not in models:
            models[claude] = stub_of("bedrock-claude", BedrockClaudeStub)
    return models


def _dimension(environment: Mapping[str, Any]) -> int | None:
    """The embedding's dimension as the function's variables state it; None when they leave it to the model."""
    text = environment.get(EmbeddingEnv.TITAN_DIMENSIONS) or environment.get(EmbeddingEnv.VOYAGE_DIMENSIONS)
    return int(text) if isinstance(text, str) and text.isdigit() else None
