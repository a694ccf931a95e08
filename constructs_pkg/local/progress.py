"""The progress line of the local tools: one line that rewrites itself on a terminal, and elsewhere (CI, a log file,
a pipe) a plain line every few seconds, so that a long run writes a readable log instead of one endless line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, Self, TextIO

__all__ = ["PLAIN_INTERVAL_SECONDS", "ProgressLine"]

# Off a terminal: at most one line this often (the first at once, the last when the line closes).
PLAIN_INTERVAL_SECONDS = 5.0
# On a terminal: redrawn at most this often; a poll runs four times a second and more.
_REDRAW_SECONDS = 0.1
# Erase to the end of the line: a shorter text leaves no tail of the longer one before it.
_ERASE_TO_END = "\x1b[K"


class ProgressLine:
    """Shows ``prefix`` + the latest text given to ``update`` on ``stream`` (Default: - ``sys.stderr``).

    On a terminal (``stream.isatty()``) the line is redrawn in place; elsewhere each update that changed the text is
    written as a line of its own, at most one every ``interval`` seconds (Default: 5), and ``close()`` writes the last
    text when it was not written yet. ``clock`` (Default: ``time.monotonic``) measures the intervals. Use as a context
    manager, or call ``close()``.
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        stream: TextIO | None = None,
        interval: float = PLAIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.stream = stream or sys.stderr
        self.interval = interval
        self.clock = clock
        self.terminal = _is_terminal(self.stream)
        self._latest: str | None = None
        self._shown: str | None = None
        self._shown_at: float | None = None
        self._drawn = False

    def update(self, text: str) -> None:
        """Show ``text`` now, or when its turn comes."""
        self._latest = text
        if text == self._shown:
            return
        now = self.clock()
        wait = _REDRAW_SECONDS if self.terminal else self.interval
        if self._shown_at is not None and now - self._shown_at < wait:
            return
        self._show(text, now)

    def close(self) -> None:
        """End the line: a terminal's gets its line break, elsewhere the last text is written if it was not."""
        if self._latest is not None and self._latest != self._shown:
            self._show(self._latest, self.clock())
        if self.terminal and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def _show(self, text: str, now: float) -> None:
        if self.terminal:
            self.stream.write(f"\r{self.prefix}{text}{_ERASE_TO_END}")
            self._drawn = True
        else:
            self.stream.write(f"{self.prefix}{text}\n")
        self.stream.flush()
        self._shown, self._shown_at = text, now

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
