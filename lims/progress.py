"""Progress of long work (audit verify and export over millions of events, the demo, the
scale bench): a bar on a terminal (rich), plain lines otherwise (a log, a pipe, cron).

    with progress("audit chain", total=events, unit="events") as advance:
        for batch in batches:
            ...
            advance(len(batch))

The services take a `Phases` (this module's `progress`, or `quiet`, the default) and call
it for each phase of their work; they never print. On a terminal the bar shows what is
done, the rate and the time left; elsewhere a line is written when another tenth of the
work is done (at most one a second) or every `every` seconds, and one when the phase ends,
so a log shows where a long run is without a line per event. Progress goes to standard
error: standard output stays the command's result (a verdict, an export).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, TextIO, TypeVar, cast

from rich.console import Console

T = TypeVar("T")


class Advance(Protocol):
    """Count `n` more units of the phase's work as done."""

    def __call__(self, n: int = 1, /) -> None: ...


class Phases(Protocol):
    """Opens one phase of a piece of work: its description and total (None if unknown)."""

    def __call__(self, description: str, total: int | None, /, *, unit: str = ""
                 ) -> AbstractContextManager[Advance]: ...


def _ignore(n: int = 1, /) -> None:
    return None


@contextmanager
def quiet(description: str, total: int | None, /, *, unit: str = "") -> Iterator[Advance]:
    """No progress shown: what a service does when its caller did not ask for any."""
    yield _ignore


@contextmanager
def progress(description: str, total: int | None, /, *, unit: str = "",
             console: Console | None = None, every: float = 10.0, least: float = 1.0,
             redirect: bool = True) -> Iterator[Advance]:
    """A bar on a terminal, plain lines otherwise; yields the function counting work done.

    `console`: where to show it (default: standard error; a test forces either mode with
    Console(force_terminal=...)). Plain lines: at each further tenth of `total` when `least`
    seconds have passed since the last line, every `every` seconds whatever the share, and
    one at the end. `redirect`: on a terminal, lines the work prints to standard output
    meanwhile appear above the bar (off when standard output carries data, e.g. an export)."""
    console = console if console is not None else Console(stderr=True)
    if console.is_terminal:
        with _bar(description, total, unit, console, redirect) as advance:
            yield advance
        return
    plain = _Plain(description, total, unit, cast(TextIO, console.file), every, least)
    yield plain.advance
    plain.end()


@contextmanager
def _bar(description: str, total: int | None, unit: str, console: Console,
         redirect: bool) -> Iterator[Advance]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn(unit), TaskProgressColumn(),
               TimeElapsedColumn(), TimeRemainingColumn()]
    # Lines printed to standard output meanwhile go above the bar only when that is the
    # terminal too: redirected to a file, they stay in the file.
    with Progress(*columns, console=console, redirect_stdout=redirect and _is_tty(sys.stdout),
                  redirect_stderr=redirect) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1, /) -> None:
            bar.advance(task, n)

        yield advance
        if total is None:  # an unknown total is known at the end: show a full bar
            done = bar.tasks[0].completed
            bar.update(task, total=done, completed=done)


def _is_tty(stream: TextIO | None) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


class _Plain:
    def __init__(self, description: str, total: int | None, unit: str, out: TextIO,
                 every: float, least: float) -> None:
        self.description, self.total, self.unit, self.out = description, total, unit, out
        self.every, self.least = every, least
        self.done, self.tenth = 0, 0
        self.start = self.said = time.monotonic()

    def advance(self, n: int = 1, /) -> None:
        self.done += n
        now = time.monotonic()
        tenth = self.done * 10 // self.total if self.total else 0
        if (tenth > self.tenth and now - self.said >= self.least) or now - self.said >= self.every:
            self.tenth = max(self.tenth, tenth)
            self._say(now)

    def end(self) -> None:
        self._say(time.monotonic())

    def _say(self, now: float) -> None:
        self.said = now
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            share = f"{self.done:,} of {self.total:,}{unit} ({self.done * 100 // self.total}%)"
        else:
            share = f"{self.done:,}{unit}"
        print(f"{self.description}: {share}, {now - self.start:.1f} s", file=self.out,
              flush=True)


def tracked(items: Iterable[T], advance: Advance, every: int = 1000) -> Iterator[T]:
    """`items`, counting them with `advance` every `every` items (and the rest at the end):
    per-item work stays cheap."""
    count = 0
    for item in items:
        yield item
        count += 1
        if count == every:
            advance(count)
            count = 0
    if count:
        advance(count)
