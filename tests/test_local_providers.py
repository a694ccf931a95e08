"""Which AI providers a local run stubs and how: read from the functions' variables, real ones with the user's keys."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from constructs_pkg.local.assembly import FunctionSpec, LocalApp
from constructs_pkg.local.providers import local_providers, providers_used
from constructs_pkg.local.stubs import anthropic, pinecone
from constructs_pkg.local.stubs.bedrock_claude import BedrockClaudeStub
from constructs_pkg.local.stubs.bedrock_router import BedrockRouter


def _app(**environments: dict[str, str]) -> LocalApp:
    functions = {
        name: FunctionSpec(logical_id=name, name=name, handler="index.handler", code_dir=None, environment=environment)
        for name, environment in environments.items()
    }
    return LocalApp(tables={}, functions=functions, mappings=())


SEED = _app(
    Embeddings={"EMBEDDING_PROVIDER": "voyage", "VECTOR_STORE": "pinecone", "PINECONE_INDEX_HOST": "idx.pinecone.io"},
    Summaries={"SUMMARY_PROVIDER": "anthropic"},
    Other={"TABLE_NAME": "orders"},
)


def test_the_providers_used_are_read_from_the_variables_the_constructs_set() -> None:
    aws_native = _app(E={"EMBEDDING_PROVIDER": "titan", "VECTOR_STORE": "s3vectors"}, S={"SUMMARY_PROVIDER": "bedrock"})
    plugins = _app(E={"EMBEDDING_PROVIDER": "plugin", "VECTOR_STORE": "plugin"}, S={"SUMMARY_PROVIDER": "plugin"})

    assert providers_used(SEED) == {"voyage", "pinecone", "anthropic"}
    assert providers_used(aws_native) == {"bedrock", "s3vectors"}
    assert providers_used(plugins) == set()


def test_real_providers_take_their_keys_from_the_environment_and_the_others_are_stubbed() -> None:
    environ = {"ANTHROPIC_API_KEY": "sk-ant-real", "PINECONE_API_KEY": "pc-real"}

    with local_providers(SEED, real=["anthropic", "pinecone"], environ=environ) as providers:
        assert providers.real == {"anthropic", "pinecone"} and set(providers.stubs) == {"voyage"}
        assert providers.secret_values["ANTHROPIC_API_KEY_SECRET_ARN"] == "sk-ant-real"
        assert providers.secret_values["PINECONE_API_KEY_SECRET_ARN"] == "pc-real"
        assert providers.environment == {"VOYAGE_BASE_URL": providers.stubs["voyage"].url}
        assert providers.describe() == [
            "anthropic: the real service",
            "pinecone: the real service",
            f"voyage: a stub at {providers.stubs['voyage'].url}",
        ]

    with local_providers(SEED) as providers:
        assert providers.secret_values["ANTHROPIC_API_KEY_SECRET_ARN"] == anthropic.API_KEY
        assert providers.secret_values["PINECONE_API_KEY_SECRET_ARN"] == pinecone.API_KEY


def test_a_real_provider_without_its_key_or_an_unknown_provider_is_refused_before_anything_starts() -> None:
    with (
        pytest.raises(ValueError, match="set ANTHROPIC_API_KEY, VOYAGE_API_KEY"),
        local_providers(SEED, real=["voyage", "anthropic"], environ={}),
    ):
        pass
    with (
        pytest.raises(ValueError, match="unknown providers openai: choose from voyage, pinecone"),
        local_providers(SEED, real=["openai"], environ={}),
    ):
        pass


def test_the_bedrock_router_sends_each_model_to_its_stub_and_refuses_unknown_models() -> None:
    with BedrockClaudeStub() as claude, BedrockRouter({"us.anthropic.claude-haiku": claude.url}) as router:
        client = boto3.client(
            "bedrock-runtime",
            endpoint_url=router.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"total_max_attempts": 1}),
        )
        message = {"role": "user", "content": "hi"}
        body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": [message]})

        answer = client.invoke_model(modelId="us.anthropic.claude-haiku", body=body)
        with pytest.raises(ClientError) as refused:
            client.invoke_model(modelId="amazon.nova-lite-v1:0", body=body)

    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200 and claude.model_ids() == ["us.anthropic.claude-haiku"]
    assert refused.value.response["Error"]["Code"] == "ValidationException"
