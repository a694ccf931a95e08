from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lambda_src.stream_runtime import (
    EventName,
    MalformedRecordError,
    StreamRecord,
    StreamRuntimeError,
    deserialize_attribute,
    deserialize_image,
    get_logger,
    partial_batch_response,
    process_stream_batch,
)

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def first_record(name: str) -> StreamRecord:
    return StreamRecord.from_wire(load_event(name)["Records"][0])


def log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines()]


class Recorder:
    """A record handler that remembers what it saw and raises for the chosen sequence numbers."""

    def __init__(self, failing: Iterable[int] = ()) -> None:
        self.failing = set(failing)
        self.seen: list[int] = []

    def __call__(self, record: StreamRecord) -> None:
        self.seen.append(record.sequence_number)
        if record.sequence_number in self.failing:
            raise RuntimeError(f"boom at {record.sequence_number}")


class FakeContext:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def __init__(self, remaining_millis: Iterable[int]) -> None:
        self.remaining_millis = iter(remaining_millis)

    def get_remaining_time_in_millis(self) -> int:
        return next(self.remaining_millis)


def sequence_numbers(event: dict[str, Any]) -> list[int]:
    return [int(raw["dynamodb"]["SequenceNumber"]) for raw in event["Records"]]


# --- deserialization ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ({"S": "hello"}, "hello"),
        ({"N": "12.50"}, Decimal("12.50")),
        ({"B": "aGVsbG8="}, b"hello"),
        ({"BOOL": False}, False),
        ({"NULL": True}, None),
        ({"SS": ["a", "b"]}, {"a", "b"}),
        ({"NS": ["1", "2.5"]}, {Decimal(1), Decimal("2.5")}),
        ({"BS": ["AAE=", "/w=="]}, {b"\x00\x01", b"\xff"}),
        ({"L": [{"S": "x"}, {"N": "1"}]}, ["x", Decimal(1)]),
        ({"M": {"a": {"BOOL": True}}}, {"a": True}),
    ],
)
def test_every_type_tag_deserializes(wire: dict[str, Any], expected: Any) -> None:
    assert deserialize_attribute(wire) == expected


def test_image_with_every_type_nested_deserializes_losslessly() -> None:
    record = first_record("all_types.json")

    image = record.new_image
    assert image is not None
    assert image["price"] == Decimal("12.50")
    assert str(image["price"]) == "12.50"
    assert image["thumbnail"] == b"hello world"
    assert (image["active"], image["archived"], image["deletedAt"]) == (True, False, None)
    assert image["tags"] == {"red", "blue"}
    assert image["sizes"] == {Decimal(1), Decimal("2.5"), Decimal("12345678901234567890123456789012345678")}
    assert image["blobs"] == {b"\x00\x01", b"\xff"}
    assert image["lines"] == [{"sku": "A-1", "qty": Decimal(2)}, ["nested", None], Decimal("0.10")]
    assert image["address"] == {"city": "Lyon", "geo": {"lat": Decimal("45.7640"), "lon": Decimal("4.8357")}}
    assert (image["emptyList"], image["emptyMap"]) == ([], {})
    assert record.keys == {"pk": "ORDER#1", "sk": Decimal(7)}


def test_numbers_keep_all_38_digits_and_the_extremes_of_the_range() -> None:
    image = first_record("all_types.json").new_image
    assert image is not None

    assert str(image["exact"]) == "12345678901234567890123456789012345678"
    assert image["exact"] == 12345678901234567890123456789012345678
    assert str(image["largest"]) == "9.9999999999999999999999999999999999999E+125"
    assert image["smallestNegative"] == Decimal("-1E-130")


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({"X": "1"}, r"NewImage\.avatar: unknown DynamoDB type tag 'X'"),
        ({"S": "a", "N": "1"}, r"NewImage\.avatar: expected exactly one DynamoDB type tag, got \['N', 'S'\]"),
        ({}, r"NewImage\.avatar: expected exactly one DynamoDB type tag, got \[\]"),
        ({"B": "not base64!"}, r"NewImage\.avatar: binary is not valid base64"),
        ({"BS": ["AAE=", "%%"]}, r"NewImage\.avatar: binary is not valid base64"),
        ({"N": "12abc"}, r"NewImage\.avatar: not a DynamoDB number string"),
        ({"N": "NaN"}, r"NewImage\.avatar: not a DynamoDB number string"),
        ({"N": "1_000"}, r"NewImage\.avatar: not a DynamoDB number string"),
        ({"N": 12}, r"NewImage\.avatar: not a DynamoDB number string"),
        ({"S": 12}, r"NewImage\.avatar: a S value cannot be a JSON int"),
        ({"NULL": False}, r"NewImage\.avatar: a NULL value cannot be a JSON bool"),
    ],
)
def test_malformed_attribute_names_its_path(wire: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedRecordError, match=message):
        deserialize_image({"avatar": wire}, path="NewImage")


def test_malformed_attribute_deep_inside_lists_and_maps_names_the_full_path() -> None:
    wire = {"L": [{"S": "ok"}, {"M": {"inner": {"X": "1"}}}]}

    with pytest.raises(MalformedRecordError, match=r"^NewImage\.lines\[1\]\.inner: unknown DynamoDB type tag"):
        deserialize_attribute(wire, path="NewImage.lines")


def test_absent_image_deserializes_to_an_empty_dict() -> None:
    assert deserialize_image(None) == {}


# --- StreamRecord ------------------------------------------------------------------------------------------------


def test_seed_event_parses_into_insert_then_modify() -> None:
    insert, modify = (StreamRecord.from_wire(raw) for raw in load_event("seed_001.json")["Records"])

    assert (insert.event_name, modify.event_name) == (EventName.INSERT, EventName.MODIFY)
    assert (insert.sequence_number, modify.sequence_number) == (111, 222)
    assert insert.keys == {"Id": Decimal("101")}
    assert insert.new_image == {"Message": "New item!", "Id": Decimal("101")}
    assert insert.old_image is None
    assert modify.old_image == {"Message": "New item!", "Id": Decimal("101")}
    assert modify.attribute_changed("Message")
    assert not modify.attribute_changed("Id")
    assert insert.attribute_changed("Message")
    assert (insert.event_id, insert.aws_region, insert.size_bytes) == ("1", "us-west-2", 26)
    assert insert.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert insert.table_name == "TestTable"
    assert insert.approximate_creation_time is None


def test_sequence_numbers_of_21_to_40_digits_compare_as_integers() -> None:
    records = [StreamRecord.from_wire(raw) for raw in load_event("big_sequence_numbers.json")["Records"]]

    twenty_one_nines, ten_to_the_23, forty_digits = (record.sequence_number for record in records)
    assert twenty_one_nines == int("9" * 21)
    assert "9" * 21 > "1" + "0" * 23
    assert twenty_one_nines < ten_to_the_23 < forty_digits
    assert forty_digits == 1234567890123456789012345678901234567890


def test_approximate_creation_time_is_utc_and_keeps_fractions_of_a_second() -> None:
    record = first_record("all_types.json")

    assert record.approximate_creation_time == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)


def test_ttl_delete_is_told_apart_from_a_user_delete() -> None:
    ttl_delete, user_delete = (StreamRecord.from_wire(raw) for raw in load_event("ttl_delete.json")["Records"])

    assert ttl_delete.is_ttl_delete
    assert not user_delete.is_ttl_delete
    assert ttl_delete.new_image is None
    assert ttl_delete.attribute_changed("expiresAt")
    assert not ttl_delete.attribute_changed("neverThere")


def test_keys_only_record_has_keys_and_no_images() -> None:
    record = first_record("keys_only.json")

    assert record.keys == {"customerId": "c-7", "orderId": Decimal(1001)}
    assert (record.new_image, record.old_image) == (None, None)
    assert record.item_key == (("customerId", "c-7"), ("orderId", Decimal(1001)))


def test_attribute_changed_without_the_needed_images_asks_for_new_and_old_images() -> None:
    record = first_record("keys_only.json")

    with pytest.raises(
        StreamRuntimeError, match=r"needs the old and new image .* use the NEW_AND_OLD_IMAGES view type"
    ):
        record.attribute_changed("status")


def test_attribute_changed_on_modify_counts_additions_and_removals() -> None:
    # GIVEN a MODIFY that changes one attribute, adds one and removes one
    raw = copy.deepcopy(load_event("seed_001.json")["Records"][1])
    raw["dynamodb"]["OldImage"]["removed"] = {"S": "gone"}
    raw["dynamodb"]["NewImage"]["added"] = {"N": "1"}

    # WHEN it is parsed
    record = StreamRecord.from_wire(raw)

    # THEN each of them counts as changed and the untouched key does not
    assert [record.attribute_changed(name) for name in ("Message", "added", "removed", "Id")] == [
        True,
        True,
        True,
        False,
    ]


def test_item_key_is_hashable_and_the_same_for_every_change_to_one_item() -> None:
    insert, modify = (StreamRecord.from_wire(raw) for raw in load_event("seed_001.json")["Records"])

    last_change_per_item = {record.item_key: record for record in (insert, modify)}

    assert last_change_per_item == {(("Id", Decimal(101)),): modify}


def test_table_name_is_none_without_an_event_source_arn() -> None:
    raw = copy.deepcopy(load_event("seed_001.json")["Records"][0])
    del raw["eventSourceARN"]

    assert StreamRecord.from_wire(raw).table_name is None


def test_raw_is_kept_but_left_out_of_equality_and_repr() -> None:
    raw = load_event("seed_001.json")["Records"][0]
    record = StreamRecord.from_wire(raw)
    with_other_raw = StreamRecord.from_wire({**raw, "eventVersion": "9.9"})

    assert record.raw is raw
    assert record == with_other_raw
    assert "raw=" not in repr(record)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw.pop("eventID"), "no eventID"),
        (lambda raw: raw.update(eventName="UPSERT"), "eventName must be INSERT, MODIFY or REMOVE, got 'UPSERT'"),
        (lambda raw: raw.pop("eventName"), "eventName must be INSERT, MODIFY or REMOVE, got None"),
        (lambda raw: raw["dynamodb"].pop("Keys"), r"no dynamodb\.Keys"),
        (lambda raw: raw.pop("dynamodb"), "with a 'dynamodb' object"),
        (lambda raw: raw["dynamodb"].update(SizeBytes="26"), "SizeBytes must be a JSON int, got str"),
        (lambda raw: raw["dynamodb"].update(ApproximateCreationDateTime="soon"), "must be epoch seconds"),
    ],
)
def test_from_wire_rejects_a_record_missing_what_every_record_has(change: Any, message: str) -> None:
    raw = copy.deepcopy(load_event("seed_001.json")["Records"][0])
    change(raw)

    with pytest.raises(MalformedRecordError, match=message):
        StreamRecord.from_wire(raw)


# --- partial batch response --------------------------------------------------------------------------------------


def test_partial_batch_response_without_failures_is_an_empty_list() -> None:
    assert partial_batch_response([]) == {"batchItemFailures": []}


def test_partial_batch_response_reports_only_the_lowest_as_a_decimal_string() -> None:
    response = partial_batch_response([10**23, int("9" * 21), 10**39])

    assert response == {"batchItemFailures": [{"itemIdentifier": "9" * 21}]}


def test_partial_batch_response_refuses_sequence_numbers_as_strings() -> None:
    with pytest.raises(TypeError, match="must be non-negative ints"):
        partial_batch_response(["999999999999999999999"])  # type: ignore[list-item]


# --- process_stream_batch ----------------------------------------------------------------------------------------


def test_full_success_reports_no_failure_and_handles_records_in_order() -> None:
    event = load_event("batch_of_four.json")
    handler = Recorder()

    response = process_stream_batch(event, FakeContext([60_000] * 4), handler)

    assert response == {"batchItemFailures": []}
    assert handler.seen == sequence_numbers(event)


def test_empty_batch_reports_no_failure() -> None:
    assert process_stream_batch({"Records": []}, None, Recorder()) == {"batchItemFailures": []}


@pytest.mark.parametrize("event", [{}, {"Records": None}, {"Records": {"0": {}}}])
def test_event_without_a_records_list_is_malformed(event: dict[str, Any]) -> None:
    with pytest.raises(MalformedRecordError, match="the event has no Records list"):
        process_stream_batch(event, None, Recorder())


@pytest.mark.parametrize("sequence_number", [None, "", "12a", " 111", 111])
def test_a_record_without_a_decimal_sequence_number_fails_the_invocation_before_any_handling(
    sequence_number: object,
) -> None:
    # GIVEN a batch whose third record has no usable SequenceNumber
    event = load_event("batch_of_four.json")
    event["Records"][2]["dynamodb"]["SequenceNumber"] = sequence_number
    handler = Recorder()

    # WHEN it is processed THEN the whole invocation fails and no record was handled
    with pytest.raises(MalformedRecordError, match="SequenceNumber must be a string of decimal digits"):
        process_stream_batch(event, None, handler)
    assert handler.seen == []


def test_handler_failure_stops_the_batch_and_reports_that_record() -> None:
    # GIVEN four records whose second one fails
    event = load_event("batch_of_four.json")
    first, second, *_ = sequence_numbers(event)
    handler = Recorder(failing=[second])

    # WHEN the batch is processed with the default settings
    response = process_stream_batch(event, None, handler)

    # THEN the records after the failure are left for Lambda to redeliver
    assert handler.seen == [first, second]
    assert response == {"batchItemFailures": [{"itemIdentifier": str(second)}]}


def test_continue_after_failure_handles_every_record_and_reports_the_lowest_failure() -> None:
    event = load_event("batch_of_four.json")
    _, second, _, fourth = sequence_numbers(event)
    handler = Recorder(failing=[fourth, second])

    response = process_stream_batch(event, None, handler, continue_after_failure=True)

    assert handler.seen == sequence_numbers(event)
    assert response == {"batchItemFailures": [{"itemIdentifier": str(second)}]}


def test_the_lowest_failure_is_chosen_as_an_integer_not_as_a_string() -> None:
    event = load_event("big_sequence_numbers.json")

    response = process_stream_batch(event, None, Recorder(failing=sequence_numbers(event)), continue_after_failure=True)

    assert response == {"batchItemFailures": [{"itemIdentifier": "9" * 21}]}


@pytest.mark.parametrize("malformed_position", [1, 3, 5], ids=["unknown tag", "two tags", "bad base64"])
def test_a_malformed_record_fails_only_itself(malformed_position: int) -> None:
    # GIVEN a malformed record between two good ones
    records = load_event("malformed_records.json")["Records"]
    event = {"Records": records[malformed_position - 1 : malformed_position + 2]}
    before, malformed, after = sequence_numbers(event)
    handler = Recorder()

    # WHEN the batch is processed to the end
    response = process_stream_batch(event, None, handler, continue_after_failure=True)

    # THEN both good records were handled and only the malformed one is reported
    assert handler.seen == [before, after]
    assert response == {"batchItemFailures": [{"itemIdentifier": str(malformed)}]}


def test_a_malformed_record_stops_the_batch_by_default() -> None:
    event = load_event("malformed_records.json")
    first, second, *_ = sequence_numbers(event)
    handler = Recorder()

    response = process_stream_batch(event, None, handler)

    assert handler.seen == [first]
    assert response == {"batchItemFailures": [{"itemIdentifier": str(second)}]}


def test_deadline_stops_before_the_record_that_might_not_finish(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a context whose remaining time drops below the 5 second margin after two records
    event = load_event("batch_of_four.json")
    first, second, third, _ = sequence_numbers(event)
    handler = Recorder()

    # WHEN the batch is processed
    response = process_stream_batch(event, FakeContext([60_000, 30_000, 4_999]), handler)

    # THEN the third record is reported without being handled, and the warning says how many were left
    assert handler.seen == [first, second]
    assert response == {"batchItemFailures": [{"itemIdentifier": str(third)}]}
    warning = next(line for line in log_lines(capsys.readouterr().out) if line["level"] == "WARNING")
    assert warning["recordsLeft"] == 2
    assert warning["sequenceNumber"] == str(third)


def test_deadline_margin_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_RUNTIME_DEADLINE_MARGIN_MS", "50000")
    event = load_event("batch_of_four.json")
    first, second, *_ = sequence_numbers(event)
    handler = Recorder()

    response = process_stream_batch(event, FakeContext([60_000, 40_000]), handler)

    assert handler.seen == [first]
    assert response == {"batchItemFailures": [{"itemIdentifier": str(second)}]}


def test_deadline_margin_argument_overrides_the_default() -> None:
    event = load_event("batch_of_four.json")

    response = process_stream_batch(
        event, FakeContext([1_000] * 4), Recorder(), deadline_margin=timedelta(milliseconds=500)
    )

    assert response == {"batchItemFailures": []}


def test_a_bad_deadline_margin_in_the_environment_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_RUNTIME_DEADLINE_MARGIN_MS", "5s")

    with pytest.raises(ValueError, match="STREAM_RUNTIME_DEADLINE_MARGIN_MS must be a whole number"):
        process_stream_batch({"Records": []}, None, Recorder())


# --- logs --------------------------------------------------------------------------------------------------------


def test_failure_logs_carry_the_record_ids_and_never_the_images(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a batch with malformed records and a handler that fails on a good one
    event = load_event("malformed_records.json")
    failing = sequence_numbers(event)[2]

    # WHEN it is processed to the end
    process_stream_batch(event, FakeContext([60_000] * 7), Recorder(failing=[failing]), continue_after_failure=True)

    # THEN each failure is one JSON line naming its record, with the traceback, and no image value is printed
    output = capsys.readouterr().out
    failures = [line for line in log_lines(output) if line["message"] == "Record failed"]
    assert [(line["eventID"], line["sequenceNumber"]) for line in failures] == [
        (raw["eventID"], raw["dynamodb"]["SequenceNumber"]) for raw in (event["Records"][i] for i in (1, 2, 3, 5))
    ]
    assert all(line["level"] == "ERROR" and line["eventName"] == "INSERT" for line in failures)
    assert all(line["requestId"] == FakeContext.aws_request_id for line in failures)
    assert f"RuntimeError: boom at {failing}" in failures[1]["exception"]
    assert "unknown DynamoDB type tag" in failures[0]["exception"]
    assert "example.com" not in output
    assert "jane" not in output


def test_the_batch_ends_with_a_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    event = load_event("batch_of_four.json")
    second = sequence_numbers(event)[1]

    process_stream_batch(event, None, Recorder(failing=[second]))

    summary = log_lines(capsys.readouterr().out)[-1]
    assert summary["message"] == "Batch finished"
    assert {key: summary[key] for key in ("records", "processed", "failed", "skippedByDeadline")} == {
        "records": 4,
        "processed": 1,
        "failed": 1,
        "skippedByDeadline": 0,
    }
    assert summary["skippedAfterFailure"] == 2
    assert "eventID" not in summary


def test_logger_writes_one_json_object_per_line_with_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logger = get_logger("tests.stream_runtime.extra")

    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("Something failed", extra={"orderCount": 3})

    (line,) = log_lines(capsys.readouterr().out)
    assert (line["level"], line["logger"], line["message"]) == (
        "ERROR",
        "tests.stream_runtime.extra",
        "Something failed",
    )
    assert line["orderCount"] == 3
    assert "ValueError: bad value" in line["exception"]
    assert datetime.fromisoformat(line["timestamp"]).tzinfo == UTC
    assert "requestId" not in line


def test_logger_is_configured_once_with_the_level_from_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")

    logger = get_logger("tests.stream_runtime.level")
    again = get_logger("tests.stream_runtime.level")

    assert again is logger
    assert len(logger.handlers) == 1
    assert logger.getEffectiveLevel() == 30
    assert not logger.propagate


def test_an_unknown_log_level_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "LOUD")

    with pytest.raises(ValueError, match="LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"):
        get_logger("tests.stream_runtime.loud")
