"""Vector values as float32, the type both vector stores keep, written out as JSON once per vector."""

from __future__ import annotations

import array
import functools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

__all__ = ["FLOAT32_DIGITS", "Float32Values"]

# Nine significant digits read back as the same float32, always (FLT_DECIMAL_DIG in C's <float.h>).
FLOAT32_DIGITS = 9


class Float32Values(Sequence[float]):
    """``values`` rounded to float32, with ``json``: the compact JSON array of them, nine significant digits each.

    ``json`` is exactly ``json.dumps(list(self), separators=(",", ":"))``, made once: measuring a request and writing
    its body reuse it instead of formatting 1,024 numbers each time. Reading the values (iterating, indexing) parses
    it back on first use, so each value is the float its text reads as: a store that sends the text (Pinecone) never
    pays for the floats. Raises ValueError for a NaN, an infinity or a value beyond float32's range, TypeError for
    an element that is not a number.
    """

    __slots__ = ("_floats", "_length", "json")

    def __init__(self, values: Iterable[float]) -> None:
        rounded = array.array("f", values)
        # A finite float32 is below 2**128, so finite ones sum to a finite float64: a NaN or an infinity shows in the
        # sum. array("f") rounds a value beyond float32's range to an infinity, so it shows too.
        if not math.isfinite(sum(rounded)):
            raise ValueError("a NaN or infinite value, or one beyond float32's range")
        self._length = len(rounded)
        self._floats: list[float] | None = None
        self.json = _json_array(rounded)

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> list[float]: ...

    def __getitem__(self, index: int | slice) -> float | list[float]:
        return self._values()[index]

    def __iter__(self) -> Iterator[float]:
        return iter(self._values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Float32Values | list | tuple):
            return self._values() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are not hashable

    def __repr__(self) -> str:
        return f"Float32Values({self._values()!r})"

    def _values(self) -> list[float]:
        if self._floats is None:
            # Two threads may both parse: they get equal lists, and either one is kept.
            self._floats = json.loads(self.json)
        return self._floats


def _json_array(rounded: array.array[float]) -> str:
    # "%.9g" writes the same text as repr() of the float it reads back as, but for whole numbers, which repr() writes
    # as 1.0, -0.0 or 1234567936.0 and "%.9g" as 1, -0 or 1.23456794e+09. A float32 is whole exactly when its nine
    # digits are (two float32s never share nine digits), so only a vector holding a whole number takes the long way.
    if any(map(float.is_integer, rounded)):
        return "[" + ",".join(repr(float(f"{value:.{FLOAT32_DIGITS}g}")) for value in rounded) + "]"
    return "[" + _format(len(rounded)) % tuple(rounded) + "]"


@functools.lru_cache(maxsize=8)
def _format(count: int) -> str:
    # One format for the whole vector: formatting 1,024 values in one call is about twice as fast as one at a time.
    return ",".join([f"%.{FLOAT32_DIGITS}g"] * count)
