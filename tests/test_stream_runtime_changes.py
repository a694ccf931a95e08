"""The batch-level entry of the stream runtime: a batch folded into one net change per item, the handler's failures
turned into the partial batch response, and the configuration reader every bundled handler uses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_src.contract import QuarantineMode
from lambda_src.stream_runtime import (
    ChangeFailure,
    ConfigError,
    Deadline,
    EnvironmentReader,
    EventName,
    ItemChange,
    MalformedRecordError,
    PermanentError,
    RetryableError,
    StreamRecord,
    fold_changes,
    process_item_changes,
)

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Items/stream/2026-12-01T00:00:00.000"


def image(key: str, version: int) -> dict[str, Any]:
    return {"PK": {"S": key}, "version": {"N": str(version)}}


def wire_record(sequence: int, key: str, event_name: str, old: int | None, new: int | None) -> dict[str, Any]:
    stream: dict[str, Any] = {
        "Keys": {"PK": {"S": key}},
        "SequenceNumber": f"{sequence:021d}",
        "SizeBytes": 64,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "ApproximateCreationDateTime": 1_764_547_200,
    }
    if old is not None:
        stream["OldImage"] = image(key, old)
    if new is not None:
        stream["NewImage"] = image(key, new)
    return {
        "eventID": f"event-{sequence}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": stream,
        "eventSourceARN": STREAM_ARN,
    }


class Context:
    aws_request_id = "0b8f2c4e-1d3a-4e5b-8c7d-6f5e4d3c2b1a"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:items"
    function_name = "items"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


# --- folding: a property over random histories -------------------------------------------------------------------

# Per item: whether it exists before the batch, then its changes: True for a write (INSERT or MODIFY by whether it
# exists), False for a delete (only while it exists).
_history = st.tuples(st.booleans(), st.lists(st.booleans(), min_size=1, max_size=6))


@settings(max_examples=300, deadline=None)
@given(st.lists(_history, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_a_fold_is_the_item_before_its_first_record_against_after_its_last(histories: list[Any], random: Any) -> None:
    # GIVEN each item's changes as the stream records them, interleaved across items in a random order that keeps
    # each item's own order (as a shard does)
    per_item: dict[str, list[tuple[str, int | None, int | None]]] = {}
    expected: dict[str, tuple[int | None, int | None]] = {}
    for index, (exists, writes) in enumerate(histories):
        key, version, state = f"ITEM#{index}", 0, (0 if exists else None)
        before, changes = state, []
        for write in writes:
            if state is None and not write:
                continue  # no delete of what is not there
            if write:
                version += 1
                changes.append(("MODIFY" if state is not None else "INSERT", state, version))
                state = version
            else:
                changes.append(("REMOVE", state, None))
                state = None
        if changes:
            per_item[key] = changes
            expected[key] = (before if changes[0][0] != "INSERT" else None, state)
    order = [key for key, changes in per_item.items() for _ in changes]
    random.shuffle(order)
    positions = dict.fromkeys(per_item, 0)
    raw_records = []
    for sequence, key in enumerate(order, start=100):
        event_name, old, new = per_item[key][positions[key]]
        positions[key] += 1
        raw_records.append(wire_record(sequence, key, event_name, old, new))

    # WHEN the batch is folded
    changes = fold_changes(StreamRecord.from_wire(raw) for raw in raw_records)

    # THEN there is one change per item, in the order items first appear, and each is the item before against after
    assert [change.keys["PK"] for change in changes] == list(dict.fromkeys(order))
    for change in changes:
        key = change.keys["PK"]
        old, new = expected[key]
        assert (change.old_image or {}).get("version") == (None if old is None else Decimal(old))
        assert (change.new_image or {}).get("version") == (None if new is None else Decimal(new))
        existed_before = per_item[key][0][0] != "INSERT"
        if new is None:
            assert change.event_name is EventName.REMOVE
        else:
            assert change.event_name is (EventName.MODIFY if existed_before else EventName.INSERT)
        assert [record.sequence_number for record in change.records] == sorted(
            int(raw["dynamodb"]["SequenceNumber"]) for raw in raw_records if raw["dynamodb"]["Keys"]["PK"]["S"] == key
        )
        assert change.sequence_number == change.records[0].sequence_number


def test_an_item_deleted_and_created_again_is_a_modify_that_was_recreated() -> None:
    records = [
        wire_record(1, "A", "MODIFY", 1, 2),
        wire_record(2, "A", "REMOVE", 2, None),
        wire_record(3, "A", "INSERT", None, 1),
    ]
    (change,) = fold_changes(StreamRecord.from_wire(raw) for raw in records)

    assert change.event_name is EventName.MODIFY and change.recreated
    assert change.old_image == {"PK": "A", "version": Decimal(1)}
    assert change.new_image == {"PK": "A", "version": Decimal(1)}
    assert not change.attribute_changed("version")


def test_attribute_changed_needs_both_images() -> None:
    raw = wire_record(1, "A", "MODIFY", 1, 2)
    del raw["dynamodb"]["OldImage"]
    raw["dynamodb"]["StreamViewType"] = "NEW_IMAGE"
    (change,) = fold_changes([StreamRecord.from_wire(raw)])

    with pytest.raises(Exception, match="needs the old image of this MODIFY change, which a NEW_IMAGE stream"):
        change.attribute_changed("version")


# --- process_item_changes -------------------------------------------------------------------------------------------


class BatchRecorder:
    """A batch handler that remembers what it got and fails the items named, with the error given."""

    def __init__(self, failing: dict[str, BaseException] | None = None) -> None:
        self.failing = failing or {}
        self.calls: list[list[ItemChange]] = []
        self.deadlines: list[Deadline] = []

    def __call__(self, changes: Sequence[ItemChange], deadline: Deadline) -> list[ChangeFailure]:
        self.calls.append(list(changes))
        self.deadlines.append(deadline)
        return [ChangeFailure(change, self.failing[change.keys["PK"]]) for change in changes
                if change.keys["PK"] in self.failing]  # fmt: skip


def event_of(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@pytest.fixture(autouse=True)
def no_quarantine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAM_RUNTIME_QUARANTINE", raising=False)
    monkeypatch.delenv("STREAM_RUNTIME_QUARANTINE_TARGET", raising=False)


def test_the_handler_gets_one_change_per_item_and_its_failures_report_the_lowest_record() -> None:
    handler = BatchRecorder({"B": RetryableError("throttled"), "C": RetryableError("throttled")})
    event = event_of(
        wire_record(10, "A", "INSERT", None, 1),
        wire_record(11, "B", "INSERT", None, 1),
        wire_record(12, "C", "INSERT", None, 1),
        wire_record(13, "B", "MODIFY", 1, 2),
    )

    response = process_item_changes(event, Context(), handler)

    (changes,) = handler.calls
    assert [change.keys["PK"] for change in changes] == ["A", "B", "C"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "11"}]}


def test_the_deadline_is_the_functions_time_less_the_margin() -> None:
    handler = BatchRecorder()
    process_item_changes(event_of(wire_record(1, "A", "INSERT", None, 1)), Context(10_000), handler,
                         deadline_margin=timedelta(seconds=2))  # fmt: skip

    assert handler.deadlines[0].remaining_seconds() == pytest.approx(8.0)
    assert Deadline.of(None).remaining_seconds() == float("inf")


def test_a_malformed_record_fails_alone_before_the_handler_runs(capsys: pytest.CaptureFixture[str]) -> None:
    malformed = wire_record(2, "B", "UPSERT", None, 1)
    handler = BatchRecorder()

    response = process_item_changes(
        event_of(wire_record(1, "A", "INSERT", None, 1), malformed, wire_record(3, "C", "INSERT", None, 1)),
        Context(),
        handler,
    )

    assert [change.keys["PK"] for change in handler.calls[0]] == ["A", "C"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["itemIdentifier"] for line in lines if line["message"] == "Record failed"] == ["2"]


def test_a_failure_of_a_change_never_given_is_a_bug_in_the_handler() -> None:
    stranger = fold_changes([StreamRecord.from_wire(wire_record(9, "Z", "INSERT", None, 1))])[0]

    with pytest.raises(TypeError, match="a change it was not given"):
        process_item_changes(
            event_of(wire_record(1, "A", "INSERT", None, 1)),
            Context(),
            lambda changes, deadline: [ChangeFailure(stranger, PermanentError("no"))],
        )


def test_without_a_quarantine_final_failures_are_reported_for_the_mapping() -> None:
    handler = BatchRecorder({"A": PermanentError("refused")})

    response = process_item_changes(event_of(wire_record(5, "A", "INSERT", None, 1)), Context(), handler)

    assert response == {"batchItemFailures": [{"itemIdentifier": "5"}]}


def test_discard_drops_final_failures_with_a_log_line_and_a_metric(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAM_RUNTIME_QUARANTINE", QuarantineMode.DISCARD.value)
    handler = BatchRecorder({"A": PermanentError("refused"), "B": RetryableError("later")})

    response = process_item_changes(
        event_of(wire_record(5, "A", "INSERT", None, 1), wire_record(6, "B", "INSERT", None, 1)), Context(), handler
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "6"}]}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (discarded,) = [line for line in lines if line.get("message", "").startswith("Final failure discarded")]
    assert discarded["reason"] == "PermanentError: refused" and discarded["sequenceNumbers"] == [f"{5:021d}"]
    assert any(line.get("QuarantinedRecords") == 1 for line in lines)


def test_a_handler_that_raises_fails_the_whole_batch() -> None:
    def broken(changes: Sequence[ItemChange], deadline: Deadline) -> None:
        raise RuntimeError("the handler itself is broken")

    with pytest.raises(RuntimeError, match="broken"):
        process_item_changes(event_of(wire_record(1, "A", "INSERT", None, 1)), Context(), broken)


def test_an_event_without_records_is_malformed() -> None:
    with pytest.raises(MalformedRecordError, match="the event has no Records list"):
        process_item_changes({}, Context(), BatchRecorder())


# --- the configuration reader ---------------------------------------------------------------------------------------


def test_one_error_names_every_variable_and_the_value_refused() -> None:
    reader = EnvironmentReader({"MAX": "0", "MODE": "loud", "URL": "ftp://x", "BLANK": " "}, "example handler")
    reader.whole_number("MAX", 1, minimum=1)
    reader.choice("MODE", QuarantineMode)
    reader.http_url("URL")
    reader.text("BLANK")
    reader.text("MISSING")
    reader.class_path("PLUGIN")

    with pytest.raises(ConfigError) as raised:
        reader.finish()

    assert str(raised.value) == (
        "example handler configuration: MAX must be a whole number of at least 1, got '0'; "
        "MODE must be one of discard, s3, sns, sqs, got 'loud'; URL must be an http(s) URL, got 'ftp://x'; "
        "BLANK is required and must not be blank; MISSING is required; PLUGIN is required: 'module:Class'"
    )


def test_defaults_stand_for_unset_variables_and_values_parse() -> None:
    reader = EnvironmentReader({"HOST": "index.example.com", "SIZE": "512", "NAMES": "PK, SK"}, "example")

    assert reader.http_url("HOST", scheme_implied="https") == "https://index.example.com"
    assert reader.one_of("SIZE", frozenset({256, 512})) == 512
    assert reader.names("NAMES", counts=range(1, 3)) == ("PK", "SK")
    assert reader.milliseconds("MARGIN", 5_000) == timedelta(seconds=5)
    assert reader.positive_number("TIMEOUT", 20.0) == 20.0
    reader.finish()
