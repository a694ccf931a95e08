"""The RealtimeFeed and SearchIndexer handlers against their loopback stubs, driven by the handlers' own clients (SigV4
signed with botocore, checked by the stubs): messages and channels, limits, every kind of bad answer, and the
ordering and idempotence properties under random changes, failures and redrives of every batch in random order."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constructs_pkg.local.stubs.appsync_events import AppSyncEventsStub
from constructs_pkg.local.stubs.opensearch import OpenSearchStub
from constructs_pkg.local.stubs.server import Reply
from lambda_src.contract import FEED_MAX_EVENT_BYTES, SEARCH_DELETED_FIELD, SEARCH_SEQUENCE_FIELD
from lambda_src.providers import RetryPolicy
from lambda_src.realtime_feed.app import RealtimeFeedHandler
from lambda_src.realtime_feed.config import RealtimeFeedConfig
from lambda_src.realtime_feed.messages import ChannelTemplate, channel_segment
from lambda_src.search_indexer.app import SearchIndexerHandler
from lambda_src.search_indexer.config import SearchIndexerConfig
from lambda_src.search_indexer.documents import document_id, search_filter
from lambda_src.stream_runtime import Deadline, ItemChange, StreamRecord, fold_changes, is_final

_sequences = itertools.count(10**21)


@pytest.fixture(autouse=True)
def _dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STREAM_RUNTIME_QUARANTINE", raising=False)


@pytest.fixture(scope="module")
def events() -> Iterator[AppSyncEventsStub]:
    with AppSyncEventsStub() as stub:
        yield stub


@pytest.fixture(scope="module")
def search() -> Iterator[OpenSearchStub]:
    with OpenSearchStub() as stub:
        yield stub


def record(
    name: str,
    key: str,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    sequence: int | None = None,
) -> dict[str, Any]:
    """A wire record of item PK=``key`` with S-typed attributes."""
    number = next(_sequences) if sequence is None else sequence
    stream: dict[str, Any] = {
        "Keys": {"PK": {"S": key}},
        "SequenceNumber": str(number),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "SizeBytes": 10,
    }
    if new is not None:
        stream["NewImage"] = {"PK": {"S": key}, **{name_: {"S": value} for name_, value in new.items()}}
    if old is not None:
        stream["OldImage"] = {"PK": {"S": key}, **{name_: {"S": value} for name_, value in old.items()}}
    return {"eventID": str(number), "eventName": name, "eventSource": "aws:dynamodb", "dynamodb": stream}


def changes(*records: dict[str, Any]) -> list[ItemChange]:
    return fold_changes([StreamRecord.from_wire(raw) for raw in records])


def feed(stub: AppSyncEventsStub, **variables: str) -> RealtimeFeedHandler:
    return RealtimeFeedHandler(RealtimeFeedConfig.from_env({"FEED_HTTP_DOMAIN": stub.url, **variables}), policy=FAST)


def indexer(stub: OpenSearchStub, index: str, **variables: str) -> SearchIndexerHandler:
    return SearchIndexerHandler(
        SearchIndexerConfig.from_env({"SEARCH_ENDPOINT": stub.url, "SEARCH_INDEX": index, **variables}), policy=FAST
    )


NO_DEADLINE = Deadline(None)
# The real policy's attempts, with waits of a millisecond: the tests count retries, not seconds.
FAST = RetryPolicy(base_delay=0.001, max_delay=0.002)


# --- RealtimeFeed ----------------------------------------------------------------------------------------------------


def test_channels_keep_valid_values_and_hash_the_others() -> None:
    assert channel_segment("room-7") == "room-7"
    assert channel_segment("CHAT#42").startswith("CHAT-42-h") and len(channel_segment("CHAT#42")) == 25
    assert channel_segment("CHAT#42") != channel_segment("CHAT$42")
    assert ChannelTemplate.parse("/chats/{PK}/{SK}").subscription == "/chats/*"
    for bad in ("chats/{PK}", "/chats/a#b", "/a/b/c/d/e/f", "/{PK}"):
        with pytest.raises(ValueError):
            ChannelTemplate.parse(bad)


def test_five_events_per_publish_on_each_channel_in_order_and_every_event_signed(events: AppSyncEventsStub) -> None:
    handler = feed(events, FEED_CHANNEL="/items/{room}", FEED_ATTRIBUTES="room,text")
    before = len(events.publishes)
    batch = changes(
        *(record("INSERT", f"k{n}", {"room": f"r{n % 2}", "text": f"t{n}", "hidden": "x"}) for n in range(12))
    )
    assert handler.publish(batch, NO_DEADLINE) == []
    publishes = events.publishes[before:]
    assert sorted(publishes) == [("/items/r0", 1), ("/items/r0", 5), ("/items/r1", 1), ("/items/r1", 5)]
    messages = [event.json() for event in events.published[-12:]]
    assert all(set(message["item"]) == {"room", "text"} for message in messages)
    assert events.signatures.verified >= 4


def test_a_remove_is_a_delete_and_an_item_over_240_kb_a_changed_notice(events: AppSyncEventsStub) -> None:
    handler = feed(events)
    big = "x" * (FEED_MAX_EVENT_BYTES + 1)
    batch = changes(record("REMOVE", "gone", old={"text": "bye"}), record("INSERT", "big", {"text": big}))
    assert handler.publish(batch, NO_DEADLINE) == []
    # Two channels, published concurrently: in either order.
    notice, gone = sorted((event.json() for event in events.published[-2:]), key=lambda m: m["key"]["PK"])
    assert gone == {"type": "delete", "eventName": "REMOVE", "key": {"PK": "gone"}, "sequence": gone["sequence"]}
    assert notice["type"] == "changed" and notice["key"] == {"PK": "big"} and "item" not in notice
    assert len(gone["sequence"]) == 40


def test_a_missing_channel_attribute_is_a_final_failure_of_that_item_alone(events: AppSyncEventsStub) -> None:
    handler = feed(events, FEED_CHANNEL="/items/{room}", FEED_ATTRIBUTES="room")
    (failure,) = handler.publish(
        changes(record("INSERT", "a", {"text": "no room"}), record("INSERT", "b", {"room": "r"})), NO_DEADLINE
    )
    assert failure.change.keys == {"PK": "a"} and is_final(failure.error) and "room" in str(failure.error)


def test_an_answer_with_errors_or_failed_events_fails_the_items_never_silently(events: AppSyncEventsStub) -> None:
    handler = feed(events)
    # AppSync can answer 200 with errors: the events count as failed, and a refusal is final.
    events.fail_next(
        AppSyncEventsStub.PUBLISH,
        Reply(status=200, body={"errors": [{"errorType": "UnauthorizedException", "message": "not allowed"}]}),
    )
    (refused,) = handler.publish(changes(record("INSERT", "e1", {"text": "a"})), NO_DEADLINE)
    assert is_final(refused.error) and "not allowed" in str(refused.error)
    # A failed event with a 4xx code is final; one with a 5xx is retried, then succeeds.
    events.fail_events_when('"e2"', code=400, message="bad event")
    events.fail_events_when('"e3"', code=500, message="internal", times=2)
    batch = changes(record("INSERT", "e2", {"text": "a"}), record("INSERT", "e3", {"text": "b"}))
    (bad,) = handler.publish(batch, NO_DEADLINE)
    assert bad.change.keys == {"PK": "e2"} and is_final(bad.error)
    assert events.published[-1].json()["key"] == {"PK": "e3"}
    # An event the answer lists neither way counts as failed (retryable), never as published.
    events.fail_next(AppSyncEventsStub.PUBLISH, *[Reply(body={"successful": [], "failed": []})] * 4)
    (unlisted,) = handler.publish(changes(record("INSERT", "e4", {"text": "c"})), NO_DEADLINE)
    assert not is_final(unlisted.error)


def test_an_expired_credential_is_retryable_and_a_wrong_signature_final(
    events: AppSyncEventsStub, search: OpenSearchStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "expired-token")
    events.signatures.expired_tokens.add("expired-token")
    search.signatures.expired_tokens.add("expired-token")
    (expired,) = feed(events).publish(changes(record("INSERT", "x", {"text": "a"})), NO_DEADLINE)
    assert not is_final(expired.error) and "expired" in str(expired.error)
    (not_indexed,) = indexer(search, "expired").apply(changes(record("INSERT", "x", {"text": "a"})), NO_DEADLINE)
    assert not is_final(not_indexed.error)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    (forged,) = feed(events).publish(changes(record("INSERT", "y", {"text": "a"})), NO_DEADLINE)
    assert is_final(forged.error) and "signature" in str(forged.error)


# --- SearchIndexer ---------------------------------------------------------------------------------------------------


def test_documents_by_key_with_tombstones_and_the_index_created_with_its_mappings(search: OpenSearchStub) -> None:
    handler = indexer(search, "shop", SEARCH_MAPPINGS=json.dumps({"name": {"type": "text"}}), SEARCH_ATTRIBUTES="name")
    assert (
        handler.apply(
            changes(
                record("INSERT", "p1", {"name": "lamp", "cost": "3"}),
                record("INSERT", "p|2", {"name": "desk"}),
                record("REMOVE", "p3", old={"name": "gone"}),
            ),
            NO_DEADLINE,
        )
        == []
    )
    documents = search.documents("shop")
    assert set(documents) == {"p1", "p%7C2", "p3"} and documents["p1"]["name"] == "lamp"
    assert "cost" not in documents["p1"] and documents["p3"][SEARCH_DELETED_FIELD] is True
    assert search.indexes["shop"].fields["name"] == "text" and search.indexes["shop"].fields[SEARCH_SEQUENCE_FIELD]
    hits = handler.index.search({"bool": {"must": [{"match": {"name": "LAMP"}}], **search_filter()}})
    assert [hit["_id"] for hit in hits] == ["p1"]
    assert document_id({"PK": "a" * 600}).startswith("sha256-")


def test_bulk_requests_respect_the_size_and_count_limits(search: OpenSearchStub) -> None:
    handler = indexer(search, "sized", SEARCH_MAX_BULK_BYTES="4096", SEARCH_MAX_BULK_ACTIONS="3")
    before = len(search.requests_to(OpenSearchStub.BULK))
    batch = changes(*(record("INSERT", f"s{n}", {"text": "y" * (900 if n < 4 else 10)}) for n in range(10)))
    batch += changes(record("INSERT", "huge", {"text": "z" * 5000}))
    (too_big,) = handler.apply(batch, NO_DEADLINE)
    assert too_big.change.keys == {"PK": "huge"} and is_final(too_big.error)
    bulks = search.requests_to(OpenSearchStub.BULK)[before:]
    assert all(len(request.body) <= 4096 and request.body.count(b"\n") <= 6 for request in bulks)
    assert len(search.documents("sized")) == 10


def test_item_errors_are_retried_and_a_mapping_conflict_is_final(search: OpenSearchStub) -> None:
    handler = indexer(search, "typed", SEARCH_MAPPINGS=json.dumps({"price": {"type": "double"}}))
    search.fail_items_when('"busy"', status=429, times=2)
    search.fail_next(OpenSearchStub.BULK, Reply.error(503))
    batch = changes(record("INSERT", "busy", {"price": "1.5"}), record("INSERT", "conflict", {"price": "cheap"}))
    (conflict,) = handler.apply(batch, NO_DEADLINE)
    assert conflict.change.keys == {"PK": "conflict"} and is_final(conflict.error)
    assert "mapper_parsing_exception" in str(conflict.error.code)  # type: ignore[attr-defined]
    assert search.documents("typed")["busy"]["price"] == "1.5"


def test_a_reindexed_item_never_overwrites_what_the_stream_wrote(search: OpenSearchStub) -> None:
    from lambda_src.search_indexer.documents import REINDEX_SEQUENCE, fenced_write, item_document
    from lambda_src.search_indexer.opensearch import BulkAction

    handler = indexer(search, "fenced")
    handler.apply(changes(record("INSERT", "r1", {"v": "stream"})), NO_DEADLINE)
    scanned = [
        BulkAction.of(
            *fenced_write("fenced", key, item_document({"PK": key}, {"v": "scan"}, (), REINDEX_SEQUENCE)), key
        )
        for key in ("r1", "r2")
    ]
    assert handler.writer.write(scanned) == [None, None]
    assert {key: doc["v"] for key, doc in search.documents("fenced").items()} == {"r1": "stream", "r2": "scan"}


# --- ordering and idempotence, as properties -------------------------------------------------------------------------

operations = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["put", "delete"]), st.integers(0, 99)),
    min_size=1,
    max_size=40,
)


def _records(ops: list[tuple[str, str, int]]) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """Wire records of ``ops`` as DynamoDB would stream them, and each item's final value."""
    state: dict[str, str | None] = {}
    records = []
    for key, op, value in ops:
        previous = state.get(key)
        old = None if previous is None else {"v": previous}
        if op == "delete":
            if previous is None:
                continue  # a delete of nothing writes no stream record
            records.append(record("REMOVE", key, old=old))
            state[key] = None
        else:
            text = f"value-{value}"
            if previous == text:
                continue  # a put that changes nothing writes no stream record
            records.append(record("MODIFY" if previous is not None else "INSERT", key, {"v": text}, old))
            state[key] = text
    return records, state


def _batches(records: list[dict[str, Any]], rng: random.Random) -> list[list[dict[str, Any]]]:
    batches, start = [], 0
    while start < len(records):
        size = rng.randint(1, 6)
        batches.append(records[start : start + size])
        start += size
    return batches


def _deliver(
    batches: list[list[dict[str, Any]]], handle: Any, fail: Any, rng: random.Random, mark: Any = lambda: None
) -> None:
    """Deliver ``batches`` as a shard does: a batch that reports a failure is delivered again from the failed record
    until it passes; then every batch once more, in random order (a redrive)."""
    for batch in batches:
        pending = batch
        while pending:
            fail(rng)
            response = handle({"Records": pending}, None)
            failures = response["batchItemFailures"]
            if not failures:
                break
            first = int(failures[0]["itemIdentifier"])
            pending = [raw for raw in pending if int(raw["dynamodb"]["SequenceNumber"]) >= first]
    mark()
    for batch in rng.sample(batches, len(batches)):
        handle({"Records": batch}, None)


@settings(max_examples=25, deadline=None)
@given(ops=operations, seed=st.integers(0, 10**6))
def test_the_index_matches_the_table_after_failures_and_a_full_redrive(ops: list[Any], seed: int) -> None:
    with OpenSearchStub() as search:
        rng = random.Random(seed)
        records, state = _records(ops)
        handler = indexer(search, "property")

        def fail(rng: random.Random) -> None:
            if rng.random() < 0.3:
                search.fail_next(OpenSearchStub.BULK, *[Reply.error(503)] * 4)
            if rng.random() < 0.3:
                search.fail_items_when(rng.choice(['"a"', '"b"', '"c"']), status=429, times=4)

        _deliver(_batches(records, rng), handler, fail, rng)
        documents = search.documents("property")
        indexed = {key: doc.get("v") for key, doc in documents.items() if not doc[SEARCH_DELETED_FIELD]}
        assert indexed == {key: value for key, value in state.items() if value is not None}


@settings(max_examples=25, deadline=None)
@given(ops=operations, seed=st.integers(0, 10**6))
def test_a_client_applying_by_sequence_ends_at_the_table_and_never_goes_back(ops: list[Any], seed: int) -> None:
    with AppSyncEventsStub() as events:
        rng = random.Random(seed)
        records, state = _records(ops)
        handler = feed(events)

        def fail(rng: random.Random) -> None:
            if rng.random() < 0.3:
                events.fail_next(AppSyncEventsStub.PUBLISH, *[Reply.error(500)] * 4)
            if rng.random() < 0.3:
                events.fail_events_when(rng.choice(['"a"', '"b"']), code=503, times=4)

        live: list[int] = []
        _deliver(_batches(records, rng), handler, fail, rng, mark=lambda: live.append(len(events.published)))
        shown: dict[str, tuple[str, str | None]] = {}
        live_late = 0
        redrive_starts = live[0]
        for position, published in enumerate(events.published):
            message = published.json()
            key = message["key"]["PK"]
            seen = shown.get(key)
            if seen is not None and message["sequence"] <= seen[0]:
                live_late += message["sequence"] < seen[0] and position < redrive_starts
                continue
            shown[key] = (message["sequence"], message["item"]["v"] if message["type"] == "put" else None)
        assert {key: value for key, (_, value) in shown.items() if value is not None} == {
            key: value for key, value in state.items() if value is not None
        }
        # Before the redrive every message arrived in order; after it, the redriven ones are dropped as old.
        assert live_late == 0
