"""The pytest plugin of dynamodb-stream-constructs (``pip install 'dynamodb-stream-constructs[testing]'``; pytest
loads it through its ``pytest11`` entry point): fixtures for a user's own stacks and pipelines.

- ``dynamodb_local`` (session): a running DynamoDB Local (``DynamoDBLocal``: ``endpoint_url``, ``client()``,
  ``streams()``), installed by ``python -m constructs_pkg.local setup``.
- ``moto_server`` (session): the URL of moto in server mode on loopback, for SQS, SNS, S3, Secrets Manager ...
- ``local_pipelines``: a factory, ``local_pipelines(stack)`` or ``local_pipelines("cdk.out", stacks=[...])``,
  returning a started ``LocalPipelines`` (tables created, mappings carried in-process), closed after the test.
- ``voyage_stub``, ``pinecone_stub``, ``anthropic_stub``, ``titan_stub``, ``bedrock_claude_stub``,
  ``s3_vectors_stub``: the provider stubs, running for the test; a pipeline started by ``local_pipelines`` in the
  same test calls them (script their faults, read what they received).

Nothing heavy is imported here (no aws_cdk, no boto3): a test session that uses none of the fixtures pays nothing.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

__all__ = [
    "anthropic_stub",
    "bedrock_claude_stub",
    "dynamodb_local",
    "local_pipelines",
    "moto_server",
    "pinecone_stub",
    "s3_vectors_stub",
    "titan_stub",
    "voyage_stub",
]

# Stub fixture -> the name local_providers takes it by.
_STUB_FIXTURES = {
    "voyage_stub": "voyage",
    "pinecone_stub": "pinecone",
    "anthropic_stub": "anthropic",
    "titan_stub": "titan",
    "bedrock_claude_stub": "bedrock-claude",
    "s3_vectors_stub": "s3vectors",
}
_prefixes = itertools.count(1)
# Apart from the names any other test of the session gives its tables and queues on the same DynamoDB Local and moto.
_SESSION = uuid.uuid4().hex[:4]


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[Any]:
    """DynamoDB Local (with its Streams API) on a free loopback port for the whole session."""
    from constructs_pkg.local.dynamodb_local import running_dynamodb_local

    running = running_dynamodb_local()
    try:
        database = running.__enter__()
    except RuntimeError as error:
        problem = str(error)
    else:
        try:
            yield database
        finally:
            running.__exit__(None, None, None)
        return
    # Outside the except block: the message alone, without the traceback of how it was found.
    pytest.fail(f"dynamodb_local: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto in server mode on a free loopback port for the whole session; its URL."""
    from constructs_pkg.local.endpoints import running_moto_server

    with running_moto_server() as url:
        yield url


@pytest.fixture
def local_pipelines(
    request: pytest.FixtureRequest, dynamodb_local: Any, moto_server: str
) -> Iterator[Callable[..., Any]]:
    """``local_pipelines(source, *, stacks=None, real=())``: the stream pipelines of ``source`` (an
    ``aws_cdk.Stack``, or a cloud assembly directory with the ``stacks`` to read) started on ``dynamodb_local`` and
    ``moto_server``, their tables named apart from every other test's; the provider stub fixtures the test asked for
    serve its functions. Each is closed (tables deleted, stubs stopped) after the test."""
    from constructs_pkg.local.endpoints import LocalEndpoints
    from constructs_pkg.testing.pipelines import LocalPipelines

    opened: list[LocalPipelines] = []

    def start(source: Any, *, stacks: list[str] | None = None, real: tuple[str, ...] = ()) -> LocalPipelines:
        stubs = {
            name: request.getfixturevalue(fixture)
            for fixture, name in _STUB_FIXTURES.items()
            if fixture in request.fixturenames
        }
        pipelines = LocalPipelines.of(
            source,
            LocalEndpoints.with_moto(dynamodb_local.endpoint_url, moto_server),
            stacks=stacks,
            table_prefix=f"t{next(_prefixes)}{_SESSION}-",
            stubs=stubs,
            real=real,
        )
        opened.append(pipelines)
        return pipelines.start()

    yield start
    for pipelines in reversed(opened):
        pipelines.close()


def _stub(make: Callable[[], Any]) -> Iterator[Any]:
    with make() as stub:
        yield stub


@pytest.fixture
def voyage_stub() -> Iterator[Any]:
    """The Voyage AI embeddings API on loopback (``VoyageStub``: ``url``, ``inputs()``, ``fail_next(...)``)."""
    from constructs_pkg.local.stubs.voyage import VoyageStub

    yield from _stub(VoyageStub)


@pytest.fixture
def pinecone_stub() -> Iterator[Any]:
    """A Pinecone index's data plane on loopback (``PineconeStub``: ``url``, ``vectors(namespace)``)."""
    from constructs_pkg.local.stubs.pinecone import PineconeStub

    yield from _stub(PineconeStub)


@pytest.fixture
def anthropic_stub() -> Iterator[Any]:
    """The Anthropic Messages API on loopback (``AnthropicStub``: ``url``, ``prompts()``, ``fail_when(...)``)."""
    from constructs_pkg.local.stubs.anthropic import AnthropicStub

    yield from _stub(AnthropicStub)


@pytest.fixture
def titan_stub() -> Iterator[Any]:
    """Titan Text Embeddings V2 on Bedrock, on loopback (``TitanStub``: ``texts()``); every Titan model id a
    pipeline names is served by it."""
    from constructs_pkg.local.stubs.bedrock_titan import TitanStub

    yield from _stub(TitanStub)


@pytest.fixture
def bedrock_claude_stub() -> Iterator[Any]:
    """Claude on Bedrock (InvokeModel), on loopback (``BedrockClaudeStub``: ``prompts()``, ``model_ids()``); every
    Claude model id a pipeline names is served by it."""
    from constructs_pkg.local.stubs.bedrock_claude import BedrockClaudeStub

    yield from _stub(BedrockClaudeStub)


@pytest.fixture
def s3_vectors_stub() -> Iterator[Any]:
    """Amazon S3 Vectors on loopback (``S3VectorsStub``: ``create_index(...)``, ``indexes``)."""
    from constructs_pkg.local.stubs.s3_vectors import S3VectorsStub

    yield from _stub(S3VectorsStub)
