"""The embedding pipeline's handler end to end: wire-shaped stream events in, provider stubs on 127.0.0.1 out.

Voyage and Pinecone are reached by the pipeline's own HTTP client, Bedrock and S3 Vectors by boto3 clients pointed at
their stubs (AWS_ENDPOINT_URL_*), and API keys come from a real Secrets Manager API (moto in server mode). The
handler module is reloaded for each configuration, as a cold start would load it.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import random
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from types import ModuleType
from typing import Any, ClassVar

import boto3
import pytest
from moto.server import ThreadedMotoServer

from constructs_pkg.local.stubs.bedrock_titan import MODEL_ID, TitanStub, titan_error
from constructs_pkg.local.stubs.pinecone import API_KEY as PINECONE_KEY
from constructs_pkg.local.stubs.pinecone import PineconeStub, pinecone_error
from constructs_pkg.local.stubs.s3_vectors import S3VectorsStub, s3_vectors_error
from constructs_pkg.local.stubs.server import Reply
from constructs_pkg.local.stubs.voyage import API_KEY as VOYAGE_KEY
from constructs_pkg.local.stubs.voyage import DEFAULT_DIMENSIONS, VoyageStub, embedding_of
from lambda_src.embedding_pipeline import (
    ConfigError,
    PipelineConfig,
    float32_values,
    serialized_size,
    vector_id,
    vector_metadata,
)
from lambda_src.embedding_pipeline.config import PineconeConfig, VoyageConfig
from lambda_src.providers import Vector
from lambda_src.providers.pinecone import PineconeIndex
from lambda_src.providers.secrets import forget_keys
from lambda_src.stream_runtime import PermanentError

APP = "lambda_src.embedding_pipeline.app"
REGION = "us-east-1"
DIMENSIONS = 256
BUCKET, INDEX = "content-vectors", "content-index"
SEQUENCE_BASE = 4_200_000_000_000_000_000_000  # 22 digits, as DynamoDB's
# Every variable the handler reads, cleared before each load so that no test sees another's configuration.
CONTRACT = [
    *("TEXT_ATTRIBUTE", "METADATA_ATTRIBUTES", "VECTOR_ID_ATTRIBUTES", "MAX_CONCURRENCY", "REQUEST_TIMEOUT_SECONDS"),
    *("STREAM_RUNTIME_DEADLINE_MARGIN_MS", "EMBEDDING_PROVIDER", "EMBEDDING_PLUGIN", "VECTOR_STORE"),
    *("VOYAGE_MODEL", "VOYAGE_DIMENSIONS", "VOYAGE_INPUT_TYPE", "VOYAGE_API_KEY_SECRET_ARN", "VOYAGE_BASE_URL"),
    *("TITAN_MODEL_ID", "TITAN_DIMENSIONS", "VECTOR_STORE_PLUGIN", "S3_VECTORS_BUCKET", "S3_VECTORS_INDEX"),
    *("PINECONE_INDEX_HOST", "PINECONE_NAMESPACE", "PINECONE_API_KEY_SECRET_ARN"),
]


# --- events --------------------------------------------------------------------------------------------------------


def typed(value: Any) -> dict[str, Any]:
    """A Python value as DynamoDB JSON, the way Lambda delivers it."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, bytes):
        return {"B": base64.b64encode(value).decode()}
    if value is None:
        return {"NULL": True}
    if isinstance(value, set):
        return {"SS": sorted(value)}
    if isinstance(value, list):
        return {"L": [typed(element) for element in value]}
    return {"M": {name: typed(element) for name, element in value.items()}}


def article(number: int, **attributes: Any) -> dict[str, Any]:
    """A CONTENT# item as the seed describes it; ``attribute=None`` leaves one out."""
    item = {
        "PK": f"CONTENT#{number:03d}",
        "SK": "META",
        "body": f"The body of article {number}, on tides and the moon.",
        "title": f"Article {number}",
        "createdAt": f"2026-03-{number % 28 + 1:02d}T08:00:00Z",
        **attributes,
    }
    return {name: value for name, value in item.items() if value is not None}


def id_of(number: int) -> str:
    return f"CONTENT#{number:03d}#META"


class Stream:
    """Wire-shaped records of one shard, in order, with growing sequence numbers."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def insert(self, new: dict[str, Any]) -> str:
        return self._add("INSERT", new["PK"], new["SK"], new=new)

    def modify(self, old: dict[str, Any], new: dict[str, Any]) -> str:
        return self._add("MODIFY", new["PK"], new["SK"], old=old, new=new)

    def remove(self, old: dict[str, Any], *, ttl: bool = False) -> str:
        return self._add("REMOVE", old["PK"], old["SK"], old=old, ttl=ttl)

    def event(self) -> dict[str, Any]:
        return {"Records": self.records}

    def _add(self, name: str, pk: str, sk: str, *, new: Any = None, old: Any = None, ttl: bool = False) -> str:
        sequence_number = str(SEQUENCE_BASE + len(self.records) * 100)
        stream: dict[str, Any] = {
            "ApproximateCreationDateTime": 1774000000 + len(self.records),
            "Keys": {"PK": typed(pk), "SK": typed(sk)},
            "SequenceNumber": sequence_number,
            "SizeBytes": 120,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if new is not None:
            stream["NewImage"] = typed(new)["M"]
        if old is not None:
            stream["OldImage"] = typed(old)["M"]
        record = {
            "eventID": f"{len(self.records):032x}",
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": stream,
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:111122223333:table/Content/stream/2026-03-01T00:00:00.000",
        }
        if ttl:
            record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        self.records.append(record)
        return sequence_number


class LambdaContext:
    """The parts of Lambda's context the handler reads, with a real clock behind the remaining time."""

    aws_request_id = "5f0c3f0e-2b6d-4c8e-9a43-5d1f3e8b7a21"

    def __init__(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def failures(app: ModuleType, stream: Stream, *, seconds: float = 60.0) -> list[str]:
    """The identifiers the handler reports in its partial batch response."""
    response = app.handler(stream.event(), LambdaContext(seconds))
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def assert_embedding_of(values: Sequence[float], text: str, dimensions: int = DIMENSIONS) -> None:
    expected = embedding_of(text, dimensions)
    assert len(values) == dimensions
    assert all(math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9) for got, want in zip(values, expected, strict=True))


def log_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


# --- fixtures ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def secrets_manager() -> Iterator[dict[str, str]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "secretsmanager",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arns = {
        "url": url,
        "voyage": client.create_secret(Name="voyage", SecretString=json.dumps({"apiKey": VOYAGE_KEY}))["ARN"],
        "pinecone": client.create_secret(Name="pinecone", SecretString=PINECONE_KEY)["ARN"],
        "revoked": client.create_secret(Name="revoked", SecretString="a-key-that-was-revoked")["ARN"],
    }
    yield arns
    server.stop()


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch, secrets_manager: dict[str, str]) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_manager["url"])
    forget_keys()
    yield
    forget_keys()


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """Load the handler module, as a cold start does, with the contract's variables set to ``env`` only."""
    loaded = []

    def load_with(**env: str) -> ModuleType:
        for name in CONTRACT:
            monkeypatch.delenv(name, raising=False)
        base = {
            "TEXT_ATTRIBUTE": "body",
            "METADATA_ATTRIBUTES": "title,createdAt",
            "VECTOR_ID_ATTRIBUTES": "PK,SK",
            "STREAM_RUNTIME_DEADLINE_MARGIN_MS": "200",
        }
        for name, value in {**base, **env}.items():
            monkeypatch.setenv(name, value)
        app = importlib.reload(sys.modules[APP]) if APP in sys.modules else importlib.import_module(APP)
        loaded.append(app)
        return app

    yield load_with
    for app in loaded:
        if app.cold_start.cache_info().currsize:
            app.cold_start().close()


@pytest.fixture
def voyage() -> Iterator[VoyageStub]:
    with VoyageStub(refuse_marker="\u2620") as stub:
        yield stub


@pytest.fixture
def pinecone() -> Iterator[PineconeStub]:
    with PineconeStub() as stub:
        yield stub


@pytest.fixture
def titan(monkeypatch: pytest.MonkeyPatch) -> Iterator[TitanStub]:
    with TitanStub() as stub:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", stub.url)
        yield stub


@pytest.fixture
def s3vectors(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3VectorsStub]:
    with S3VectorsStub() as stub:
        stub.create_index(BUCKET, INDEX, DIMENSIONS)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", stub.url)
        yield stub


def voyage_env(voyage: VoyageStub, secrets: dict[str, str], *, key: str = "voyage", **env: str) -> dict[str, str]:
    return {
        "EMBEDDING_PROVIDER": "voyage",
        "VOYAGE_MODEL": "voyage-3.5",
        "VOYAGE_DIMENSIONS": str(DIMENSIONS),
        "VOYAGE_API_KEY_SECRET_ARN": secrets[key],
        "VOYAGE_BASE_URL": voyage.url,
        **env,
    }


def pinecone_env(pinecone: PineconeStub, secrets: dict[str, str], *, key: str = "pinecone") -> dict[str, str]:
    return {
        "VECTOR_STORE": "pinecone",
        "PINECONE_INDEX_HOST": pinecone.url,
        "PINECONE_NAMESPACE": "articles",
        "PINECONE_API_KEY_SECRET_ARN": secrets[key],
    }


def s3_vectors_env() -> dict[str, str]:
    return {"VECTOR_STORE": "s3vectors", "S3_VECTORS_BUCKET": BUCKET, "S3_VECTORS_INDEX": INDEX}


@pytest.fixture
def voyage_to_pinecone(
    load: Callable[..., ModuleType], voyage: VoyageStub, pinecone: PineconeStub, secrets_manager: dict[str, str]
) -> ModuleType:
    return load(
        **voyage_env(voyage, secrets_manager, REQUEST_TIMEOUT_SECONDS="0.5"), **pinecone_env(pinecone, secrets_manager)
    )


def stored(pinecone: PineconeStub, vector_id: str) -> dict[str, Any]:
    return pinecone.vectors("articles")[vector_id]


def seed_pinecone(pinecone: PineconeStub, *items: dict[str, Any]) -> None:
    """Vectors already in the index for ``items``, as an earlier batch left them."""
    for item in items:
        pinecone.namespaces.setdefault("articles", {})[f"{item['PK']}#{item['SK']}"] = {
            "values": embedding_of(item["body"], DIMENSIONS),
            "metadata": {"title": item["title"], "createdAt": item["createdAt"]},
        }


# --- configuration, vector ids, metadata ---------------------------------------------------------------------------


def test_config_reads_the_contract() -> None:
    config = PipelineConfig.from_env(
        {
            "TEXT_ATTRIBUTE": "body",
            "METADATA_ATTRIBUTES": "title, createdAt",
            "VECTOR_ID_ATTRIBUTES": "PK,SK",
            "EMBEDDING_PROVIDER": "voyage",
            "VOYAGE_MODEL": "voyage-3.5",
            "VOYAGE_DIMENSIONS": "",
            "VOYAGE_API_KEY_SECRET_ARN": "arn:voyage",
            "VECTOR_STORE": "pinecone",
            "PINECONE_INDEX_HOST": "my-index-abc.svc.pinecone.io",
            "PINECONE_API_KEY_SECRET_ARN": "arn:pinecone",
        }
    )
    assert config.metadata_attributes == ("title", "createdAt")
    assert config.vector_id_attributes == ("PK", "SK")
    assert config.max_concurrency == 8
    assert config.embedding == VoyageConfig(
        model="voyage-3.5",
        dimensions=None,
        input_type="document",
        api_key_secret_arn="arn:voyage",
        base_url="https://api.voyageai.com",
    )
    assert config.vector_store == PineconeConfig(
        index_url="https://my-index-abc.svc.pinecone.io", namespace="", api_key_secret_arn="arn:pinecone"
    )


_TITAN_TO_S3 = {
    "TEXT_ATTRIBUTE": "body",
    "VECTOR_ID_ATTRIBUTES": "PK",
    "EMBEDDING_PROVIDER": "titan",
    "TITAN_MODEL_ID": MODEL_ID,
    "TITAN_DIMENSIONS": "1024",
    "VECTOR_STORE": "s3vectors",
    "S3_VECTORS_BUCKET": BUCKET,
    "S3_VECTORS_INDEX": INDEX,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TEXT_ATTRIBUTE": ""}, "TEXT_ATTRIBUTE is required"),
        (
            {"VECTOR_ID_ATTRIBUTES": "PK,SK,GSI1PK"},
            "VECTOR_ID_ATTRIBUTES must name 1 to 2 attributes, got 'PK,SK,GSI1PK'",
        ),
        ({"METADATA_ATTRIBUTES": "title,,title"}, "METADATA_ATTRIBUTES must be distinct attribute names"),
        ({"MAX_CONCURRENCY": "0"}, "MAX_CONCURRENCY must be a whole number of at least 1, got '0'"),
        ({"REQUEST_TIMEOUT_SECONDS": "soon"}, "REQUEST_TIMEOUT_SECONDS must be a positive number, got 'soon'"),
        ({"EMBEDDING_PROVIDER": "openai"}, "EMBEDDING_PROVIDER must be one of plugin, titan, voyage, got 'openai'"),
        ({"TITAN_DIMENSIONS": "384"}, "TITAN_DIMENSIONS must be one of 256, 512, 1024, got '384'"),
        ({"VECTOR_STORE": ""}, "VECTOR_STORE is required and must not be blank: one of pinecone, plugin, s3vectors"),
        ({"S3_VECTORS_INDEX": "ix"}, "S3_VECTORS_INDEX must be 3 to 63 characters, got 'ix'"),
        ({"VECTOR_STORE": "pinecone"}, "PINECONE_INDEX_HOST is required.*; PINECONE_API_KEY_SECRET_ARN is required"),
        (
            {"EMBEDDING_PROVIDER": "plugin", "EMBEDDING_PLUGIN": "mymodels.Model"},
            "EMBEDDING_PLUGIN must be 'module:Class'",
        ),
    ],
)
def test_config_fails_naming_the_variable(change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_env({**_TITAN_TO_S3, **change})


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"PK": "CONTENT#042", "SK": "META"}, "CONTENT#042#META"),
        ({"SK": Decimal("1E+2"), "PK": Decimal("12.50")}, "12.5#100"),
        ({"PK": Decimal("-0.0"), "SK": Decimal("0.000001")}, "0#0.000001"),
        ({"PK": b"\x00\xff\x10", "SK": "v1"}, "AP8Q#v1"),
    ],
)
def test_vector_id_joins_the_key_in_order(keys: dict[str, Any], expected: str) -> None:
    assert vector_id(keys, ("PK", "SK")) == expected


def test_vector_metadata_keeps_flat_values_only() -> None:
    image = {
        "title": "Tides",
        "views": Decimal(12),
        "score": Decimal("0.25"),
        "big": Decimal(2**60),
        "tags": {"moon", "sea"},
        "sizes": {Decimal(10), Decimal("2.5")},
        "authors": ["Ann", "Bo"],
        "draft": False,
        "gone": None,
        "extra": {"a": "b"},
        "blob": b"\x01",
        "mixed": ["a", Decimal(1)],
    }
    metadata, left_out = vector_metadata(image, [*image, "absent"])
    assert metadata == {
        "title": "Tides",
        "views": 12,
        "score": 0.25,
        "big": float(2**60),
        "tags": ["moon", "sea"],
        "sizes": ["2.5", "10"],
        "authors": ["Ann", "Bo"],
        "draft": False,
    }
    assert left_out == ["extra", "blob", "mixed"]


def test_float32_values_are_exact_and_short() -> None:
    values = embedding_of("tides", 64)
    rounded = float32_values(values)
    assert all(len(repr(value)) <= len("-0.") + 9 + 4 for value in rounded)  # nine digits, maybe an exponent
    assert float32_values(rounded) == rounded


def float32_the_long_way(values: Sequence[float]) -> list[float]:
    """Each value packed as a float32, then written with nine significant digits and read back."""
    rounded = struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values))
    return [float(f"{value:.9g}") for value in rounded]


def test_float32_values_write_the_json_that_json_dumps_would() -> None:
    # GIVEN float32s of every exponent, subnormals among them, with and without whole numbers (which "%.9g" alone
    # would write as 1 rather than 1.0)
    patterns = [random.Random(7).getrandbits(32) for _ in range(20_000)]
    every_exponent = [
        value
        for value in struct.unpack(f"<{len(patterns)}f", struct.pack(f"<{len(patterns)}I", *patterns))
        if math.isfinite(value)
    ]
    fractions = [value for value in every_exponent if not value.is_integer()]
    whole = [0.0, -0.0, 1.0, -3.0, 2.0**24, 1234567936.0, 3.4028234663852886e38]
    for values in (fractions, every_exponent, [0.1, -1e-45, *whole], embedding_of("tides", 1024), []):
        # WHEN they are rounded
        rounded = float32_values(values)

        # THEN their JSON is json.dumps of what they read back as, the float32s the long way
        expected = float32_the_long_way(values)
        assert rounded.json == json.dumps(expected, separators=(",", ":"))
        assert len(rounded) == len(values)
        assert list(rounded) == expected and all(type(value) is float for value in rounded)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e39, 10**400, "0.5", None])
def test_float32_values_refuse_what_a_float32_cannot_hold(value: Any) -> None:
    with pytest.raises(PermanentError, match=r"^the embedding is not a list of finite float32 numbers: "):
        float32_values([0.5, value])


def test_serialized_size_is_the_length_of_the_vectors_json() -> None:
    for values in ([*embedding_of("tides", 64), 1.0], []):
        for metadata in ({}, {"title": "Marées \u263e", "tags": ["moon", "sea"], "views": 3}):
            vector = Vector("CONTENT#\u00fc#1", float32_values(values), metadata)
            as_json = json.dumps({"id": vector.id, "values": list(vector.values), "metadata": metadata})
            assert serialized_size(vector) == len(as_json)
            assert serialized_size(Vector(vector.id, list(vector.values), metadata)) == len(as_json)


def test_a_pinecone_upsert_is_the_compact_json_of_its_vectors(pinecone: PineconeStub) -> None:
    # GIVEN a vector rounded by float32_values, a whole number among its values, and one of plain floats
    index = PineconeIndex(index_url=pinecone.url, namespace="articles", api_key=PINECONE_KEY)
    rounded = Vector(id_of(1), float32_values([0.1, 1.0, -2.5e-7]), {"title": "Marées \u263e", "views": 3})
    plain = Vector(id_of(2), [0.5, 0.125, 2.0])

    # WHEN they are upserted
    index.upsert([rounded, plain], timeout=5)

    # THEN the body is what json.dumps writes of the documented request
    (upsert,) = pinecone.requests
    expected = {
        "vectors": [
            {"id": id_of(1), "values": list(rounded.values), "metadata": {"title": "Marées \u263e", "views": 3}},
            {"id": id_of(2), "values": [0.5, 0.125, 2.0]},
        ],
        "namespace": "articles",
    }
    assert upsert.body == json.dumps(expected, separators=(",", ":")).encode()
    assert stored(pinecone, id_of(1))["values"] == [0.100000001, 1.0, -2.49999999e-07]


# --- Voyage to Pinecone ----------------------------------------------------------------------------------------------


def test_a_hundred_inserts_make_one_embedding_request_and_one_upsert(
    load: Callable[..., ModuleType], voyage: VoyageStub, pinecone: PineconeStub, secrets_manager: dict[str, str]
) -> None:
    # GIVEN the seed's configuration: voyage-3.5 at its default 1,024 dimensions
    app = load(**voyage_env(voyage, secrets_manager, VOYAGE_DIMENSIONS=""), **pinecone_env(pinecone, secrets_manager))
    stream = Stream()
    articles = [article(number) for number in range(100)]
    for item in articles:
        stream.insert(item)

    # WHEN the batch is handled
    assert failures(app, stream) == []

    # THEN one request embeds every text, with the key from Secrets Manager, and one upsert stores every vector
    (embedding_request,) = voyage.requests_to(voyage.EMBEDDINGS)
    assert embedding_request.headers["authorization"] == f"Bearer {VOYAGE_KEY}"
    assert embedding_request.json() == {
        "input": [item["body"] for item in articles],
        "model": "voyage-3.5",
        "input_type": "document",
        "truncation": True,
    }
    (upsert,) = pinecone.requests
    assert upsert.path == "/vectors/upsert"
    assert upsert.headers["api-key"] == PINECONE_KEY
    assert upsert.headers["x-pinecone-api-version"] == "2025-10"
    assert len(upsert.body) < 2_000_000
    assert set(pinecone.vectors("articles")) == {id_of(number) for number in range(100)}
    for number, item in enumerate(articles):
        vector = stored(pinecone, id_of(number))
        assert vector["metadata"] == {"title": item["title"], "createdAt": item["createdAt"]}
        assert_embedding_of(vector["values"], item["body"], DEFAULT_DIMENSIONS)


def test_requests_are_cut_at_the_providers_limits(
    load: Callable[..., ModuleType], voyage: VoyageStub, pinecone: PineconeStub, secrets_manager: dict[str, str]
) -> None:
    # GIVEN more texts than one Voyage request takes, whose vectors weigh more than one Pinecone upsert takes
    app = load(**voyage_env(voyage, secrets_manager), **pinecone_env(pinecone, secrets_manager))
    stream = Stream()
    for number in range(1_001):
        stream.insert(article(number))

    assert failures(app, stream) == []

    # THEN 1,000 texts and then 1 are embedded, and the vectors go out in as few upserts as 2 MB allows
    assert sorted(len(texts) for texts in voyage.inputs()) == [1, 1_000]
    upserts = pinecone.requests_to(pinecone.UPSERT)
    assert all(len(upsert.body) <= 2_000_000 for upsert in upserts)
    assert len(upserts) == math.ceil(sum(len(upsert.body) for upsert in upserts) / 2_000_000)
    assert len(pinecone.vectors("articles")) == 1_001


def test_texts_are_cut_at_the_models_token_limit(
    load: Callable[..., ModuleType], voyage: VoyageStub, pinecone: PineconeStub, secrets_manager: dict[str, str]
) -> None:
    # GIVEN voyage-3-large, 120K tokens a request, and texts of 4,000 bytes: 2,002 tokens each by the estimate
    app = load(
        **voyage_env(voyage, secrets_manager, VOYAGE_MODEL="voyage-3-large"), **pinecone_env(pinecone, secrets_manager)
    )
    stream = Stream()
    for number in range(60):
        stream.insert(article(number, body=f"{number:04d}" * 1_000))

    assert failures(app, stream) == []

    assert sorted(len(texts) for texts in voyage.inputs()) == [1, 59]
    assert len(pinecone.requests) == 1


def test_a_text_change_is_embedded_again(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub
) -> None:
    old = article(1)
    seed_pinecone(pinecone, old)
    new = article(1, body="Rewritten: the moon pulls the sea.")
    stream = Stream()
    stream.modify(old, new)

    assert failures(voyage_to_pinecone, stream) == []

    assert voyage.inputs() == [[new["body"]]]
    assert_embedding_of(stored(pinecone, id_of(1))["values"], new["body"])


def test_a_metadata_change_updates_pinecone_without_an_embedding(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub
) -> None:
    # GIVEN one item whose title changes, and one that loses its createdAt (an update cannot remove a field)
    retitled, undated = article(1), article(2)
    seed_pinecone(pinecone, retitled, undated)
    stream = Stream()
    stream.modify(retitled, {**retitled, "title": "Spring tides"})
    stream.modify(undated, article(2, createdAt=None))

    assert failures(voyage_to_pinecone, stream) == []

    (update,) = pinecone.requests_to(pinecone.UPDATE)
    assert update.json() == {
        "id": id_of(1),
        "setMetadata": {"title": "Spring tides", "createdAt": retitled["createdAt"]},
        "namespace": "articles",
    }
    assert stored(pinecone, id_of(1))["metadata"]["title"] == "Spring tides"
    assert voyage.inputs() == [[undated["body"]]]
    assert stored(pinecone, id_of(2))["metadata"] == {"title": undated["title"]}


def test_a_change_to_other_attributes_sends_nothing(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub
) -> None:
    item = article(1, views=Decimal(10))
    stream = Stream()
    stream.modify(item, {**item, "views": Decimal(11), "tags": {"moon"}})

    assert failures(voyage_to_pinecone, stream) == []

    assert voyage.requests == [] and pinecone.requests == []


def test_a_remove_deletes_the_vector(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub
) -> None:
    removed, expired, kept = article(1), article(2), article(3)
    seed_pinecone(pinecone, removed, expired, kept)
    stream = Stream()
    stream.remove(removed)
    stream.remove(expired, ttl=True)

    assert failures(voyage_to_pinecone, stream) == []

    (delete,) = pinecone.requests
    assert delete.json() == {"ids": [id_of(1), id_of(2)], "namespace": "articles"}
    assert set(pinecone.vectors("articles")) == {id_of(3)}
    assert voyage.requests == []


def test_only_the_last_change_per_item_is_applied(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub
) -> None:
    # GIVEN, in one batch: an item edited twice, one created and deleted, one retitled and retitled back, and one
    # created and then retitled (its text was never embedded, so a metadata update alone would lose it)
    edited, fleeting, restored, fresh = article(1), article(2), article(3), article(4)
    seed_pinecone(pinecone, edited, restored)
    stream = Stream()
    stream.modify(edited, {**edited, "body": "First rewrite."})
    stream.insert(fleeting)
    stream.modify(restored, {**restored, "title": "Wrong title"})
    stream.modify({**edited, "body": "First rewrite."}, {**edited, "body": "Second rewrite."})
    stream.insert(fresh)
    stream.remove(fleeting)
    stream.modify({**restored, "title": "Wrong title"}, restored)
    stream.modify(fresh, {**fresh, "title": "Fresh title"})

    assert failures(voyage_to_pinecone, stream) == []

    assert voyage.inputs() == [["Second rewrite.", fresh["body"]]]
    # One delete and one upsert; the delete runs beside the embedding, so their order is not fixed.
    assert sorted(request.path for request in pinecone.requests) == ["/vectors/delete", "/vectors/upsert"]
    assert pinecone.requests_to("/vectors/delete")[0].json()["ids"] == [id_of(2)]
    assert [vector["id"] for vector in pinecone.requests[1].json()["vectors"]] == [id_of(1), id_of(4)]
    assert stored(pinecone, id_of(4))["metadata"]["title"] == "Fresh title"


def test_records_without_text_are_skipped_with_a_metric(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN inserts without text, with blank text and with a number for text, one good insert, an item whose text is
    # emptied, and a retitled item that never had text
    emptied = article(5)
    seed_pinecone(pinecone, emptied)
    stream = Stream()
    skipped = [
        stream.insert(article(1, body=None)),
        stream.insert(article(2, body="  \n")),
        stream.insert(article(3, body=Decimal(42))),
    ]
    stream.insert(article(4))
    stream.modify(emptied, article(5, body=""))
    skipped.append(stream.modify(article(6, body=None), article(6, body=None, title="Untitled")))

    assert failures(voyage_to_pinecone, stream) == []

    # THEN only the good text is embedded, the emptied item's vector alone is deleted, and the skips are counted
    assert voyage.inputs() == [[article(4)["body"]]]
    assert [request.json()["ids"] for request in pinecone.requests_to(pinecone.DELETE)] == [[id_of(5)]]
    assert set(pinecone.vectors("articles")) == {id_of(4)}
    lines = log_lines(capsys.readouterr().out)
    assert [line["SkippedRecords"] for line in lines if "SkippedRecords" in line] == [4]
    skips = [line for line in lines if line.get("message") == "Skipped: no text to embed"]
    assert [(skip["reason"], skip["sequenceNumber"]) for skip in skips] == list(
        zip(["missing", "empty", "not a string", "missing"], skipped, strict=True)
    )


def test_a_malformed_record_fails_alone(voyage_to_pinecone: ModuleType, pinecone: PineconeStub) -> None:
    stream = Stream()
    stream.insert(article(1))
    malformed = stream.insert(article(2))
    stream.insert(article(3))
    stream.records[1]["dynamodb"]["NewImage"]["title"] = {"N": "not a number"}

    assert failures(voyage_to_pinecone, stream) == [malformed]

    assert set(pinecone.vectors("articles")) == {id_of(1), id_of(3)}


def test_an_id_over_the_store_limit_fails_its_record(
    voyage_to_pinecone: ModuleType, pinecone: PineconeStub, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = Stream()
    too_long = stream.insert(article(1, PK="CONTENT#" + "x" * 600))
    stream.insert(article(2))

    assert failures(voyage_to_pinecone, stream) == [too_long]

    assert set(pinecone.vectors("articles")) == {id_of(2)}
    assert "over the vector store's limit of 512" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fault", "least_seconds"),
    [
        (VoyageStub.rate_limited(retry_after="1"), 1.0),
        (VoyageStub.server_error(), 0),
        (VoyageStub.overloaded(), 0),
        (VoyageStub.delayed(1.5), 0.5),
        (VoyageStub.malformed(), 0),
    ],
    ids=["429-retry-after", "500", "529", "timeout", "malformed-json"],
)
def test_voyage_transient_faults_are_retried(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub, fault: Reply, least_seconds: float
) -> None:
    stream = Stream()
    for number in range(3):
        stream.insert(article(number))
    voyage.fail_next(voyage.EMBEDDINGS, fault)

    started = time.monotonic()
    assert failures(voyage_to_pinecone, stream) == []

    # Retry-After: 1 is honoured (the first backoff alone is at most 0.5 s); a timeout costs the 0.5 s timeout.
    assert time.monotonic() - started >= least_seconds
    assert len(voyage.inputs()) == 2
    assert set(pinecone.vectors("articles")) == {id_of(number) for number in range(3)}


def test_voyage_malformed_answers_fail_the_chunk_after_retries(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub
) -> None:
    stream = Stream()
    first = stream.insert(article(1))
    stream.insert(article(2))
    voyage.fail_next(voyage.EMBEDDINGS, *[VoyageStub.malformed()] * 4)

    # 1.5 s left, 0.2 s of it kept back: the retries stop when the next wait would not leave time for a call
    assert failures(voyage_to_pinecone, stream, seconds=1.5) == [first]

    assert len(voyage.inputs()) >= 2
    assert pinecone.requests == []


def test_a_revoked_voyage_key_is_not_retried(
    load: Callable[..., ModuleType],
    voyage: VoyageStub,
    pinecone: PineconeStub,
    secrets_manager: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = load(**voyage_env(voyage, secrets_manager, key="revoked"), **pinecone_env(pinecone, secrets_manager))
    stream = Stream()
    first = stream.insert(article(1))
    stream.insert(article(2))

    assert failures(app, stream) == [first]

    assert len(voyage.requests) == 1
    assert pinecone.requests == []
    logged = capsys.readouterr().out
    assert "HTTP 401" in logged
    assert article(1)["body"] not in logged and "a-key-that-was-revoked" not in logged


def test_a_refused_input_fails_only_its_record(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub
) -> None:
    # GIVEN eight texts in one request, one of which Voyage refuses
    stream = Stream()
    refused = article(5, body="A text Voyage refuses \u2620")
    sequence_numbers = [stream.insert(refused if number == 5 else article(number)) for number in range(8)]

    # WHEN the request is refused, its halves are tried, and theirs, down to the refused text
    assert failures(voyage_to_pinecone, stream) == [sequence_numbers[5]]

    # THEN 1 + 2 + 2 + 2 requests were made, and the seven other vectors went to Pinecone in one upsert
    # (halves and quarters run concurrently, so only the first request's place is fixed)
    sizes = [len(texts) for texts in voyage.inputs()]
    assert sizes[0] == 8 and sorted(sizes[1:]) == [1, 1, 2, 2, 4, 4]
    (upsert,) = pinecone.requests
    assert len(upsert.json()["vectors"]) == 7
    assert set(pinecone.vectors("articles")) == {id_of(number) for number in range(8) if number != 5}


@pytest.mark.parametrize(
    ("fault", "least_seconds"),
    [
        (PineconeStub.rate_limited(retry_after="1"), 1.0),
        (PineconeStub.server_error(), 0),
        (PineconeStub.delayed(1.5), 0.5),
        (Reply(raw=b"<html><body>502 Bad Gateway</body></html>"), 0),
    ],
    ids=["429-retry-after", "500", "timeout", "malformed-json"],
)
def test_pinecone_transient_faults_are_retried(
    voyage_to_pinecone: ModuleType, voyage: VoyageStub, pinecone: PineconeStub, fault: Reply, least_seconds: float
) -> None:
    stream = Stream()
    for number in range(3):
        stream.insert(article(number))
    pinecone.fail_next(pinecone.UPSERT, fault)

    started = time.monotonic()
    assert failures(voyage_to_pinecone, stream) == []

    assert time.monotonic() - started >= least_seconds
    assert len(pinecone.requests_to(pinecone.UPSERT)) == 2
    assert len(voyage.requests) == 1
    assert set(pinecone.vectors("articles")) == {id_of(number) for number in range(3)}


def test_a_revoked_pinecone_key_is_not_retried(
    load: Callable[..., ModuleType], voyage: VoyageStub, pinecone: PineconeStub, secrets_manager: dict[str, str]
) -> None:
    app = load(**voyage_env(voyage, secrets_manager), **pinecone_env(pinecone, secrets_manager, key="revoked"))
    stream = Stream()
    first = stream.insert(article(1))
    stream.insert(article(2))

    assert failures(app, stream) == [first]

    assert len(pinecone.requests) == 1


def test_a_refused_vector_fails_only_its_record(voyage_to_pinecone: ModuleType, pinecone: PineconeStub) -> None:
    # GIVEN four records, one with a title over Pinecone's 40 KB of metadata a record
    stream = Stream()
    sequence_numbers = [
        stream.insert(article(number, title="T" * 41_000 if number == 2 else f"Article {number}"))
        for number in range(4)
    ]

    assert failures(voyage_to_pinecone, stream) == [sequence_numbers[2]]

    # The chunk, then its halves, then the refused half's quarters; halves and quarters run concurrently.
    sizes = [len(request.json()["vectors"]) for request in pinecone.requests]
    assert sizes[0] == 4 and sorted(sizes[1:]) == [1, 1, 2, 2]
    assert set(pinecone.vectors("articles")) == {id_of(0), id_of(1), id_of(3)}


def test_a_failed_delete_fails_only_its_record(voyage_to_pinecone: ModuleType, pinecone: PineconeStub) -> None:
    removed = article(1)
    seed_pinecone(pinecone, removed)
    stream = Stream()
    stream.insert(article(0))
    removal = stream.remove(removed)
    stream.insert(article(2))
    pinecone.fail_next(pinecone.DELETE, pinecone_error(403, "Forbidden: the key cannot write to this index"))

    assert failures(voyage_to_pinecone, stream) == [removal]

    assert len(pinecone.requests_to(pinecone.DELETE)) == 1
    assert set(pinecone.vectors("articles")) == {id_of(0), id_of(1), id_of(2)}


# --- Titan to S3 Vectors ---------------------------------------------------------------------------------------------


def load_titan_to_s3_vectors(load: Callable[..., ModuleType], *, request_timeout_seconds: float) -> ModuleType:
    return load(
        EMBEDDING_PROVIDER="titan",
        TITAN_MODEL_ID=MODEL_ID,
        TITAN_DIMENSIONS=str(DIMENSIONS),
        REQUEST_TIMEOUT_SECONDS=str(request_timeout_seconds),
        MAX_CONCURRENCY="20",
        **s3_vectors_env(),
    )


@pytest.fixture
def titan_to_s3_vectors(load: Callable[..., ModuleType], titan: TitanStub, s3vectors: S3VectorsStub) -> ModuleType:
    return load_titan_to_s3_vectors(load, request_timeout_seconds=0.5)


def test_titan_embeds_twenty_texts_concurrently(
    load: Callable[..., ModuleType], titan: TitanStub, s3vectors: S3VectorsStub
) -> None:
    # A timeout far above the stub's latency: on a loaded machine a tight one would time requests out and retry them.
    handler = load_titan_to_s3_vectors(load, request_timeout_seconds=10)
    titan.invoke_latency = 1.0
    stream = Stream()
    articles = [article(number) for number in range(20)]
    for item in articles:
        stream.insert(item)

    assert failures(handler, stream) == []

    # One call a text, all twenty in flight at once
    assert sorted(titan.texts()) == sorted(item["body"] for item in articles)
    assert titan.max_in_flight == 20
    (put,) = s3vectors.requests
    assert put.path == "/PutVectors" and len(put.json()["vectors"]) == 20
    index = s3vectors.indexes[(BUCKET, INDEX)]
    for number, item in enumerate(articles):
        assert index[id_of(number)]["metadata"] == {"title": item["title"], "createdAt": item["createdAt"]}
        assert_embedding_of(index[id_of(number)]["float32"], item["body"])


@pytest.mark.parametrize(
    ("fault", "least_seconds"),
    [
        (titan_error(429, "ThrottlingException", "Too many requests", **{"Retry-After": "1"}), 1.0),
        (titan_error(500, "InternalServerException", "Internal server error"), 0),
        (titan_error(429, "ModelNotReadyException", "The model is not ready"), 0),
        (Reply(body={"embedding": [1.0]}, delay=1.5), 0.5),
        (Reply(raw=b'{"embedding": [0.1, 0.'), 0),
    ],
    ids=["throttling-retry-after", "500", "model-not-ready", "timeout", "malformed-json"],
)
def test_bedrock_transient_faults_are_retried(
    titan_to_s3_vectors: ModuleType, titan: TitanStub, s3vectors: S3VectorsStub, fault: Reply, least_seconds: float
) -> None:
    stream = Stream()
    for number in range(3):
        stream.insert(article(number, body=f"Text {number}" + (" (faulty)" if number == 1 else "")))
    titan.fail_when("faulty", fault)

    started = time.monotonic()
    assert failures(titan_to_s3_vectors, stream) == []

    assert time.monotonic() - started >= least_seconds
    assert sorted(titan.texts()) == ["Text 0", "Text 1 (faulty)", "Text 1 (faulty)", "Text 2"]
    assert set(s3vectors.indexes[(BUCKET, INDEX)]) == {id_of(number) for number in range(3)}


def test_bedrock_access_denied_is_not_retried(
    titan_to_s3_vectors: ModuleType, titan: TitanStub, s3vectors: S3VectorsStub
) -> None:
    stream = Stream()
    sequence_numbers = [
        stream.insert(article(number, body=f"Text {number}" + (" (denied)" if number == 1 else "")))
        for number in range(3)
    ]
    titan.fail_when("denied", titan_error(403, "AccessDeniedException", "not authorized to invoke this model"))

    assert failures(titan_to_s3_vectors, stream) == [sequence_numbers[1]]

    assert sorted(titan.texts()) == ["Text 0", "Text 1 (denied)", "Text 2"]
    assert set(s3vectors.indexes[(BUCKET, INDEX)]) == {id_of(0), id_of(2)}


def test_titan_gets_at_most_fifty_thousand_characters(titan_to_s3_vectors: ModuleType, titan: TitanStub) -> None:
    stream = Stream()
    stream.insert(article(1, body="tide " * 12_000))

    assert failures(titan_to_s3_vectors, stream) == []

    assert [len(text) for text in titan.texts()] == [50_000]


def test_s3_vectors_throttling_is_retried_and_removes_delete(
    titan_to_s3_vectors: ModuleType, s3vectors: S3VectorsStub
) -> None:
    index = s3vectors.indexes[(BUCKET, INDEX)]
    index[id_of(9)] = {"float32": [0.5] * DIMENSIONS, "metadata": {}}
    stream = Stream()
    stream.insert(article(1))
    stream.remove(article(9))
    s3vectors.fail_next(s3vectors.PUT, s3_vectors_error(429, "TooManyRequestsException", "Slow down"))

    assert failures(titan_to_s3_vectors, stream) == []

    assert [request.path for request in s3vectors.requests].count("/PutVectors") == 2
    (delete,) = s3vectors.requests_to(s3vectors.DELETE)
    assert delete.json() == {"vectorBucketName": BUCKET, "indexName": INDEX, "keys": [id_of(9)]}
    assert set(index) == {id_of(1)}


def test_a_metadata_change_is_embedded_again_for_s3_vectors(
    load: Callable[..., ModuleType], voyage: VoyageStub, s3vectors: S3VectorsStub, secrets_manager: dict[str, str]
) -> None:
    app = load(**voyage_env(voyage, secrets_manager), **s3_vectors_env())
    item = article(1)
    stream = Stream()
    stream.modify(item, {**item, "title": "Neap tides"})

    assert failures(app, stream) == []

    assert voyage.inputs() == [[item["body"]]]
    (put,) = s3vectors.requests
    assert put.json()["vectors"][0]["metadata"] == {"title": "Neap tides", "createdAt": item["createdAt"]}


# --- plug-ins --------------------------------------------------------------------------------------------------------


class VowelCounts:
    """A plug-in model: how often each vowel occurs, two texts a call."""

    calls: ClassVar[list[list[str]]] = []
    max_batch_texts = 2
    max_batch_tokens = 10_000

    def embed(self, texts: Sequence[str], *, timeout: float) -> list[list[float]]:
        VowelCounts.calls.append(list(texts))
        return [[float(text.count(vowel)) for vowel in "aeiou"] for text in texts]


class NaNForMarkedTexts:
    """A plug-in model whose embedding of a text holding "NaN" holds a NaN, which no store keeps."""

    max_batch_texts = 10
    max_batch_tokens = 10_000

    def embed(self, texts: Sequence[str], *, timeout: float) -> list[list[float]]:
        return [[math.nan if "NaN" in text else 0.5, 0.25] for text in texts]


class MemoryStore:
    """A plug-in store that keeps vectors in a dict and cannot update metadata alone."""

    instances: ClassVar[list[MemoryStore]] = []
    max_batch_vectors = 100
    max_batch_bytes = 1_000_000
    supports_metadata_update = False

    def __init__(self) -> None:
        self.vectors: dict[str, Vector] = {}
        MemoryStore.instances.append(self)

    def upsert(self, vectors: Sequence[Vector], *, timeout: float) -> None:
        self.vectors.update((vector.id, vector) for vector in vectors)

    def delete(self, ids: Sequence[str], *, timeout: float) -> None:
        for key in ids:
            self.vectors.pop(key, None)

    def update_metadata(self, vector_id: str, metadata: Any, *, timeout: float) -> None:
        raise AssertionError("supports_metadata_update is False")


def test_plugins_are_built_from_their_class_paths(load: Callable[..., ModuleType]) -> None:
    app = load(
        EMBEDDING_PROVIDER="plugin",
        EMBEDDING_PLUGIN=f"{__name__}:VowelCounts",
        VECTOR_STORE="plugin",
        VECTOR_STORE_PLUGIN=f"{__name__}:MemoryStore",
    )
    VowelCounts.calls.clear()
    stream = Stream()
    for number in range(3):
        stream.insert(article(number, body="aeiou" * (number + 1)))

    assert failures(app, stream) == []

    assert [len(texts) for texts in VowelCounts.calls] == [2, 1]
    store = MemoryStore.instances[-1]
    assert {key: vector.values for key, vector in store.vectors.items()} == {
        id_of(number): [float(number + 1)] * 5 for number in range(3)
    }
    # A plug-in store gets plain lists of floats, which any JSON encoder takes.
    assert all(type(vector.values) is list for vector in store.vectors.values())
    assert all(type(value) is float for vector in store.vectors.values() for value in vector.values)


def test_an_embedding_no_store_can_keep_fails_only_its_record(
    load: Callable[..., ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    app = load(
        EMBEDDING_PROVIDER="plugin",
        EMBEDDING_PLUGIN=f"{__name__}:NaNForMarkedTexts",
        VECTOR_STORE="plugin",
        VECTOR_STORE_PLUGIN=f"{__name__}:MemoryStore",
    )
    stream = Stream()
    stream.insert(article(1))
    refused = stream.insert(article(2, body="NaN, said the model"))
    stream.insert(article(3))

    assert failures(app, stream) == [refused]

    assert set(MemoryStore.instances[-1].vectors) == {id_of(1), id_of(3)}
    assert "the embedding is not a list of finite float32 numbers" in capsys.readouterr().out


def test_a_runtime_boto3_without_the_service_fails_the_call_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a boto3 that predates S3 Vectors, as an older Lambda runtime's may
    import boto3

    from lambda_src.providers.aws import AwsClient
    from lambda_src.providers.retry import FinalProviderError

    monkeypatch.setattr(boto3.session.Session, "get_available_services", lambda self: ["dynamodb"])
    client = AwsClient("s3vectors", retryable_codes=(), max_connections=1)
    # WHEN a call is made THEN it fails for good, saying what to do
    with pytest.raises(
        FinalProviderError, match=r"has no s3vectors client: add a newer boto3 to the function in a layer"
    ):
        client.call(5, lambda s3vectors: s3vectors.put_vectors())
