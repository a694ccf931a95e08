"""End to end on one machine: a table with a RealtimeFeed and a SearchIndexer, synthesized with bundling, its stream
carried by the local runner to both bundled handlers, the Events API and OpenSearch stubs on loopback (started by
``local_providers``, as ``run`` does), and the example's page in a real headless Chromium subscribed over the Events
WebSocket protocol.

Random puts, updates and deletes over 200 items, a poison record for each construct, retryable faults, then every batch
redriven again in random order: the index holds exactly the table's items, the page shows them, and the page never saw
an item go backwards.
"""

from __future__ import annotations

import random
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from browser import chromium, static_site
from conftest import synth_like_app
from dynamodb_local import DynamoDBLocal, StreamReader, lambda_event

from constructs_pkg import RealtimeFeed, SearchIndexer
from constructs_pkg.local.assembly import LocalApp
from constructs_pkg.local.providers import local_providers
from constructs_pkg.local.runner import LocalEndpoints, LocalRunner, running_moto_server
from constructs_pkg.local.stubs.appsync_events import AppSyncEventsStub
from constructs_pkg.local.stubs.opensearch import OpenSearchStub
from constructs_pkg.local.stubs.server import Reply
from lambda_src.contract import SEARCH_DELETED_FIELD

PAGE = Path(__file__).resolve().parent.parent / "examples" / "realtime_feed" / "page"
INDEX = "catalog"
GROUPS = [f"G{number}" for number in range(10)]


class FeedAndSearchStack(Stack):
    def __init__(self, scope: Any, id: str) -> None:
        super().__init__(scope, id)
        table = dynamodb.Table(
            self,
            "Catalog",
            partition_key=dynamodb.Attribute(name="PK", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="SK", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            removal_policy=RemovalPolicy.DESTROY,
        )
        RealtimeFeed(self, "Feed", table=table, channel="/items/{PK}", private_attributes=["secret"], batch_size=50)
        SearchIndexer(self, "Search", table=table, index=INDEX, mappings={"price": {"type": "double"}}, batch_size=50)


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    FeedAndSearchStack(app, "FeedAndSearch")
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


def _wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def _page_items(driver: Any) -> dict[str, dict[str, Any]]:
    entries = driver.execute_script(
        "return [...window.feedState.items.values()].map(e => [e.key.PK + '/' + e.key.SK, e.item]);"
    )
    return {key: item for key, item in entries}


def _page_counter(driver: Any, name: str) -> int:
    return int(driver.execute_script(f"return window.feedState.{name};"))


def _table_items(runner: LocalRunner, table: str) -> dict[str, dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    items = runner.dynamodb_client.scan(TableName=table, ConsistentRead=True)["Items"]
    return {
        f"{item['PK']['S']}/{item['SK']['S']}": {name: deserializer.deserialize(value) for name, value in item.items()}
        for item in items
    }


def _as_published(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the feed publishes it: JSON numbers, the private attribute left out."""
    return {
        name: (
            int(value)
            if isinstance(value, Decimal) and value == value.to_integral_value()
            else float(value)
            if isinstance(value, Decimal)
            else value
        )
        for name, value in item.items()
        if name != "secret"
    }


def _random_writes(runner: LocalRunner, table: str, rng: random.Random, count: int) -> None:
    client = runner.dynamodb_client
    for _ in range(count):
        group, item = rng.choice(GROUPS), f"ITEM#{rng.randrange(20):02d}"
        key = {"PK": {"S": group}, "SK": {"S": item}}
        action = rng.random()
        if action < 0.2:
            client.delete_item(TableName=table, Key=key)
        elif action < 0.6:
            client.put_item(
                TableName=table,
                Item={
                    **key,
                    "name": {"S": f"{item} v{rng.randrange(1000)}"},
                    "price": {"N": str(rng.randrange(1, 500))},
                    "secret": {"S": "never published"},
                },
            )
        else:
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET price = :price, #name = :name",
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues={
                    ":price": {"N": str(rng.randrange(1, 500))},
                    ":name": {"S": f"{item} u{rng.randrange(1000)}"},
                },
            )


def test_random_changes_reach_the_index_and_the_page_in_order_through_faults_and_a_full_redrive(
    assembly: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    rng = random.Random(12)
    app = LocalApp.from_assembly(assembly)
    with local_providers(app) as providers:
        events, search = providers.stubs["appsync-events"], providers.stubs["opensearch"]
        assert isinstance(events, AppSyncEventsStub) and isinstance(search, OpenSearchStub)
        runner = LocalRunner(
            app,
            LocalEndpoints.with_moto(dynamodb_local.endpoint_url, moto_endpoint),
            table_prefix="feed-search-",
            environment_overrides=providers.environment,
            secret_values=providers.secret_values,
        )
        runner.create_tables()
        runner.start()
        (table,) = runner.table_names.values()
        query = urllib.parse.urlencode(
            {
                "realtime": events.realtime_url,
                "http": events.http_domain,
                "apiKey": events.api_key,
                "channel": "/items/*",
            }
        )
        with static_site(PAGE) as site, chromium() as driver:
            # GIVEN the example page subscribed to every channel of the feed, in a real browser
            driver.get(f"{site}/index.html?{query}")
            _wait_for(lambda: driver.find_element("id", "connection").text == "subscribed")

            # WHEN random changes arrive, with a poison record for each construct and retryable faults on the way
            client = runner.dynamodb_client
            poison_key = {"PK": {"S": "G0"}, "SK": {"S": "ITEM#99"}}
            events.fail_events_when("poison-feed", code=400, message="refused by a namespace handler")
            client.put_item(TableName=table, Item={**poison_key, "name": {"S": "poison-feed"}, "price": {"N": "1"}})
            runner.run_until_idle(timeout=60, quiet_seconds=0.5)
            client.put_item(
                TableName=table, Item={**poison_key, "name": {"S": "poison-search"}, "price": {"S": "not a number"}}
            )
            events.fail_next(AppSyncEventsStub.PUBLISH, Reply.error(500), Reply.error(503))
            events.fail_events_when("ITEM#0", code=500, message="internal", times=3)
            search.fail_items_when("ITEM#1", status=429, times=4)
            search.fail_next(OpenSearchStub.BULK, Reply.error(502))
            for _ in range(4):
                _random_writes(runner, table, rng, 150)
                runner.run_until_idle(timeout=60, quiet_seconds=0.5)
            client.put_item(TableName=table, Item={**poison_key, "name": {"S": "fixed"}, "price": {"N": "2"}})
            stats = runner.run_until_idle(timeout=60, quiet_seconds=0.5)

            # THEN the index holds exactly the table's items, the page shows them, and nothing arrived out of order
            expected = _table_items(runner, table)
            assert len(expected) > 100
            _wait_for(lambda: _page_items(driver) == {key: _as_published(item) for key, item in expected.items()})
            assert _indexed(search) == {key: _as_published(item) for key, item in expected.items()}
            assert _page_counter(driver, "late") == 0 and _page_counter(driver, "backwards") == 0
            assert _quarantine_reasons(runner) == {"Feed": 1, "Search": 1}
            assert search.errors > 0 and events.errors > 0 and events.signatures.verified > 0

            # WHEN every batch delivered is redriven again, in random order
            stream_arn = client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            records = StreamReader(runner.streams_client, stream_arn).read()
            by_sequence = {int(record["dynamodb"]["SequenceNumber"]): record for record in records}
            batches = [
                (invocation.mapping, [by_sequence[number] for number in invocation.sequence_numbers])
                for invocation in stats.invocations
            ]
            rng.shuffle(batches)
            functions = {mapping.logical_id: mapping.function_logical_id for mapping in app.mappings}
            for mapping, batch in batches:
                runner.invoker(functions[mapping])(lambda_event(batch, stream_arn))

            # THEN nothing moved backwards: the index and the page still hold the table's items
            _wait_for(lambda: _page_counter(driver, "late") + _page_counter(driver, "duplicates") > 0)
            time.sleep(1.0)
            assert _indexed(search) == {key: _as_published(item) for key, item in expected.items()}
            assert _page_items(driver) == {key: _as_published(item) for key, item in expected.items()}
            assert _page_counter(driver, "backwards") == 0
            assert driver.find_element("id", "backwards").text == "0"
            shown = driver.find_element("id", "items").text
            assert all(item["name"] in shown for item in expected.values())


def _quarantine_reasons(runner: LocalRunner) -> dict[str, int]:
    """How many quarantine messages each construct's on-failure queue holds."""
    sqs = runner.endpoints.client("sqs") if runner.endpoints is not None else None
    assert sqs is not None
    counts = {}
    for mapping, queue_url in runner.on_failure_destinations.items():
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        counts["Feed" if mapping.startswith("Feed") else "Search"] = sum(
            1 for message in messages if '"Quarantined"' in message["Body"]
        )
    return counts


def _indexed(search: OpenSearchStub) -> dict[str, dict[str, Any]]:
    documents = search.documents(INDEX)
    return {
        f"{source['PK']}/{source['SK']}": {
            name: value for name, value in source.items() if not name.startswith("stream_") and name != "secret"
        }
        for source in documents.values()
        if not source[SEARCH_DELETED_FIELD]
    }


@pytest.fixture(scope="module")
def realtime_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from examples.realtime_feed.stack import RealtimeFeedStack

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = synth_like_app(outdir)
    RealtimeFeedStack(app, "RealtimeFeed")
    app.synth()
    return outdir


class _CatchingUp:
    """A DynamoDB client that lets the stream reach the page after each write, and notes what the page showed."""

    def __init__(self, runner: LocalRunner, driver: Any) -> None:
        self.runner, self.driver = runner, driver
        self.shown: list[str] = []

    def update_item(self, **arguments: Any) -> Any:
        answer = self.runner.dynamodb_client.update_item(**arguments)
        self.runner.run_until_idle(timeout=30, quiet_seconds=0.3)
        text = arguments["ExpressionAttributeValues"][":answer"]["S"]
        _wait_for(lambda: text in self.driver.find_element("id", "items").text)
        self.shown.append(self.driver.find_element("id", "items").text)
        return answer


def test_an_answer_streamed_by_the_model_grows_on_the_page_chunk_by_chunk(
    realtime_example: Path, dynamodb_local: DynamoDBLocal, moto_endpoint: str
) -> None:
    import anthropic

    from constructs_pkg.local.stubs.anthropic import API_KEY, AnthropicStub, answer_tokens, summary_of
    from examples.realtime_feed.answer_writer import stream_answer

    app = LocalApp.from_assembly(realtime_example)
    prompt = " ".join(f"word{number}" for number in range(40))
    with local_providers(app) as providers, AnthropicStub() as model:
        events = providers.stubs["appsync-events"]
        assert isinstance(events, AppSyncEventsStub)
        runner = LocalRunner(
            app,
            LocalEndpoints.with_moto(dynamodb_local.endpoint_url, moto_endpoint),
            table_prefix="answers-",
            environment_overrides=providers.environment,
        )
        runner.create_tables()
        runner.start()
        (table,) = runner.table_names.values()
        query = urllib.parse.urlencode(
            {
                "realtime": events.realtime_url,
                "http": events.http_domain,
                "apiKey": events.api_key,
                "channel": "/chats/*",
            }
        )
        with static_site(PAGE) as site, chromium() as driver:
            # GIVEN the page subscribed to the conversations' channels, and a user message in the table
            driver.get(f"{site}/index.html?{query}")
            _wait_for(lambda: driver.find_element("id", "connection").text == "subscribed")
            key = {"PK": {"S": "CHAT#42"}, "SK": {"S": "MSG#0002"}}
            runner.dynamodb_client.put_item(TableName=table, Item={**key, "userId": {"S": "u-1"}})

            # WHEN the answer is streamed by the real anthropic SDK and written in coalesced chunks
            client = anthropic.Anthropic(api_key=API_KEY, base_url=model.url, max_retries=0)
            writer = _CatchingUp(runner, driver)
            streamed = stream_answer(client, writer, table_name=table, key=key, prompt=prompt, min_tokens=8)

        # THEN one write carried many tokens, and the page showed the answer grow to the whole of it
        assert streamed.text == summary_of(prompt) and streamed.tokens == len(answer_tokens(prompt)) == 41
        assert streamed.writes == 6  # 41 tokens, 8 a write, and the final one that says "done"
        lengths = [len(text) for text in writer.shown]
        assert lengths == sorted(lengths) and lengths[0] < lengths[-1]
        assert summary_of(prompt) in writer.shown[-1] and writer.shown[-1].endswith("done")
        published = [event.json() for event in events.published if event.channel.startswith("/chats/CHAT-42-h")]
        # The user message and the first chunk reached the feed in one batch: one message, the newer state.
        assert len(published) == streamed.writes and all("userId" not in event.get("item", {}) for event in published)
