"""What the pipeline stores for an item: its vector id, its metadata, and its values as the stores keep them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from lambda_src.providers import Vector
from lambda_src.providers.float32 import Float32Values
from lambda_src.stream_runtime import PermanentError

__all__ = ["VECTOR_ID_SEPARATOR", "float32_values", "serialized_size", "vector_id", "vector_metadata"]

VECTOR_ID_SEPARATOR = "#"
# Integers beyond 2**53 are not exact as the 64-bit floats that Pinecone and S3 Vectors keep numbers as.
_EXACT_FLOAT_INTEGERS = 2**53


def vector_id(keys: Mapping[str, Any], attributes: Sequence[str]) -> str:
    """The item's key values, in ``attributes`` order, joined by ``#``: ``PK + "#" + SK`` as the seed writes it.

    Strings are taken as they are, numbers in DynamoDB's normal form (``1.50`` and ``1.5`` are the same key, so both
    give ``1.5``), binary values as standard base64. Raises PermanentError when a key attribute is missing.
    """
    parts = []
    for name in attributes:
        if name not in keys:
            raise PermanentError(f"the record's Keys have no {name!r} attribute (VECTOR_ID_ATTRIBUTES)")
        parts.append(_key_text(keys[name]))
    return VECTOR_ID_SEPARATOR.join(parts)


def vector_metadata(image: Mapping[str, Any], attributes: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """The flat metadata the stores accept, from the item's ``attributes``, and the names of those left out.

    Both stores take strings, numbers, booleans and lists of strings, and no nulls
    (https://docs.pinecone.io/guides/index-data/indexing-overview#metadata-types,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors-metadata-filtering.html). So numbers become
    ints (when whole and exact as a float) or floats, string and number sets sorted lists of strings, and a list of
    strings stays a list; an absent or NULL attribute is left out, and so is a map, any other list, or binary,
    which are named in the second value for the caller to log.
    """
    metadata: dict[str, Any] = {}
    left_out: list[str] = []
    for name in attributes:
        value = image.get(name)
        if value is None:
            continue
        flat = _flat_value(value)
        if flat is None:
            left_out.append(name)
        else:
            metadata[name] = flat
    return metadata, left_out


def float32_values(values: Sequence[float]) -> Float32Values:
    """``values`` rounded to float32, each written with nine significant digits, which read back as the same float32.

    Both stores keep float32 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_S3VectorBuckets_PutVectors.html),
    so nothing is lost, and the request shrinks by half against float64's seventeen digits: 100 vectors of 1,024
    dimensions then fit one 2 MB Pinecone upsert. The values' JSON comes along (``Float32Values.json``), written
    once. Raises PermanentError for a value that is not a finite number within float32's range.
    """
    try:
        return Float32Values(values)
    except (ValueError, OverflowError, TypeError) as error:
        raise PermanentError(f"the embedding is not a list of finite float32 numbers: {error}") from error


def serialized_size(vector: Vector) -> int:
    """The bytes of ``{"id", "values", "metadata"}`` as JSON with the default separators and ASCII escapes.

    That is how botocore writes S3 Vectors requests and a few bytes a value more than the compact JSON sent to
    Pinecone, so a chunk measured this way fits either store's request limit.
    """
    values = vector.values
    if not isinstance(values, Float32Values):
        return len(json.dumps({"id": vector.id, "values": list(values), "metadata": dict(vector.metadata)}))
    # The values' own text is compact: the default separators add a space after each of its commas.
    envelope = json.dumps({"id": vector.id, "values": [], "metadata": dict(vector.metadata)})
    return len(envelope) - len("[]") + len(values.json) + max(len(values) - 1, 0)


def _key_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return _normal_number(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    # Keys are S, N or B: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.CoreComponents.html
    raise PermanentError(f"a key attribute of type {type(value).__name__} cannot be part of a vector id")


def _normal_number(value: Decimal) -> str:
    # Formatting with "f" and no precision keeps every digit (DynamoDB allows 38), unlike Decimal.normalize().
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _flat_value(value: Any) -> Any:
    if isinstance(value, str | bool):
        return value
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) <= _EXACT_FLOAT_INTEGERS:
            return int(value)
        return float(value)
    if isinstance(value, set) and all(isinstance(element, str) for element in value):
        return sorted(value)
    if isinstance(value, set) and all(isinstance(element, Decimal) for element in value):
        return [_normal_number(number) for number in sorted(value)]
    if isinstance(value, list) and all(isinstance(element, str) for element in value):
        return value
    return None
