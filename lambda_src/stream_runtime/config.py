"""One typed reader of a bundled handler's environment variables, and the one error it raises.

A handler reads its whole configuration once per cold start; every problem is collected, so that one ``ConfigError``
names each variable that is missing or wrong, and the value it refused. A misconfigured function then fails on its
first invocation with a message that says what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

__all__ = ["REQUIRED", "ConfigError", "EnvironmentReader"]

_T = TypeVar("_T")
_E = TypeVar("_E", bound=StrEnum)


class ConfigError(ValueError):
    """One or more environment variables are missing or wrong; the message names each, with the value refused."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a variable that has none: leaving it unset (or blank) is a problem."""


class EnvironmentReader:
    """Reads variables from ``environ`` and notes every problem; ``finish()`` raises them as one ``ConfigError``.

    A variable that is unset or blank takes its ``default``; without one it is reported as required. A value that does
    not parse is reported as ``NAME must be <expected>, got '<value>'`` and the default stands in until ``finish``.
    """

    def __init__(self, environ: Mapping[str, str], owner: str) -> None:
        self._environ = environ
        self._owner = owner
        self._problems: list[str] = []

    def text(self, name: str, default: str = REQUIRED) -> str:
        """The value as it is (spaces kept), or ``default`` when unset or blank."""
        return self.parsed(name, str, "", default)

    def parsed(self, name: str, parse: Callable[[str], _T], expected: str, default: Any = REQUIRED) -> Any:
        """``parse(value)``; ``parse`` raises ValueError for a value that is not ``expected``."""
        value = self._environ.get(name)
        if value is None or not value.strip():
            if default is REQUIRED:
                blank = " and must not be blank" if value is not None else ""
                self._problems.append(f"{name} is required{blank}" + (f": {expected}" if expected else ""))
            return default
        try:
            return parse(value)
        except ValueError:
            self._problems.append(f"{name} must be {expected}, got {value!r}")
            return default

    def choice(self, name: str, choices: type[_E], default: Any = REQUIRED) -> Any:
        """A member of the StrEnum ``choices``, by value."""
        return self.parsed(name, choices, _listing(member.value for member in choices), default)

    def one_of(self, name: str, choices: Collection[_T], default: Any = REQUIRED) -> Any:
        """One of ``choices`` (ints or strings), compared as text."""
        by_text = {str(choice): choice for choice in choices}

        def parse(text: str) -> _T:
            if text.strip() not in by_text:
                raise ValueError(text)
            return by_text[text.strip()]

        return self.parsed(name, parse, _listing(by_text), default)

    def whole_number(self, name: str, default: Any = REQUIRED, *, minimum: int = 0) -> Any:
        def parse(text: str) -> int:
            if not (text.isascii() and text.isdigit()) or int(text) < minimum:
                raise ValueError(text)
            return int(text)

        return self.parsed(name, parse, f"a whole number of at least {minimum}", default)

    def positive_number(self, name: str, default: Any = REQUIRED) -> Any:
        def parse(text: str) -> float:
            number = float(text)
            if not (math.isfinite(number) and number > 0):
                raise ValueError(text)
            return number

        return self.parsed(name, parse, "a positive number", default)

    def milliseconds(self, name: str, default_ms: int) -> timedelta:
        number: int = self.parsed(name, _digits, "a whole number of milliseconds", default_ms)
        return timedelta(milliseconds=number)

    def http_url(self, name: str, default: Any = REQUIRED, *, scheme_implied: str | None = None) -> Any:
        """An http(s) URL without its trailing slash; ``scheme_implied`` is put before a value without a scheme."""

        def parse(text: str) -> str:
            url = text if "://" in text or scheme_implied is None else f"{scheme_implied}://{text}"
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(text)
            return url.rstrip("/")

        expected = "an http(s) URL" if scheme_implied is None else "a host or an http(s) URL"
        return self.parsed(name, parse, expected, default)

    def class_path(self, name: str) -> str:
        """A plug-in class named ``module:Class``."""

        def parse(text: str) -> str:
            module_name, _, class_name = text.partition(":")
            if not module_name or not class_name:
                raise ValueError(text)
            return text

        return str(self.parsed(name, parse, "'module:Class'", REQUIRED))

    def names(self, name: str, *, counts: range | None = None) -> tuple[str, ...]:
        """Distinct attribute names separated by commas (may be empty); ``counts`` bounds how many."""
        value = self._environ.get(name, "")
        found = tuple(part.strip() for part in value.split(",")) if value.strip() else ()
        if "" in found or len(set(found)) != len(found):
            self._problems.append(f"{name} must be distinct attribute names separated by commas, got {value!r}")
        elif counts is not None and len(found) not in counts:
            self._problems.append(f"{name} must name {counts.start} to {counts.stop - 1} attributes, got {value!r}")
        return found

    def problem(self, message: str) -> None:
        """Note a problem the reader cannot see alone, such as two variables that must differ."""
        self._problems.append(message)

    def finish(self) -> None:
        """Raise one ConfigError naming every problem noted, if any."""
        if self._problems:
            raise ConfigError(f"{self._owner} configuration: " + "; ".join(self._problems))


def _digits(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)


def _listing(choices: Any) -> str:
    ordered = sorted(choices, key=lambda choice: (not choice.isdigit(), int(choice) if choice.isdigit() else 0, choice))
    return "one of " + ", ".join(ordered)
