"""StreamFilter emits exactly the patterns the event source mapping accepts, and refuses ones that never match."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from constructs_pkg import ItemImage, StreamFilter


def test_changed_to_is_the_reference_pattern() -> None:
    # The "status changed to SHIPPED" pattern of the Lambda guide (with-ddb-filtering.html), verbatim.
    assert StreamFilter.changed_to("status", "SHIPPED").pattern == {
        "eventName": ["MODIFY"],
        "dynamodb": {
            "NewImage": {"status": {"S": ["SHIPPED"]}},
            "OldImage": {"status": {"S": [{"anything-but": ["SHIPPED"]}]}},
        },
    }


def test_ttl_deletes_is_the_documented_ttl_filter() -> None:
    assert StreamFilter.ttl_deletes().pattern == {
        "eventName": ["REMOVE"],
        "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
    }


def test_user_deletes_excludes_the_ttl_principal_with_a_typed_leaf() -> None:
    assert StreamFilter.user_deletes().pattern == {
        "eventName": ["REMOVE"],
        "userIdentity": {"type": [{"exists": False}]},
    }


@pytest.mark.parametrize(
    ("stream_filter", "expected"),
    [
        (StreamFilter.inserts(), {"eventName": ["INSERT"]}),
        (StreamFilter.modifies(), {"eventName": ["MODIFY"]}),
        (StreamFilter.removes(), {"eventName": ["REMOVE"]}),
        (StreamFilter.event_names("INSERT", "MODIFY"), {"eventName": ["INSERT", "MODIFY"]}),
        (StreamFilter.key_prefix("SK", "ORDER#"), {"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ORDER#"}]}}}}),
        (StreamFilter.key_equals("PK", "USER#1"), {"dynamodb": {"Keys": {"PK": {"S": ["USER#1"]}}}}),
        (
            StreamFilter.attribute_prefix("email", "admin@"),
            {"dynamodb": {"NewImage": {"email": {"S": [{"prefix": "admin@"}]}}}},
        ),
        (
            StreamFilter.attribute_exists("title"),
            {"dynamodb": {"NewImage": {"title": {"S": [{"exists": True}]}}}},
        ),
        (
            StreamFilter.attribute_missing("deletedAt", "N", image=ItemImage.OLD),
            {"dynamodb": {"OldImage": {"deletedAt": {"N": [{"exists": False}]}}}},
        ),
        (
            StreamFilter.attribute_equals("status", "NEW", "PAID"),
            {"dynamodb": {"NewImage": {"status": {"S": ["NEW", "PAID"]}}}},
        ),
        (StreamFilter.attribute_equals("vip", True), {"dynamodb": {"NewImage": {"vip": {"BOOL": [True]}}}}),
    ],
)
def test_builders_emit_typed_patterns(stream_filter: StreamFilter, expected: dict) -> None:
    assert stream_filter.pattern == expected


@pytest.mark.parametrize(
    ("value", "wire"),
    [(100, "100"), (Decimal("12.50"), "12.5"), (Decimal("1E+3"), "1000"), (-7, "-7"), (Decimal("0.010"), "0.01")],
)
def test_numbers_compare_in_dynamodbs_normal_form(value: int | Decimal, wire: str) -> None:
    # DynamoDB strips trailing zeros and exponents; the stream carries that string.
    assert StreamFilter.attribute_equals("total", value).pattern["dynamodb"]["NewImage"]["total"] == {"N": [wire]}


def test_and_merges_patterns() -> None:
    combined = StreamFilter.key_prefix("SK", "ORDER#") & StreamFilter.changed_to("status", "SHIPPED")
    assert combined.pattern == {
        "eventName": ["MODIFY"],
        "dynamodb": {
            "Keys": {"SK": {"S": [{"prefix": "ORDER#"}]}},
            "NewImage": {"status": {"S": ["SHIPPED"]}},
            "OldImage": {"status": {"S": [{"anything-but": ["SHIPPED"]}]}},
        },
    }
    assert combined.images == {ItemImage.NEW, ItemImage.OLD}


def test_and_of_equal_constraints_is_allowed() -> None:
    assert (StreamFilter.modifies() & StreamFilter.changed_to("status", "X")).pattern["eventName"] == ["MODIFY"]


def test_and_refuses_conflicting_constraints() -> None:
    with pytest.raises(ValueError, match=r"cannot AND two filters that both constrain 'eventName' differently"):
        StreamFilter.inserts() & StreamFilter.removes()


def test_raw_pattern_is_accepted_and_serialised_compactly() -> None:
    raw = {"dynamodb": {"NewImage": {"title": {"S": [{"exists": True}]}}}}
    assert json.loads(StreamFilter(raw).to_json()) == raw
    assert " " not in StreamFilter(raw).to_json()


def test_or_alternatives_are_checked_too() -> None:
    StreamFilter({"$or": [{"eventName": ["INSERT"]}, {"dynamodb": {"NewImage": {"a": {"S": ["x"]}}}}]})
    with pytest.raises(ValueError, match=r"must name the DynamoDB type"):
        StreamFilter({"$or": [{"eventName": ["INSERT"]}, {"dynamodb": {"NewImage": {"a": ["x"]}}}]})


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ({}, r"a filter pattern must be a non-empty mapping"),
        (
            {"dynamodb": {"NewImage": {"status": ["SHIPPED"]}}},
            r"'dynamodb.NewImage.status' must name the DynamoDB type",
        ),
        ({"NewImage": {"status": {"S": ["x"]}}}, r"'NewImage' does not exist on a DynamoDB stream record"),
        ({"dynamodb": {"Image": {"a": {"S": ["x"]}}}}, r"'dynamodb.Image' does not exist on a DynamoDB stream record"),
        ({"dynamodb": {"NewImage": {"a": {"STRING": ["x"]}}}}, r"'STRING' is not a DynamoDB type tag"),
        ({"eventName": ["UPDATE"]}, r"eventName values must be among \['INSERT', 'MODIFY', 'REMOVE'\]"),
        ({"eventName": []}, r"'eventName' has an empty list, which matches nothing"),
        ({"eventName": "INSERT"}, r"'eventName' must be a list of values or matchers"),
        (
            {"dynamodb": {"NewImage": {"total": {"N": [{"numeric": [">", 100]}]}}}},
            r"numeric matcher on a DynamoDB number; numbers are strings on the wire",
        ),
        ({"$or": [{"eventName": ["INSERT"]}]}, r"must list at least two alternative patterns"),
    ],
)
def test_patterns_that_never_match_are_refused(pattern: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StreamFilter(pattern)


def test_pattern_over_4096_characters_is_refused() -> None:
    with pytest.raises(ValueError, match=r"filter pattern is \d+ characters; AWS allows at most 4096"):
        StreamFilter.attribute_equals("id", *(f"value-{n:05d}" for n in range(400)))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: StreamFilter.key_prefix("SK", ""), r"prefix must be a non-empty string, got ''"),
        (lambda: StreamFilter.attribute_equals("a"), r"give at least one value to compare 'a' with"),
        (lambda: StreamFilter.attribute_equals("a", "x", 1), r"values for 'a' must share one DynamoDB type"),
        (lambda: StreamFilter.attribute_equals("a", 1.5), r"filter values must be str, int, Decimal or bool"),
        (lambda: StreamFilter.attribute_exists("a", "STRING"), r"type_tag must be one of"),
        (lambda: StreamFilter.all_of(), r"StreamFilter.all_of needs at least one filter"),
    ],
)
def test_builder_arguments_are_checked(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_filters_compare_and_hash_by_pattern() -> None:
    assert StreamFilter.inserts() == StreamFilter({"eventName": ["INSERT"]})
    assert len({StreamFilter.inserts(), StreamFilter.event_names("INSERT")}) == 1
    assert repr(StreamFilter.inserts()) == 'StreamFilter({"eventName":["INSERT"]})'
