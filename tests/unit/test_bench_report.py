"""bench/report.py: one table of every bench figure, and the verdict `make bench` exits with."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bench.report import Figure, Outcome, main, plain_table, print_table, summary

SERVICE = Figure("scan-and-advance (service) p50", 2.25, "ms", 0.30, "≤ 4× bare commit", False)
RATIO = Figure("throughput ratio to pgbench -N", 0.2, "×", None, "≥ 0.15", True)
P99 = Figure("scan-and-advance (service) p99", 3.5, "ms", 0.7, "", None)


def test_the_plain_table_aligns_every_figure_with_its_baseline_goal_and_verdict():
    lines = plain_table([SERVICE, RATIO, P99]).splitlines()

    assert lines[0].split() == ["figure", "value", "baseline", "÷", "baseline", "goal", "met"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split("  ")[0] == "scan-and-advance (service) p50"
    assert [c.strip() for c in lines[2].split("  ") if c.strip()][1:] == [
        "2.25 ms", "0.30 ms", "7.50×", "≤ 4× bare commit", "no"]
    assert [c.strip() for c in lines[3].split("  ") if c.strip()][1:] == [
        "0.20×", "—", "—", "≥ 0.15", "yes"]
    assert lines[4].rstrip().endswith("—") and "5.00×" in lines[4]
    assert len({line.index("ms") for line in lines[2::2]}) == 1  # values right-aligned


def test_on_a_terminal_it_is_a_rich_table_and_off_one_plain_text():
    terminal = io.StringIO()
    print_table([SERVICE, RATIO], Console(file=terminal, force_terminal=True, width=140))
    log = io.StringIO()
    print_table([SERVICE, RATIO], Console(file=log, force_terminal=False))

    assert "┃" in terminal.getvalue() and "7.50×" in terminal.getvalue()
    assert log.getvalue() == plain_table([SERVICE, RATIO]) + "\n"


def test_a_missed_goal_or_a_failed_bench_fails_the_run_a_skipped_one_does_not():
    met = Outcome(figures=[RATIO, P99], skipped=[("bench.scale", "PostgreSQL does not answer")])
    missed = Outcome(figures=[SERVICE, RATIO])
    failed = Outcome(figures=[RATIO], failed=[("bench.http", "RuntimeError: the server stopped")])

    assert met.ok and not missed.ok and not failed.ok
    assert summary(met) == ["2 figure(s); 1 of 1 goal(s) met",
                            "skipped bench.scale: PostgreSQL does not answer"]
    assert summary(missed)[1] == ("goal missed: scan-and-advance (service) p50: 2.25 ms "
                                  "(goal ≤ 4× bare commit)")
    assert summary(failed)[-1] == "FAILED bench.http: RuntimeError: the server stopped"


def test_an_unknown_bench_name_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["no-such-bench"])
    assert stop.value.code == 2
    assert "no bench named no-such-bench" in capsys.readouterr().err
