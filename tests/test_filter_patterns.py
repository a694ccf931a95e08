"""The local runner's filter evaluation: EventBridge pattern operators against stream records in Lambda's shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from constructs_pkg.local.filter_patterns import compile_filters, matches, matches_any
from constructs_pkg.stream_filter import ItemImage, StreamFilter

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def stream_record(
    event_name: str,
    *,
    keys: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One element of a Lambda event's Records, typed JSON as the wire carries it (numbers as strings)."""
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1767225600,
        "Keys": keys or {"PK": {"S": "CUSTOMER#1"}, "SK": {"S": "ORDER#42"}},
        "SequenceNumber": "4421584500000000017450439091",
        "SizeBytes": 112,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    record: dict[str, Any] = {
        "eventID": "c81e728d9d4c2f636f067f89cc14862c",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000",
    }
    if identity is not None:
        record["userIdentity"] = identity
    return record


def order(status: str | None = None, **attributes: Any) -> dict[str, Any]:
    image: dict[str, Any] = {"PK": {"S": "CUSTOMER#1"}, "SK": {"S": "ORDER#42"}, **attributes}
    if status is not None:
        image["status"] = {"S": status}
    return image


# Exact values, null and empty


def test_exact_string_matches_only_the_same_string() -> None:
    assert matches({"eventName": ["INSERT"]}, stream_record("INSERT"))
    assert not matches({"eventName": ["INSERT"]}, stream_record("MODIFY"))
    assert not matches({"eventName": ["insert"]}, stream_record("INSERT"))


def test_leaf_entries_are_ored_and_fields_anded() -> None:
    pattern = {"eventName": ["INSERT", "MODIFY"], "awsRegion": ["eu-west-1"]}
    assert matches(pattern, stream_record("MODIFY"))
    assert not matches(pattern, stream_record("REMOVE"))
    assert not matches({**pattern, "awsRegion": ["us-east-1"]}, stream_record("MODIFY"))


def test_numbers_compare_numerically_and_only_with_json_numbers() -> None:
    assert matches({"size": [300]}, {"size": 300.0})
    assert matches({"size": [0.1]}, {"size": 0.1})
    assert not matches({"size": [300]}, {"size": "300"})
    assert not matches({"size": ["300"]}, {"size": 300})
    assert not matches({"size": [1]}, {"size": True})


def test_booleans_and_null_match_their_own_json_type() -> None:
    assert matches({"flag": [True]}, {"flag": True})
    assert not matches({"flag": [True]}, {"flag": "true"})
    assert not matches({"flag": [True]}, {"flag": 1})
    assert matches({"owner": [None]}, {"owner": None})
    assert not matches({"owner": [None]}, {})
    assert not matches({"owner": [None]}, {"owner": ""})


def test_empty_string_matches_an_empty_value_only() -> None:
    assert matches({"name": [""]}, {"name": ""})
    assert not matches({"name": [""]}, {"name": "x"})
    assert not matches({"name": [""]}, {})


def test_an_empty_leaf_list_matches_nothing() -> None:
    assert not matches({"eventName": []}, stream_record("INSERT"))


# String matchers


def test_prefix_and_its_ignore_case_form() -> None:
    assert matches({"sk": [{"prefix": "ORDER#"}]}, {"sk": "ORDER#42"})
    assert not matches({"sk": [{"prefix": "ORDER#"}]}, {"sk": "order#42"})
    assert matches({"sk": [{"prefix": {"equals-ignore-case": "order#"}}]}, {"sk": "ORDER#42"})
    assert not matches({"sk": [{"prefix": {"equals-ignore-case": "order#"}}]}, {"sk": "INVOICE#42"})
    assert not matches({"n": [{"prefix": "1"}]}, {"n": 12})


def test_suffix_and_its_ignore_case_form() -> None:
    assert matches({"file": [{"suffix": ".png"}]}, {"file": "cat.png"})
    assert not matches({"file": [{"suffix": ".png"}]}, {"file": "cat.PNG"})
    assert matches({"file": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"file": "cat.PNG"})
    assert not matches({"file": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"file": "cat.jpg"})


def test_equals_ignore_case() -> None:
    assert matches({"state": [{"equals-ignore-case": "shipped"}]}, {"state": "SHIPPED"})
    assert not matches({"state": [{"equals-ignore-case": "shipped"}]}, {"state": "SHIPPED!"})
    assert not matches({"state": [{"equals-ignore-case": "shipped"}]}, {})


def test_wildcard_with_escapes() -> None:
    assert matches({"path": [{"wildcard": "*/lib/*.py"}]}, {"path": "src/lib/a.py"})
    assert not matches({"path": [{"wildcard": "*/lib/*.py"}]}, {"path": "src/bin/a.py"})
    assert matches({"path": [{"wildcard": "a\\*b"}]}, {"path": "a*b"})
    assert not matches({"path": [{"wildcard": "a\\*b"}]}, {"path": "axxb"})
    with pytest.raises(ValueError, match="backslash must escape"):
        matches({"path": [{"wildcard": "a\\b"}]}, {"path": "ab"})


# anything-but


def test_anything_but_values() -> None:
    assert matches({"state": [{"anything-but": "initializing"}]}, {"state": "running"})
    assert not matches({"state": [{"anything-but": "initializing"}]}, {"state": "initializing"})
    assert matches({"state": [{"anything-but": ["a", "b"]}]}, {"state": "c"})
    assert not matches({"state": [{"anything-but": ["a", "b"]}]}, {"state": "b"})
    assert matches({"limit": [{"anything-but": [100, 200]}]}, {"limit": 150})
    assert not matches({"limit": [{"anything-but": [100, 200]}]}, {"limit": 100.0})


def test_anything_but_does_not_match_a_missing_field() -> None:
    assert not matches({"state": [{"anything-but": "initializing"}]}, {})


def test_anything_but_prefix_suffix_ignore_case_and_wildcard() -> None:
    assert matches({"region": [{"anything-but": {"prefix": "us-"}}]}, {"region": "eu-west-1"})
    assert not matches({"region": [{"anything-but": {"prefix": "us-"}}]}, {"region": "us-east-1"})
    assert matches({"file": [{"anything-but": {"suffix": ".png"}}]}, {"file": "a.jpg"})
    assert not matches({"file": [{"anything-but": {"suffix": ".png"}}]}, {"file": "a.png"})
    ignore_case = {"state": [{"anything-but": {"equals-ignore-case": ["Pending", "failed"]}}]}
    assert matches(ignore_case, {"state": "shipped"})
    assert not matches(ignore_case, {"state": "PENDING"})
    assert not matches({"path": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"path": "src/lib/a"})
    assert matches({"path": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"path": "src/bin/a"})


def test_anything_but_rejects_operands_aws_rejects() -> None:
    with pytest.raises(ValueError, match="anything-but takes"):
        matches({"state": [{"anything-but": ["a", 1]}]}, {"state": "x"})
    with pytest.raises(ValueError, match="anything-but takes"):
        matches({"state": [{"anything-but": True}]}, {"state": "x"})
    with pytest.raises(ValueError, match="unknown operator 'numeric' in anything-but"):
        matches({"state": [{"anything-but": {"numeric": [">", 1]}}]}, {"state": "x"})


# exists


def test_exists_true_and_false() -> None:
    assert matches({"title": [{"exists": True}]}, {"title": "x"})
    assert matches({"title": [{"exists": True}]}, {"title": None})
    assert not matches({"title": [{"exists": True}]}, {})
    assert matches({"title": [{"exists": False}]}, {})
    assert not matches({"title": [{"exists": False}]}, {"title": ""})


def test_exists_looks_at_leaf_nodes_only() -> None:
    # An untyped attribute name is an object on the wire ({"S": ...}), not a leaf: exists does not see it.
    record = stream_record("INSERT", new=order("PAID"))
    assert not matches({"dynamodb": {"NewImage": {"status": [{"exists": True}]}}}, record)
    assert matches({"dynamodb": {"NewImage": {"status": [{"exists": False}]}}}, record)
    assert matches({"dynamodb": {"NewImage": {"status": {"S": [{"exists": True}]}}}}, record)


def test_exists_and_empty_arrays() -> None:
    assert not matches({"tags": [{"exists": True}]}, {"tags": []})
    assert matches({"tags": [{"exists": False}]}, {"tags": []})


# numeric


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        (["=", 100], 100, True),
        (["=", 100], 100.0, True),
        (["=", 100], 101, False),
        (["<", 10], 9.5, True),
        (["<", 10], 10, False),
        (["<=", 10], 10, True),
        ([">", 0, "<=", 150.5], 150.5, True),
        ([">", 0, "<=", 150.5], 0, False),
        ([">=", 0, "<", 5], 5, False),
        ([">=", -5], -5, True),
    ],
)
def test_numeric(condition: list[Any], value: Any, expected: bool) -> None:
    assert matches({"price": [{"numeric": condition}]}, {"price": value}) is expected


def test_numeric_never_matches_strings_such_as_dynamodb_numbers() -> None:
    record = stream_record("INSERT", new=order(total={"N": "12.5"}))
    assert not matches({"dynamodb": {"NewImage": {"total": {"N": [{"numeric": [">", 0]}]}}}}, record)
    assert not matches({"price": [{"numeric": [">", 0]}]}, {})
    assert not matches({"price": [{"numeric": [">", 0]}]}, {"price": True})


@pytest.mark.parametrize("condition", [[">"], ["~", 1], [">", "1"], [">", 1, "<"], [">", True]])
def test_numeric_rejects_malformed_conditions(condition: list[Any]) -> None:
    with pytest.raises(ValueError, match="numeric takes"):
        matches({"price": [{"numeric": condition}]}, {"price": 1})


# Structure: nesting, arrays, $or


def test_nested_patterns_follow_the_record() -> None:
    pattern = {"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ORDER#"}]}}}}
    assert matches(pattern, stream_record("INSERT"))
    assert not matches(pattern, stream_record("INSERT", keys={"PK": {"S": "C#1"}, "SK": {"S": "PROFILE"}}))
    assert not matches({"dynamodb": {"Keys": {"SK": {"S": ["ORDER#42"]}}}}, {"dynamodb": "flat"})


def test_an_array_value_matches_when_one_element_does() -> None:
    assert matches({"tags": ["red"]}, {"tags": ["blue", "red"]})
    assert not matches({"tags": ["green"]}, {"tags": ["blue", "red"]})
    assert matches({"tags": [{"prefix": "gr"}]}, {"tags": [["blue"], ["green"]]})
    # Wire-shaped lists: {"L": [{"S": ...}, ...]} is an array of objects.
    record = stream_record("INSERT", new=order(tags={"L": [{"S": "gift"}, {"S": "express"}]}))
    assert matches({"dynamodb": {"NewImage": {"tags": {"L": {"S": ["express"]}}}}}, record)
    assert not matches({"dynamodb": {"NewImage": {"tags": {"L": {"S": ["slow"]}}}}}, record)


def test_fields_under_an_array_must_match_in_the_same_element() -> None:
    record = {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}
    assert matches({"items": {"sku": ["B"], "qty": [2]}}, record)
    assert not matches({"items": {"sku": ["A"], "qty": [2]}}, record)


def test_or_at_the_top_and_nested() -> None:
    pattern = {"$or": [{"eventName": ["INSERT"]}, {"dynamodb": {"NewImage": {"status": {"S": ["SHIPPED"]}}}}]}
    assert matches(pattern, stream_record("INSERT", new=order("PAID")))
    assert matches(pattern, stream_record("MODIFY", new=order("SHIPPED")))
    assert not matches(pattern, stream_record("MODIFY", new=order("PAID")))
    nested = {
        "eventName": ["MODIFY"],
        "dynamodb": {"NewImage": {"$or": [{"status": {"S": ["SHIPPED"]}}, {"priority": {"BOOL": [True]}}]}},
    }
    assert matches(nested, stream_record("MODIFY", new=order("PAID", priority={"BOOL": True})))
    assert not matches(nested, stream_record("MODIFY", new=order("PAID", priority={"BOOL": False})))
    assert not matches(nested, stream_record("INSERT", new=order("SHIPPED")))


def test_or_needs_two_alternative_patterns() -> None:
    with pytest.raises(ValueError, match=r"\$or must list at least two"):
        matches({"$or": [{"eventName": ["INSERT"]}]}, stream_record("INSERT"))
    with pytest.raises(ValueError, match=r"each alternative of \$or"):
        matches({"$or": [{"eventName": ["INSERT"]}, ["MODIFY"]]}, stream_record("INSERT"))


# Malformed patterns fail whether or not the record reaches them


def test_unknown_operators_are_named() -> None:
    with pytest.raises(ValueError, match="unknown operator 'contains'"):
        matches({"eventName": ["MODIFY"], "eventSource": [{"contains": "dynamo"}]}, stream_record("INSERT"))


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ({"eventName": "INSERT"}, "must be a list of values or matchers"),
        ({"eventName": [["INSERT"]]}, "neither a value"),
        ({"eventName": [{"prefix": "IN", "suffix": "RT"}]}, "exactly one operator"),
        ({"eventName": [{"exists": "yes"}]}, "exists takes true or false"),
        ({"eventName": [{"prefix": 1}]}, "prefix takes a string"),
        ({"eventName": [{"prefix": {"equals-ignore-case": 1}}]}, "prefix takes a string"),
        ({"eventName": [{"anything-but": {"prefix": {"equals-ignore-case": "in"}}}]}, "prefix takes a string"),
        ({"eventName": [{"equals-ignore-case": ["a", "b"]}]}, "equals-ignore-case takes a string"),
    ],
)
def test_malformed_patterns(pattern: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        matches(pattern, stream_record("INSERT"))


def test_a_pattern_must_be_an_object() -> None:
    with pytest.raises(ValueError, match="must be a JSON object"):
        matches(["INSERT"], stream_record("INSERT"))  # type: ignore[arg-type]


# A mapping's filters


def test_filters_are_ored_and_none_means_every_record() -> None:
    filters = [{"eventName": ["INSERT"]}, {"eventName": ["REMOVE"]}]
    assert matches_any(filters, stream_record("REMOVE"))
    assert not matches_any(filters, stream_record("MODIFY"))
    assert matches_any([], stream_record("MODIFY"))


def test_compile_filters_checks_every_pattern_up_front() -> None:
    with pytest.raises(ValueError, match="unknown operator 'regex'"):
        compile_filters([{"eventName": ["INSERT"]}, {"eventName": [{"regex": "^I"}]}])
    passes = compile_filters([StreamFilter.inserts().pattern])
    assert passes(stream_record("INSERT"))
    assert not passes(stream_record("REMOVE"))


# The reference's TTL filter


def test_the_documented_ttl_filter_keeps_ttl_deletes_only() -> None:
    ttl_filter = {"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}
    assert matches(ttl_filter, stream_record("REMOVE", old=order("PAID"), identity=TTL_IDENTITY))
    assert not matches(ttl_filter, stream_record("REMOVE", old=order("PAID")))


# Every StreamFilter builder, against the records it is meant for and their near misses


@pytest.mark.parametrize(
    ("stream_filter", "event_name"),
    [
        (StreamFilter.inserts(), "INSERT"),
        (StreamFilter.modifies(), "MODIFY"),
        (StreamFilter.removes(), "REMOVE"),
    ],
)
def test_event_name_builders(stream_filter: StreamFilter, event_name: str) -> None:
    for candidate in ("INSERT", "MODIFY", "REMOVE"):
        assert matches(stream_filter.pattern, stream_record(candidate, new=order("PAID"))) is (candidate == event_name)


def test_event_names_builder() -> None:
    pattern = StreamFilter.event_names("INSERT", "REMOVE").pattern
    assert matches(pattern, stream_record("INSERT", new=order("PAID")))
    assert matches(pattern, stream_record("REMOVE", old=order("PAID")))
    assert not matches(pattern, stream_record("MODIFY", new=order("PAID"), old=order("NEW")))


def test_ttl_deletes_and_user_deletes_split_removes() -> None:
    ttl_remove = stream_record("REMOVE", old=order("PAID"), identity=TTL_IDENTITY)
    user_remove = stream_record("REMOVE", old=order("PAID"))
    ttl_deletes = StreamFilter.ttl_deletes().pattern
    user_deletes = StreamFilter.user_deletes().pattern
    assert matches(ttl_deletes, ttl_remove)
    assert not matches(ttl_deletes, user_remove)
    assert matches(user_deletes, user_remove)
    assert not matches(user_deletes, ttl_remove)
    assert not matches(user_deletes, stream_record("INSERT", new=order("PAID")))
    # Another service principal is not time to live.
    other = stream_record("REMOVE", old=order("PAID"), identity={"type": "Service", "principalId": "other.amazon"})
    assert not matches(ttl_deletes, other)


def test_key_prefix_and_key_equals() -> None:
    order_key = stream_record("INSERT", new=order("PAID"))
    profile_key = stream_record("INSERT", keys={"PK": {"S": "CUSTOMER#1"}, "SK": {"S": "PROFILE"}})
    assert matches(StreamFilter.key_prefix("SK", "ORDER#").pattern, order_key)
    assert not matches(StreamFilter.key_prefix("SK", "ORDER#").pattern, profile_key)
    assert matches(StreamFilter.key_equals("SK", "PROFILE", "SETTINGS").pattern, profile_key)
    assert not matches(StreamFilter.key_equals("SK", "PROFILE").pattern, order_key)
    numeric_key = stream_record("INSERT", keys={"id": {"N": "12.5"}})
    assert matches(StreamFilter.key_equals("id", Decimal("12.50")).pattern, numeric_key)
    assert not matches(StreamFilter.key_equals("id", 12).pattern, numeric_key)


def test_attribute_equals_for_strings_numbers_and_booleans() -> None:
    record = stream_record(
        "MODIFY",
        new=order("SHIPPED", total={"N": "100"}, gift={"BOOL": True}),
        old=order("PAID", total={"N": "90"}, gift={"BOOL": False}),
    )
    assert matches(StreamFilter.attribute_equals("status", "SHIPPED", "DELIVERED").pattern, record)
    assert not matches(StreamFilter.attribute_equals("status", "PAID").pattern, record)
    assert matches(StreamFilter.attribute_equals("status", "PAID", image=ItemImage.OLD).pattern, record)
    assert matches(StreamFilter.attribute_equals("total", 100).pattern, record)
    assert matches(StreamFilter.attribute_equals("total", Decimal("100.00")).pattern, record)
    assert not matches(StreamFilter.attribute_equals("total", 90).pattern, record)
    assert matches(StreamFilter.attribute_equals("total", 90, image=ItemImage.OLD).pattern, record)
    assert matches(StreamFilter.attribute_equals("gift", True).pattern, record)
    assert not matches(StreamFilter.attribute_equals("gift", False).pattern, record)
    # A number stored as a string is another DynamoDB type, and the type tag keeps them apart.
    as_string = stream_record("INSERT", new=order(total={"S": "100"}))
    assert not matches(StreamFilter.attribute_equals("total", 100).pattern, as_string)


def test_attribute_prefix() -> None:
    record = stream_record("INSERT", new=order("PAID", email={"S": "ana@example.com"}))
    assert matches(StreamFilter.attribute_prefix("email", "ana@").pattern, record)
    assert not matches(StreamFilter.attribute_prefix("email", "bob@").pattern, record)
    assert not matches(StreamFilter.attribute_prefix("email", "ana@", image=ItemImage.OLD).pattern, record)


def test_attribute_exists_and_missing() -> None:
    with_title = stream_record("INSERT", new=order("PAID", title={"S": "Lamp"}))
    without_title = stream_record("INSERT", new=order("PAID"))
    numeric_title = stream_record("INSERT", new=order("PAID", title={"N": "7"}))
    assert matches(StreamFilter.attribute_exists("title").pattern, with_title)
    assert not matches(StreamFilter.attribute_exists("title").pattern, without_title)
    assert not matches(StreamFilter.attribute_exists("title").pattern, numeric_title)
    assert matches(StreamFilter.attribute_exists("title", "N").pattern, numeric_title)
    assert matches(StreamFilter.attribute_missing("title").pattern, without_title)
    assert not matches(StreamFilter.attribute_missing("title").pattern, with_title)
    # "Missing as S" includes holding it as another type.
    assert matches(StreamFilter.attribute_missing("title").pattern, numeric_title)
    # A REMOVE carries no new image at all, so every attribute of it is missing.
    assert matches(StreamFilter.attribute_missing("title").pattern, stream_record("REMOVE", old=order("PAID")))


def test_changed_to() -> None:
    shipped = StreamFilter.changed_to("status", "SHIPPED").pattern
    assert matches(shipped, stream_record("MODIFY", new=order("SHIPPED"), old=order("PAID")))
    assert not matches(shipped, stream_record("MODIFY", new=order("SHIPPED"), old=order("SHIPPED")))
    assert not matches(shipped, stream_record("MODIFY", new=order("DELIVERED"), old=order("PAID")))
    assert not matches(shipped, stream_record("INSERT", new=order("SHIPPED")))
    # Lambda's behaviour, as StreamFilter.changed_to documents: anything-but needs the field, so an update from
    # an item without the attribute does not match.
    assert not matches(shipped, stream_record("MODIFY", new=order("SHIPPED"), old=order()))
    # A stream without old images (view type NEW_IMAGE) never matches either.
    assert not matches(shipped, stream_record("MODIFY", new=order("SHIPPED")))


def test_changed_to_a_number() -> None:
    three = StreamFilter.changed_to("attempts", 3).pattern
    assert matches(three, stream_record("MODIFY", new=order(attempts={"N": "3"}), old=order(attempts={"N": "2"})))
    assert not matches(three, stream_record("MODIFY", new=order(attempts={"N": "3"}), old=order(attempts={"N": "3"})))


def test_combined_filters() -> None:
    shipped_orders = StreamFilter.key_prefix("SK", "ORDER#") & StreamFilter.changed_to("status", "SHIPPED")
    assert matches(shipped_orders.pattern, stream_record("MODIFY", new=order("SHIPPED"), old=order("PAID")))
    invoice_keys = {"PK": {"S": "CUSTOMER#1"}, "SK": {"S": "INVOICE#7"}}
    invoice = stream_record("MODIFY", keys=invoice_keys, new=order("SHIPPED"), old=order("PAID"))
    assert not matches(shipped_orders.pattern, invoice)

    new_gifts = StreamFilter.inserts() & StreamFilter.attribute_equals("gift", True)
    assert matches(new_gifts.pattern, stream_record("INSERT", new=order("PAID", gift={"BOOL": True})))
    assert not matches(new_gifts.pattern, stream_record("MODIFY", new=order("PAID", gift={"BOOL": True})))
    assert not matches(new_gifts.pattern, stream_record("INSERT", new=order("PAID")))

    expired_orders = StreamFilter.ttl_deletes() & StreamFilter.key_prefix("SK", "ORDER#")
    assert matches(expired_orders.pattern, stream_record("REMOVE", old=order("PAID"), identity=TTL_IDENTITY))
    assert not matches(expired_orders.pattern, stream_record("REMOVE", old=order("PAID")))


def test_a_mapping_with_several_stream_filters() -> None:
    filters = [StreamFilter.inserts().pattern, StreamFilter.changed_to("status", "SHIPPED").pattern]
    assert matches_any(filters, stream_record("INSERT", new=order("PAID")))
    assert matches_any(filters, stream_record("MODIFY", new=order("SHIPPED"), old=order("PAID")))
    assert not matches_any(filters, stream_record("MODIFY", new=order("PAID"), old=order("NEW")))
    assert not matches_any(filters, stream_record("REMOVE", old=order("PAID")))
