"""lims.progress: a rich bar on a terminal, plain lines anywhere else (a pipe, a log)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from lims.progress import progress, quiet, tracked


def test_off_a_terminal_it_prints_a_plain_line_for_each_tenth_and_one_at_the_end():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)

    with progress("audit chain", 1000, unit="events", console=console, least=0) as advance:
        for _ in range(40):
            advance(25)

    lines = out.getvalue().splitlines()
    assert [re.sub(r", \d+\.\d s$", "", line) for line in lines] == [
        *(f"audit chain: {n * 100:,} of 1,000 events ({n * 10}%)" for n in range(1, 11)),
        "audit chain: 1,000 of 1,000 events (100%)"]
    assert "\x1b[" not in out.getvalue()  # no terminal codes in a log


def test_off_a_terminal_quick_work_prints_only_its_end_and_an_unknown_total_its_count():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)

    with progress("audit chain", 1000, unit="events", console=console) as advance:
        advance(1000)  # within a second: no line per tenth
    with progress("events read", None, unit="events", console=console) as advance:
        for _ in tracked(range(2500), advance, every=1000):
            pass

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"audit chain: 1,000 of 1,000 events \(100%\), \d+\.\d s", lines[0])
    assert re.fullmatch(r"events read: 2,500 events, \d+\.\d s", lines[1])


def test_off_a_terminal_a_long_phase_says_where_it_is_every_so_many_seconds():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)

    with progress("events read", None, console=console, every=0) as advance:
        advance(3)
        advance(4)

    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == [
        "events read: 3", "events read: 7", "events read: 7"]


def test_on_a_terminal_it_draws_a_rich_bar_that_ends_full():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)

    with progress("audit chain", 1000, unit="events", console=console) as advance:
        for _ in range(4):
            advance(250)
    with progress("events read", None, unit="events", console=console) as advance:
        advance(30)

    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "\x1b[" in out.getvalue()  # drawn with terminal codes, not plain lines
    assert re.search(r"audit chain .*━.* 1000/1000 events 100%", shown)
    assert re.search(r"events read .* 30/30 events 100%", shown)
    assert "audit chain: " not in shown


def test_quiet_counts_nothing_and_prints_nothing(capsys):
    with quiet("audit chain", 10, unit="events") as advance:
        advance(10)

    assert capsys.readouterr() == ("", "")
