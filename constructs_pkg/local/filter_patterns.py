"""Evaluate an event source mapping's FilterCriteria against DynamoDB stream records, as Lambda does.

Lambda matches each record, as the JSON object it would deliver in ``Records``, against the mapping's filter
patterns and skips (checkpoints without invoking) the records that match none:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filtering-syntax. The pattern language
is EventBridge's: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html.

Fields of a pattern are ANDed, the entries of a leaf list are ORed, ``$or`` ORs whole sub-patterns, and a record
value that is a JSON array matches when one of its elements does. Comparison operators look at leaf values only:
a field whose value is an object is, for them, a field that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from operator import eq, ge, gt, le, lt
from typing import Any, Final

__all__ = ["compile_filters", "matches", "matches_any"]

# Stands for a field the record does not have: only ``{"exists": false}`` matches it.
_MISSING: Final = object()
_OR: Final = "$or"
_NUMERIC_OPERATORS: Final[Mapping[str, Callable[[Decimal, Decimal], bool]]] = {
    "=": eq,
    "<": lt,
    "<=": le,
    ">": gt,
    ">=": ge,
}
_TEXT_OPERATORS: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")

_Predicate = Callable[[Any], bool]


def matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Whether one filter ``pattern`` matches one stream ``record`` in Lambda's wire shape.

    Raises ``ValueError`` for a pattern AWS would reject (an unknown operator, a malformed operand), whether or not
    the record reaches that part of the pattern.
    """
    return _compile_pattern(pattern)(record)


def matches_any(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Whether ``record`` passes a mapping's filters: they are ORed, and no filters at all let every record through."""
    return compile_filters(patterns)(record)


def compile_filters(patterns: Sequence[Mapping[str, Any]]) -> Callable[[Mapping[str, Any]], bool]:
    """Check a mapping's filter ``patterns`` once and return the test ``matches_any`` applies, for use per record."""
    predicates = [_compile_pattern(pattern) for pattern in patterns]
    if not predicates:
        return lambda record: True
    return lambda record: any(predicate(record) for predicate in predicates)


def _compile_pattern(pattern: Any) -> _Predicate:
    if not isinstance(pattern, Mapping):
        raise ValueError(f"a filter pattern must be a JSON object, got {pattern!r}")
    return _compile_object(pattern, path="")


def _compile_object(pattern: Mapping[str, Any], path: str) -> _Predicate:
    checks: list[_Predicate] = []
    for key, spec in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == _OR:
            checks.append(_compile_or(spec, where, path))
        else:
            checks.append(_field(key, _compile_field(spec, where)))
    return lambda node: all(check(node) for check in checks)


def _compile_or(alternatives: Any, where: str, path: str) -> _Predicate:
    if not isinstance(alternatives, list) or len(alternatives) < 2:
        raise ValueError(f"{where} must list at least two alternative patterns, got {alternatives!r}")
    compiled: list[_Predicate] = []
    for alternative in alternatives:
        if not isinstance(alternative, Mapping):
            raise ValueError(f"each alternative of {where} must be a JSON object, got {alternative!r}")
        compiled.append(_compile_object(alternative, path))
    return lambda node: any(alternative(node) for alternative in compiled)


def _field(key: str, check: _Predicate) -> _Predicate:
    # Below a scalar, a missing field or an array of scalars, every field is missing.
    return lambda node: check(node.get(key, _MISSING) if isinstance(node, Mapping) else _MISSING)


def _compile_field(spec: Any, where: str) -> _Predicate:
    if isinstance(spec, Mapping):
        nested = _compile_object(spec, where)
        return lambda value: _any_element(nested, value, want_objects=True)
    if isinstance(spec, list):
        leaf = _compile_leaf(spec, where)
        return lambda value: _any_element(leaf, value, want_objects=False)
    raise ValueError(f"filter field {where!r} must be a list of values or matchers, or a nested pattern; got {spec!r}")


def _any_element(check: _Predicate, value: Any, *, want_objects: bool) -> bool:
    # A nested pattern looks into objects, a leaf list at scalars; the elements of arrays (at any depth) count one
    # by one, and a value with nothing of the wanted kind counts as missing, as for an empty array.
    candidates = [
        element
        for element in _flatten(value)
        if element is not _MISSING and isinstance(element, Mapping) == want_objects
    ]
    if not candidates:
        return check(_MISSING)
    return any(check(candidate) for candidate in candidates)


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for element in value:
            yield from _flatten(element)
    else:
        yield value


def _compile_leaf(entries: list[Any], where: str) -> _Predicate:
    # An empty list has no entry to match, so the field, and the pattern, match nothing.
    tests = [_compile_entry(entry, where) for entry in entries]
    return lambda value: any(test(value) for test in tests)


def _compile_entry(entry: Any, where: str) -> _Predicate:
    if isinstance(entry, Mapping):
        return _compile_matcher(entry, where)
    return _equals(entry, where)


def _equals(expected: Any, where: str) -> _Predicate:
    # JSON types never compare equal across kinds: "true" is not true, "5" is not 5, and (unlike Python) 1 is not true.
    if expected is None:
        return lambda value: value is None
    if isinstance(expected, bool):
        return lambda value: isinstance(value, bool) and value == expected
    if isinstance(expected, str):
        return lambda value: isinstance(value, str) and value == expected
    if _is_number(expected):
        number = _decimal(expected)
        return lambda value: _is_number(value) and _decimal(value) == number
    raise ValueError(
        f"filter field {where!r}: {expected!r} is neither a value (string, number, boolean, null) nor a matcher"
    )


def _compile_matcher(matcher: Mapping[str, Any], where: str) -> _Predicate:
    if len(matcher) != 1:
        raise ValueError(f"filter field {where!r}: a matcher holds exactly one operator, got {sorted(matcher)}")
    ((operator, operand),) = matcher.items()
    if operator == "exists":
        if not isinstance(operand, bool):
            raise ValueError(f"filter field {where!r}: exists takes true or false, got {operand!r}")
        return lambda value: (value is not _MISSING) == operand
    if operator == "numeric":
        return _compile_numeric(operand, where)
    if operator == "anything-but":
        excluded = _compile_excluded(operand, where)
        # anything-but needs the field: a missing one is not "anything but" the values.
        return lambda value: value is not _MISSING and not excluded(value)
    if operator in _TEXT_OPERATORS:
        text = _compile_text(operator, operand, where, in_anything_but=False)
        return lambda value: isinstance(value, str) and text(value)
    raise ValueError(
        f"filter field {where!r}: unknown operator {operator!r}; use one of "
        f"{sorted(['exists', 'numeric', 'anything-but', *_TEXT_OPERATORS])}"
    )


def _compile_numeric(operand: Any, where: str) -> _Predicate:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise ValueError(f"filter field {where!r}: numeric takes [op, n] or [op, n, op, n], got {operand!r}")
    bounds: list[tuple[Callable[[Decimal, Decimal], bool], Decimal]] = []
    for operator, number in zip(operand[::2], operand[1::2], strict=True):
        if operator not in _NUMERIC_OPERATORS or not _is_number(number):
            raise ValueError(
                f"filter field {where!r}: numeric takes operators {sorted(_NUMERIC_OPERATORS)} each followed by a "
                f"number, got {operand!r}"
            )
        bounds.append((_NUMERIC_OPERATORS[operator], _decimal(number)))
    # Only JSON numbers compare: DynamoDB's {"N": "12.5"} is a string on the wire and never matches.
    return lambda value: _is_number(value) and all(compare(_decimal(value), bound) for compare, bound in bounds)


def _compile_excluded(operand: Any, where: str) -> _Predicate:
    if isinstance(operand, Mapping):
        if len(operand) != 1:
            raise ValueError(f"filter field {where!r}: anything-but holds exactly one operator, got {sorted(operand)}")
        ((operator, text_operand),) = operand.items()
        if operator not in _TEXT_OPERATORS:
            raise ValueError(
                f"filter field {where!r}: unknown operator {operator!r} in anything-but; use one of "
                f"{sorted(_TEXT_OPERATORS)}"
            )
        text = _compile_text(operator, text_operand, where, in_anything_but=True)
        # A value that is not a string cannot have the excluded shape, so anything-but lets it through.
        return lambda value: isinstance(value, str) and text(value)
    values = operand if isinstance(operand, list) else [operand]
    kinds = {"string" if isinstance(value, str) else "number" if _is_number(value) else "other" for value in values}
    if not values or "other" in kinds or len(kinds) > 1:
        raise ValueError(
            f"filter field {where!r}: anything-but takes a string, a number, a list of only strings or only numbers, "
            f"or a prefix, suffix, equals-ignore-case or wildcard matcher; got {operand!r}"
        )
    tests = [_equals(value, where) for value in values]
    return lambda value: any(test(value) for test in tests)


def _compile_text(operator: str, operand: Any, where: str, *, in_anything_but: bool) -> Callable[[str], bool]:
    if operator in ("prefix", "suffix"):
        affix = operator == "prefix"
        if isinstance(operand, str):
            return (lambda text: text.startswith(operand)) if affix else (lambda text: text.endswith(operand))
        if not in_anything_but and _is_ignore_case(operand):
            folded = operand["equals-ignore-case"].casefold()
            if affix:
                return lambda text: text.casefold().startswith(folded)
            return lambda text: text.casefold().endswith(folded)
        raise ValueError(
            f"filter field {where!r}: {operator} takes a string"
            + ("" if in_anything_but else ' or {"equals-ignore-case": string}')
            + f", got {operand!r}"
        )
    # equals-ignore-case and wildcard take one string, or inside anything-but a list of them.
    strings = operand if in_anything_but and isinstance(operand, list) else [operand]
    if not strings or not all(isinstance(string, str) for string in strings):
        raise ValueError(f"filter field {where!r}: {operator} takes a string, got {operand!r}")
    if operator == "equals-ignore-case":
        folded_strings = {string.casefold() for string in strings}
        return lambda text: text.casefold() in folded_strings
    expressions = [_wildcard(string, where) for string in strings]
    return lambda text: any(expression.fullmatch(text) for expression in expressions)


def _is_ignore_case(operand: Any) -> bool:
    return (
        isinstance(operand, Mapping)
        and list(operand) == ["equals-ignore-case"]
        and isinstance(operand["equals-ignore-case"], str)
    )


def _wildcard(pattern: str, where: str) -> re.Pattern[str]:
    # "*" stands for any run of characters; a backslash escapes "*" or itself, and nothing else:
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching
    parts: list[str] = []
    characters = iter(pattern)
    for character in characters:
        if character == "*":
            parts.append(".*")
        elif character == "\\":
            escaped = next(characters, "")
            if escaped not in ("*", "\\"):
                raise ValueError(f"filter field {where!r}: in wildcard {pattern!r} a backslash must escape * or \\")
            parts.append(re.escape(escaped))
        else:
            parts.append(re.escape(character))
    return re.compile("".join(parts), re.DOTALL)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _decimal(number: int | float | Decimal) -> Decimal:
    # Through repr, a float keeps the value its JSON text meant (0.1, not 0.1000000000000000055...).
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
