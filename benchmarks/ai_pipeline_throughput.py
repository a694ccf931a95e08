"""Throughput of the EmbeddingPipeline and SummaryEnricher handlers, against the seed's naive snippets and a floor.

What is measured: the wall time (``time.perf_counter``) for one Lambda batch of 100 INSERT records of ``CONTENT#``
items (PK, SK, title, createdAt, a number, a body of about 420 characters) to go through each side, in one process:

- Embedding. Ours: ``lambda_src.embedding_pipeline.app.handler`` (Voyage to Pinecone, MAX_CONCURRENCY at its
  default). Naive, the seed's snippet in Python: for each record in turn, one POST of that one text to Voyage's
  embeddings API with ``urllib.request`` (a new request each time, like the seed's ``fetch``), then one Pinecone
  upsert of that one vector. Floor: the fewest requests the work needs, with ``http.client`` on kept-alive
  connections and no SDK, on the calling thread: one POST /v1/embeddings carrying the 100 texts as ours sends them,
  then one POST /vectors/upsert carrying the vectors and metadata ours sends, built from the embeddings answer as any
  client must (decode it, round each vector to float32, write the body): each value's nine significant digits are
  formatted once, straight into the body.
- Summary. Ours: ``lambda_src.summary_enricher.app.handler`` (the Anthropic API, then a conditional write-back).
  Naive: for each record in turn, one ``messages.create`` with an ``anthropic.Anthropic`` client made once (the
  seed's module-level client), then one unconditional UpdateItem ``SET aiSummary`` with a boto3 Table. Floor: the
  100 Messages API requests with ``http.client`` (the bodies ours sends), as many at once as ours makes (its
  MAX_CONCURRENCY default, 16, on a pool made once), each followed by the item's write-back, the fewest requests the
  work needs: the same conditional UpdateItem as ours, with a plain boto3 DynamoDB client (a pooled connection per
  worker).

All sides talk to the same stub servers on 127.0.0.1 (``constructs_pkg.local.stubs``), each answering a request
after 50 ms. The stubs run in this process, so what they spend of its CPU (decoding a request, writing an answer)
counts for every side alike, as provider time. API keys come from Secrets Manager served by moto in server mode; the
summaries are written to DynamoDB Local, which the benchmark starts itself (constructs_pkg.local's launcher) with one
table per side, all of the same kind. Two departures from the seed, both because the Voyage stub speaks the current
API only: the naive side sends ``input`` as a one-text list and names ``voyage-3.5`` (the seed's ``voyage-3`` has the
same 1,024 dimensions). Every run starts from fresh state (stores emptied, items put back without a summary) and is
checked afterwards: 100 vectors, with the right values and metadata, in the Pinecone stub; 100 items with the right
``aiSummary`` in DynamoDB Local; no failure reported or logged. The floor's requests are checked against ours in
every round: the same embedding and upsert bodies byte for byte, the same Messages API bodies as JSON, and its
round trips the minimum.

One warm-up of each side on a few records keeps imports, cold starts and connection set-up out of the numbers;
then three rounds, each side going first in one, and each side's median is reported, with the range of its runs.
Round trips: the requests the Voyage and Pinecone stubs received during a timed run of ours (the most of the three
runs), against the least the providers' published limits allow for these 100 texts and vectors (count, tokens and
bytes a request). The last lines are ``embedding speedup vs naive: X``, ``summary speedup vs naive: Y``,
``embedding round trips: A (minimum M)``, ``embedding overhead vs floor: P`` and ``summary overhead vs floor: Q``
(ours / floor); the bars are X >= 20, Y >= 8, A = M, P <= 1.5 and Q <= 1.5.

Run from the repository root: ``python -m benchmarks.ai_pipeline_throughput`` (needs Java 17 for DynamoDB Local,
which ``python -m constructs_pkg.local setup`` installs; scripts/setup.sh runs it).
"""

from __future__ import annotations

import array
import contextlib
import gc
import http.client
import importlib
import io
import json
import logging
import math
import os
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import anthropic
import boto3
from botocore.config import Config

from constructs_pkg.local.dynamodb_local import running_dynamodb_local
from constructs_pkg.local.runner import running_moto_server
from constructs_pkg.local.stubs.anthropic import API_KEY as ANTHROPIC_KEY
from constructs_pkg.local.stubs.anthropic import AnthropicStub, summary_of
from constructs_pkg.local.stubs.pinecone import API_KEY as PINECONE_KEY
from constructs_pkg.local.stubs.pinecone import PineconeStub
from constructs_pkg.local.stubs.voyage import API_KEY as VOYAGE_KEY
from constructs_pkg.local.stubs.voyage import DEFAULT_DIMENSIONS, VoyageStub, embedding_of
from lambda_src.contract import DEFAULT_MAX_TOKENS, DEFAULT_PROMPT
from lambda_src.contract import DEFAULT_SUMMARY_MAX_CONCURRENCY as DEFAULT_MAX_CONCURRENCY
from lambda_src.providers.pinecone import PINECONE_API_VERSION, PINECONE_MAX_UPSERT_BYTES, PINECONE_MAX_UPSERT_VECTORS
from lambda_src.providers.voyage import VOYAGE_MAX_TEXTS_PER_REQUEST, VOYAGE_TOKENS_PER_REQUEST

__all__ = ["main"]

RECORDS = 100
WARM_UP_RECORDS = 16
ROUNDS = 3  # odd, for a true median
LATENCY_SECONDS = 0.05
SIDES = ("ours", "naive", "floor")
# Ours against the naive handlers (at least), and against the floor (at most).
SPEEDUP_BARS = {"embedding": 20.0, "summary": 8.0}
OVERHEAD_BARS = {"embedding": 1.5, "summary": 1.5}
REGION = "us-east-1"
VOYAGE_MODEL = "voyage-3.5"
SUMMARY_MODEL = "claude-haiku-4-5"  # the seed's
SUMMARY_MAX_TOKENS = 150  # the seed's
NAMESPACE = "content"
TABLES = {"ours": "bench-ours", "naive": "bench-naive", "floor": "bench-floor"}
# What ours sends Voyage beside the texts (the pipeline's defaults), and Anthropic's API version, as the SDK sends it.
VOYAGE_OPTIONS = {"model": VOYAGE_MODEL, "input_type": "document", "truncation": True}
ANTHROPIC_VERSION = "2023-06-01"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:111122223333:table/Content/stream/2026-03-01T00:00:00.000"
SEQUENCE_BASE = 4_200_000_000_000_000_000_000  # 22 digits, as DynamoDB's
# The body of every item, about 420 characters: "a few hundred", as an article's opening paragraph.
_BODY = (
    "Article {n} looks at how the moon and the sun pull on the oceans, why two high tides a day arrive about fifty "
    "minutes later each day, how spring and neap tides follow the phases of the moon, and what harbour masters, "
    "surfers and marine biologists read in the tide tables. It closes with measurements taken at {n} stations along "
    "the coast over a full lunar month, and with a note on why some bays see almost no tide at all."
)

Item = dict[str, Any]


# --- the batch -----------------------------------------------------------------------------------------------------


def content_items(count: int) -> list[Item]:
    """``count`` CONTENT# items as the seed describes them, in DynamoDB JSON."""
    return [
        {
            "PK": {"S": f"AUTHOR#{number % 10:02d}"},
            "SK": {"S": f"CONTENT#{number:03d}"},
            "title": {"S": f"Tides, part {number}"},
            "createdAt": {"S": f"2026-03-{number % 28 + 1:02d}T08:00:00Z"},
            "wordCount": {"N": str(len(_BODY.format(n=number).split()))},
            "body": {"S": _BODY.format(n=number)},
        }
        for number in range(count)
    ]


def stream_event(items: list[Item]) -> dict[str, Any]:
    """The event Lambda delivers for the items' INSERTs: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html"""
    records = []
    for index, item in enumerate(items):
        records.append(
            {
                "eventID": f"{index:032x}",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "dynamodb": {
                    "ApproximateCreationDateTime": 1774000000 + index,
                    "Keys": {"PK": item["PK"], "SK": item["SK"]},
                    "NewImage": item,
                    "SequenceNumber": str(SEQUENCE_BASE + index * 100),
                    "SizeBytes": len(json.dumps(item)),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": STREAM_ARN,
            }
        )
    return {"Records": records}


class LambdaContext:
    """The parts of Lambda's context the handlers read: a request id, and all the time in the world."""

    aws_request_id = "0b5e6f1c-9d7a-4c3e-8f21-6a4d2c1b0e93"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def vector_id(item: Item) -> str:
    return f"{item['PK']['S']}#{item['SK']['S']}"  # the seed's PK + '#' + SK, as ours documents it


def expected_summary(item: Item) -> str:
    return summary_of(DEFAULT_PROMPT.replace("{text}", item["body"]["S"]))


# --- the naive side: the seed's snippets ---------------------------------------------------------------------------


def post_json(url: str, body: Any, headers: Mapping[str, str]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@dataclass
class NaiveEmbedding:
    voyage_url: str
    pinecone_url: str

    def handler(self, event: Mapping[str, Any], context: Any) -> None:
        inserts = [record for record in event["Records"] if record["eventName"] == "INSERT"]
        for record in inserts:
            item = record["dynamodb"]["NewImage"]
            if not item.get("SK", {}).get("S", "").startswith("CONTENT#"):
                continue
            text = item.get("body", {}).get("S")
            if not text:
                continue
            answer = post_json(
                f"{self.voyage_url}/v1/embeddings",
                {"input": [text], "model": VOYAGE_MODEL},
                {"Authorization": f"Bearer {VOYAGE_KEY}"},
            )
            embedding = answer["data"][0]["embedding"]
            vector = {
                "id": item["PK"]["S"] + "#" + item["SK"]["S"],
                "values": embedding,
                "metadata": {"title": item["title"]["S"], "createdAt": item["createdAt"]["S"]},
            }
            post_json(
                f"{self.pinecone_url}/vectors/upsert",
                {"vectors": [vector], "namespace": NAMESPACE},
                {"Api-Key": PINECONE_KEY, "X-Pinecone-Api-Version": PINECONE_API_VERSION},
            )


@dataclass
class NaiveSummary:
    client: anthropic.Anthropic
    table: Any  # a boto3 Table, the seed's DynamoDBDocumentClient

    def handler(self, event: Mapping[str, Any], context: Any) -> None:
        for record in event["Records"]:
            if record["eventName"] != "INSERT":
                continue
            item = record["dynamodb"]["NewImage"]
            if not item.get("body", {}).get("S"):
                continue
            summary = self.client.messages.create(
                model=SUMMARY_MODEL,
                max_tokens=SUMMARY_MAX_TOKENS,
                messages=[{"role": "user", "content": f"Summarize in one sentence: {item['body']['S']}"}],
            )
            self.table.update_item(
                Key={"PK": item["PK"]["S"], "SK": item["SK"]["S"]},
                UpdateExpression="SET aiSummary = :s",
                ExpressionAttributeValues={":s": summary.content[0].text},  # type: ignore[union-attr]
            )


# --- the floor: the fewest requests the work needs, with the standard library and a plain boto3 client ---------------


class KeptAliveJson:
    """POSTs JSON to one base URL on a kept-alive ``http.client`` connection per thread, and decodes the answer."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._headers = {"Content-Type": "application/json", **headers}
        self._local = threading.local()

    def post(self, path: str, body: Any) -> Any:
        return self.post_payload(path, json.dumps(body, separators=(",", ":")).encode())

    def post_payload(self, path: str, payload: bytes) -> Any:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self._host, self._port, timeout=30)
        connection.request("POST", path, body=payload, headers=self._headers)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise AssertionError(f"floor: POST {path} answered {response.status}: {data[:200]!r}")
        return json.loads(data)


def float32_json(values: list[float]) -> str:
    """``values`` as float32, each written with nine significant digits, as a JSON array, in one format call."""
    rounded = array.array("f", values)
    return "[" + ",".join(["%.9g"] * len(rounded)) % tuple(rounded) + "]"


@dataclass
class FloorEmbedding:
    """One embeddings request carrying every text, then one upsert carrying every vector, on the calling thread.

    The upsert body is written by hand, each value's nine digits formatted once, straight into the body: the least
    work that sends what ours sends (checked byte for byte).
    """

    voyage: KeptAliveJson
    pinecone: KeptAliveJson

    def handler(self, event: Mapping[str, Any], context: Any) -> None:
        items = [record["dynamodb"]["NewImage"] for record in event["Records"]]
        answer = self.voyage.post("/v1/embeddings", {"input": [item["body"]["S"] for item in items], **VOYAGE_OPTIONS})
        embeddings: list[Any] = [None] * len(items)
        for entry in answer["data"]:
            embeddings[entry["index"]] = entry["embedding"]
        records = []
        for item, embedding in zip(items, embeddings, strict=True):
            metadata = {"title": item["title"]["S"], "createdAt": item["createdAt"]["S"]}
            records.append(
                f'{{"id":{json.dumps(vector_id(item))},"values":{float32_json(embedding)},'
                f'"metadata":{json.dumps(metadata, separators=(",", ":"))}}}'
            )
        payload = f'{{"vectors":[{",".join(records)}],"namespace":{json.dumps(NAMESPACE)}}}'
        answer = self.pinecone.post_payload("/vectors/upsert", payload.encode())
        if answer["upsertedCount"] != len(items):
            raise AssertionError(f"floor: upsertedCount {answer['upsertedCount']} for {len(items)} vectors")


@dataclass
class FloorSummary:
    """Per item, one Messages API request and one conditional UpdateItem, ``DEFAULT_MAX_CONCURRENCY`` items at once."""

    messages: KeptAliveJson
    dynamodb: Any  # a plain boto3 DynamoDB client, thread-safe, with a connection per worker
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=DEFAULT_MAX_CONCURRENCY))

    def handler(self, event: Mapping[str, Any], context: Any) -> None:
        for _ in self.pool.map(
            self._summarize_and_write, [record["dynamodb"]["NewImage"] for record in event["Records"]]
        ):
            pass

    def _summarize_and_write(self, item: Item) -> None:
        prompt = DEFAULT_PROMPT.replace("{text}", item["body"]["S"])
        answer = self.messages.post(
            "/v1/messages",
            {
                "max_tokens": DEFAULT_MAX_TOKENS,
                "messages": [{"role": "user", "content": prompt}],
                "model": SUMMARY_MODEL,
            },
        )
        summary = "".join(block["text"] for block in answer["content"] if block["type"] == "text").strip()
        # The same write-back as ours: the summary, only while the item still holds the text summarized.
        self.dynamodb.update_item(
            TableName=TABLES["floor"],
            Key={"PK": item["PK"], "SK": item["SK"]},
            UpdateExpression="SET #summary = :summary",
            ConditionExpression="#source = :text",
            ExpressionAttributeNames={"#summary": "aiSummary", "#source": "body"},
            ExpressionAttributeValues={":summary": {"S": summary}, ":text": item["body"]},
        )


# --- the loopback world --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def dynamodb_local() -> Iterator[str]:
    """DynamoDB Local on a free port (``python -m constructs_pkg.local setup`` installs it); yields its URL."""
    with running_dynamodb_local() as database:
        yield database.endpoint_url


def aws_client(service_name: str, endpoint_url: str, *, max_pool_connections: int = 10) -> Any:
    return boto3.session.Session().client(
        service_name,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"total_max_attempts": 1},
            connect_timeout=2,
            read_timeout=10,
            max_pool_connections=max_pool_connections,
        ),
    )


def create_table(client: Any, name: str) -> None:
    # The seed's table: PK and SK strings, with the stream that triggers the pipelines.
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def put_items(client: Any, table: str, items: list[Item]) -> None:
    """The items as they were inserted, without a summary; BatchWriteItem takes 25 at a time."""
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        unprocessed: dict[str, Any] = {table: requests}
        while unprocessed:
            unprocessed = client.batch_write_item(RequestItems=unprocessed)["UnprocessedItems"]


def set_environment(endpoints: Mapping[str, str], secret_arns: Mapping[str, str]) -> None:
    """What the constructs set for their functions, pointed at loopback; before the handlers are imported."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME", "MAX_CONCURRENCY"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoints["secretsmanager"],
            "AWS_ENDPOINT_URL_DYNAMODB": endpoints["dynamodb"],
            # EmbeddingPipeline
            "TEXT_ATTRIBUTE": "body",
            "METADATA_ATTRIBUTES": "title,createdAt",
            "VECTOR_ID_ATTRIBUTES": "PK,SK",
            "EMBEDDING_PROVIDER": "voyage",
            "VOYAGE_MODEL": VOYAGE_MODEL,
            "VOYAGE_API_KEY_SECRET_ARN": secret_arns["voyage"],
            "VOYAGE_BASE_URL": endpoints["voyage"],
            "VECTOR_STORE": "pinecone",
            "PINECONE_INDEX_HOST": endpoints["pinecone"],
            "PINECONE_NAMESPACE": NAMESPACE,
            "PINECONE_API_KEY_SECRET_ARN": secret_arns["pinecone"],
            # SummaryEnricher
            "TABLE_NAME": TABLES["ours"],
            "SUMMARY_PROVIDER": "anthropic",
            "MODEL_ID": SUMMARY_MODEL,
            "ANTHROPIC_API_KEY_SECRET_ARN": secret_arns["anthropic"],
            "ANTHROPIC_BASE_URL": endpoints["anthropic"],
        }
    )


# --- runs and checks -----------------------------------------------------------------------------------------------


@dataclass
class World:
    voyage: VoyageStub
    pinecone: PineconeStub
    anthropic: AnthropicStub
    dynamodb: Any
    embedding: dict[str, Callable[[dict[str, Any], Any], Any]]
    summary: dict[str, Callable[[dict[str, Any], Any], Any]]

    def reset(self, side: str, items: list[Item]) -> None:
        for stub in (self.voyage, self.pinecone, self.anthropic):
            stub.requests.clear()
        self.pinecone.namespaces.clear()
        put_items(self.dynamodb, TABLES[side], items)


@dataclass
class Run:
    """One checked run of a side: its seconds, its Voyage plus Pinecone requests, and what those and the
    Anthropic requests carried (decoded JSON; the Anthropic bodies sorted, as they arrive in any order)."""

    embedding_seconds: float
    summary_seconds: float
    round_trips: int
    embedding_payloads: list[bytes]
    summary_payloads: list[str]


def timed(handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]) -> tuple[float, Any, str]:
    """Seconds ``handler`` took on ``event``, what it returned, and what it wrote to stdout (its log lines)."""
    output = io.StringIO()
    # No garbage of the previous run to collect, and no collection while timed.
    gc.collect()
    gc.disable()
    try:
        with contextlib.redirect_stdout(output):
            started = time.perf_counter()
            answer = handler(event, LambdaContext())
            elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    return elapsed, answer, output.getvalue()


def check_handler(side: str, answer: Any, output: str) -> None:
    """Ours reported no failure and logged no warning; the naive side and the floor return nothing, log nothing."""
    if side == "ours" and answer != {"batchItemFailures": []}:
        raise AssertionError(f"ours reported failures: {answer}")
    for line in output.splitlines():
        entry = json.loads(line) if line.startswith("{") else {"level": "TEXT", "message": line}
        if entry.get("level") not in ("INFO", "DEBUG", None):
            raise AssertionError(f"{side} logged: {line}")


def check_vectors(pinecone: PineconeStub, items: list[Item]) -> None:
    stored = pinecone.vectors(NAMESPACE)
    if sorted(stored) != sorted(vector_id(item) for item in items):
        raise AssertionError(f"{len(stored)} vectors in the Pinecone stub, expected {len(items)}")
    for item in items:
        vector = stored[vector_id(item)]
        expected = embedding_of(item["body"]["S"], DEFAULT_DIMENSIONS)
        # Ours and the floor send float32 values (what Pinecone keeps), the naive side the stub's float64s.
        if len(vector["values"]) != len(expected) or not all(
            math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
            for got, want in zip(vector["values"], expected, strict=True)
        ):
            raise AssertionError(f"{vector_id(item)}: the stored vector is not the embedding of its body")
        if vector["metadata"] != {"title": item["title"]["S"], "createdAt": item["createdAt"]["S"]}:
            raise AssertionError(f"{vector_id(item)}: metadata {vector['metadata']}")


def check_summaries(dynamodb: Any, table: str, items: list[Item]) -> None:
    found = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for stored in page["Items"]:
            found[vector_id(stored)] = stored.get("aiSummary", {}).get("S")
    for item in items:
        if found.get(vector_id(item)) != expected_summary(item):
            raise AssertionError(f"{table}: {vector_id(item)} has aiSummary {found.get(vector_id(item))!r}")


def check_same_payloads(ours: Run, floor: Run) -> None:
    """The floor sent what ours sent: the same embedding and upsert bodies byte for byte, the same Messages API
    bodies as JSON (the SDK's own key order is its business)."""
    if ours.embedding_payloads != floor.embedding_payloads:
        raise AssertionError("the floor's embedding and upsert bodies differ from ours")
    if ours.summary_payloads != floor.summary_payloads:
        raise AssertionError("the floor's Messages API bodies differ from ours")


def run_side(world: World, side: str, items: list[Item]) -> Run:
    """One run of a side on ``items``, checked."""
    event = stream_event(items)
    world.reset(side, items)
    embedding_seconds, answer, output = timed(world.embedding[side], event)
    check_handler(side, answer, output)
    check_vectors(world.pinecone, items)
    round_trips = len(world.voyage.requests) + len(world.pinecone.requests)
    embedding_payloads = [request.body for request in (*world.voyage.requests, *world.pinecone.requests)]
    summary_seconds, answer, output = timed(world.summary[side], event)
    check_handler(side, answer, output)
    check_summaries(world.dynamodb, TABLES[side], items)
    if len(world.anthropic.requests) != len(items):
        raise AssertionError(f"{side}: {len(world.anthropic.requests)} summary requests for {len(items)} items")
    summary_payloads = sorted(json.dumps(request.json(), sort_keys=True) for request in world.anthropic.requests)
    return Run(embedding_seconds, summary_seconds, round_trips, embedding_payloads, summary_payloads)


def minimum_round_trips(pinecone: PineconeStub, items: list[Item]) -> int:
    """The fewest Voyage plus Pinecone requests the published limits allow, for the texts and the vectors as stored.

    Tokens are counted as UTF-8 bytes: Voyage's tokenizers are byte-level BPE, so a text has no more tokens than
    bytes (https://docs.voyageai.com/docs/tokenization); this over-counts, but the result cannot drop below one.
    Bytes are those of one compact upsert body holding every vector with its float32 values, as Pinecone keeps them.
    """
    texts = [item["body"]["S"] for item in items]
    tokens = sum(len(text.encode()) for text in texts)
    embed_requests = max(
        math.ceil(len(texts) / VOYAGE_MAX_TEXTS_PER_REQUEST),
        math.ceil(tokens / VOYAGE_TOKENS_PER_REQUEST[VOYAGE_MODEL]),
    )
    vectors = [{"id": vector_id, **vector} for vector_id, vector in pinecone.vectors(NAMESPACE).items()]
    upsert_bytes = len(json.dumps({"vectors": vectors, "namespace": NAMESPACE}, separators=(",", ":")).encode())
    upserts = max(
        math.ceil(len(vectors) / PINECONE_MAX_UPSERT_VECTORS), math.ceil(upsert_bytes / PINECONE_MAX_UPSERT_BYTES)
    )
    return embed_requests + upserts


def spread(seconds: list[float]) -> str:
    return f"{min(seconds):.3f}-{max(seconds):.3f}"


@contextlib.contextmanager
def loopback_world() -> Iterator[World]:
    """The stubs, moto, DynamoDB Local and the three sides' handlers, ready to run; all stopped on exit."""
    # moto's server logs every request it answers.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with contextlib.ExitStack() as stack:
        voyage = VoyageStub(latency=LATENCY_SECONDS)
        pinecone = PineconeStub(latency=LATENCY_SECONDS)
        anthropic_stub = AnthropicStub(latency=LATENCY_SECONDS)
        for stub in (voyage, pinecone, anthropic_stub):
            stack.enter_context(stub)
        secrets_url = stack.enter_context(running_moto_server())
        dynamodb_url = stack.enter_context(dynamodb_local())

        secrets = aws_client("secretsmanager", secrets_url)
        secret_arns = {
            "voyage": secrets.create_secret(Name="voyage", SecretString=json.dumps({"apiKey": VOYAGE_KEY}))["ARN"],
            "pinecone": secrets.create_secret(Name="pinecone", SecretString=PINECONE_KEY)["ARN"],
            "anthropic": secrets.create_secret(Name="anthropic", SecretString=json.dumps({"apiKey": ANTHROPIC_KEY}))[
                "ARN"
            ],
        }
        dynamodb = aws_client("dynamodb", dynamodb_url)
        for table in TABLES.values():
            create_table(dynamodb, table)
        set_environment(
            {
                "secretsmanager": secrets_url,
                "dynamodb": dynamodb_url,
                "voyage": voyage.url,
                "pinecone": pinecone.url,
                "anthropic": anthropic_stub.url,
            },
            secret_arns,
        )
        # Their cold starts now, with the environment set: each reads its configuration and makes its clients once.
        embedding_app: ModuleType = importlib.import_module("lambda_src.embedding_pipeline.app")
        summary_app: ModuleType = importlib.import_module("lambda_src.summary_enricher.app")
        for app in (embedding_app, summary_app):
            stack.callback(app.cold_start().close)
        naive_embedding = NaiveEmbedding(voyage.url, pinecone.url)
        # The seed's clients are made once, at module level.
        naive_summary = NaiveSummary(
            anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=anthropic_stub.url),
            boto3.resource(
                "dynamodb",
                endpoint_url=dynamodb_url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            ).Table(TABLES["naive"]),
        )
        floor_embedding = FloorEmbedding(
            KeptAliveJson(voyage.url, {"Authorization": f"Bearer {VOYAGE_KEY}"}),
            KeptAliveJson(pinecone.url, {"Api-Key": PINECONE_KEY, "X-Pinecone-Api-Version": PINECONE_API_VERSION}),
        )
        floor_summary = FloorSummary(
            KeptAliveJson(anthropic_stub.url, {"x-api-key": ANTHROPIC_KEY, "anthropic-version": ANTHROPIC_VERSION}),
            aws_client("dynamodb", dynamodb_url, max_pool_connections=DEFAULT_MAX_CONCURRENCY),
        )
        stack.callback(floor_summary.pool.shutdown)
        yield World(
            voyage,
            pinecone,
            anthropic_stub,
            dynamodb,
            embedding={
                "ours": embedding_app.handler,
                "naive": naive_embedding.handler,
                "floor": floor_embedding.handler,
            },
            summary={"ours": summary_app.handler, "naive": naive_summary.handler, "floor": floor_summary.handler},
        )


def main() -> None:
    items = content_items(RECORDS)
    with loopback_world() as world:
        for side in SIDES:
            run_side(world, side, items[:WARM_UP_RECORDS])
        timings: dict[str, dict[str, list[float]]] = {side: {"embedding": [], "summary": []} for side in SIDES}
        round_trips: list[int] = []
        minimum = 0
        last: dict[str, Run] = {}
        for round_index in range(ROUNDS):
            # Each side goes first in one round in three.
            shift = round_index % len(SIDES)
            for side in SIDES[shift:] + SIDES[:shift]:
                run = last[side] = run_side(world, side, items)
                timings[side]["embedding"].append(run.embedding_seconds)
                timings[side]["summary"].append(run.summary_seconds)
                if side == "ours":
                    round_trips.append(run.round_trips)
                    minimum = minimum_round_trips(world.pinecone, items)
            check_same_payloads(last["ours"], last["floor"])
            if last["floor"].round_trips != minimum:
                raise AssertionError(
                    f"the floor made {last['floor'].round_trips} round trips, the minimum is {minimum}"
                )

    medians = {
        side: {path: statistics.median(seconds) for path, seconds in paths.items()} for side, paths in timings.items()
    }
    print(f"checked: every run stored {RECORDS} vectors and wrote {RECORDS} summaries, with no failure;")
    print("the floor sent the same bodies as ours, in the fewest requests")
    print(f"{RECORDS} records, {LATENCY_SECONDS * 1000:.0f} ms a provider request, median (range) of {ROUNDS} runs")
    print(f"{'side':<6}  {'embedding (s)':>22}  {'summary (s)':>22}")
    for side in ("naive", "ours", "floor"):
        cells = [f"{medians[side][path]:.3f} ({spread(timings[side][path])})" for path in ("embedding", "summary")]
        print(f"{side:<6}  {cells[0]:>22}  {cells[1]:>22}")
    speedups = {path: medians["naive"][path] / medians["ours"][path] for path in ("embedding", "summary")}
    overheads = {path: medians["ours"][path] / medians["floor"][path] for path in ("embedding", "summary")}
    print(
        f"bars: speedup embedding >= {SPEEDUP_BARS['embedding']:.0f}, summary >= {SPEEDUP_BARS['summary']:.0f}; "
        "round trips = minimum; "
        f"overhead embedding <= {OVERHEAD_BARS['embedding']}, summary <= {OVERHEAD_BARS['summary']}"
    )
    print(f"embedding speedup vs naive: {speedups['embedding']:.1f}")
    print(f"summary speedup vs naive: {speedups['summary']:.1f}")
    print(f"embedding round trips: {max(round_trips)} (minimum {minimum})")
    print(f"embedding overhead vs floor: {overheads['embedding']:.2f}")
    print(f"summary overhead vs floor: {overheads['summary']:.2f}")


if __name__ == "__main__":
    main()
