"""The progress line: rewritten in place on a terminal, one plain line every few seconds anywhere else."""

from __future__ import annotations

import io

from constructs_pkg.local.progress import PLAIN_INTERVAL_SECONDS, ProgressLine


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_it_writes_a_plain_line_at_most_every_five_seconds_and_the_last_at_close() -> None:
    # GIVEN a log file (not a terminal) and a poll that reports four times a second for 12 seconds
    log, clock = io.StringIO(), Clock()
    with ProgressLine("waiting: ", stream=log, clock=clock) as progress:
        for tick in range(48):
            clock.now = tick * 0.25
            progress.update(f"{tick} records")

    # THEN the first line at once, then one each 5 s, and the last one when it closed; no carriage return anywhere
    assert PLAIN_INTERVAL_SECONDS == 5.0
    assert log.getvalue().splitlines() == ["waiting: 0 records", "waiting: 20 records", "waiting: 40 records",
                                           "waiting: 47 records"]  # fmt: skip
    assert "\r" not in log.getvalue()


def test_off_a_terminal_an_unchanged_text_is_not_written_again() -> None:
    log, clock = io.StringIO(), Clock()
    with ProgressLine(stream=log, clock=clock) as progress:
        for tick in range(100):
            clock.now = tick
            progress.update("idle")

    assert log.getvalue() == "idle\n"


def test_on_a_terminal_the_line_rewrites_itself_and_ends_with_one_line_break() -> None:
    terminal, clock = Terminal(), Clock()
    with ProgressLine("waiting: ", stream=terminal, clock=clock) as progress:
        for tick in range(10):
            clock.now = tick * 0.25
            progress.update(f"{tick} records" if tick < 9 else "9")

    written = terminal.getvalue()
    assert written.count("\n") == 1 and written.endswith("\n")
    # Each redraw returns to the start of the line and erases what a longer text left behind.
    assert written.count("\r") == 10
    assert written.rstrip("\n").endswith("\rwaiting: 9\x1b[K")


def test_nothing_is_written_when_nothing_was_reported() -> None:
    terminal = Terminal()
    ProgressLine(stream=terminal).close()
    assert terminal.getvalue() == ""
