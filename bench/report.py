"""The common result of every bench: figures `make bench` prints as one table."""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, bench/ would shadow the stdlib `http` and our `labels` package.
_HERE = str(Path(__file__).resolve().parent)
while _HERE in sys.path:
    sys.path.remove(_HERE)
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Figure:
    name: str        # e.g. "scan-and-advance (service) p50"
    value: float     # measured
    unit: str        # "ms", "×", "s", "/s"
    baseline: float | None  # the same-run baseline, or None
    goal: str        # in words, e.g. "≤ 4× bare commit"
    met: bool | None # None when there is no goal


# --- the runner: `python -m bench.report` (what `make bench` runs) --------------------------

# Every bench, in the order run; each module exposes figures(args) -> list[Figure] and may
# print its own lines as it measures.
BENCHES = ("transition", "http", "labels", "batch_record", "audit_verify", "throughput",
           "scale")
# What a bench needs beyond this checkout: it is skipped, with a line saying why, without.
NEEDS: dict[str, tuple[str, ...]] = {"throughput": ("postgresql", "pgbench"),
                                     "scale": ("postgresql",)}
POSTGRES = "postgresql://postgres@127.0.0.1:5432"  # BENCH_POSTGRES overrides, as for the benches


def own_audit_files(name: str) -> None:
    """Signed audit checkpoints and their key in /tmp, for one bench database: never the
    working directory's (`make demo`'s), and never another bench's trail, whose
    checkpoints would not match this one (the settings are read again)."""
    from lims.config import get_settings

    os.environ["LIMS_AUDIT_CHECKPOINT_PATH"] = f"/tmp/lims-bench-{name}.checkpoints.jsonl"
    os.environ["LIMS_AUDIT_SIGNING_KEY_FILE"] = f"/tmp/lims-bench-{name}.signing-key.pem"
    Path(os.environ["LIMS_AUDIT_CHECKPOINT_PATH"]).unlink(missing_ok=True)
    get_settings.cache_clear()


class Unavailable(Exception):
    """Raised by a bench's figures() when something it needs is missing: skipped, not failed."""


@dataclass
class Outcome:
    """What running every bench gave: the figures, and the benches skipped or failed."""

    figures: list[Figure] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def missed(self) -> list[Figure]:
        return [f for f in self.figures if f.met is False]

    @property
    def ok(self) -> bool:
        return not self.missed and not self.failed


def missing(name: str) -> str | None:
    """Why bench `name` cannot run here (PostgreSQL not answering, no pgbench), or None."""
    needs = NEEDS.get(name, ())
    if "pgbench" in needs and shutil.which("pgbench") is None:
        return "pgbench is not installed (Debian: postgresql-client)"
    if "postgresql" in needs:
        server = os.environ.get("BENCH_POSTGRES", POSTGRES)
        try:
            import psycopg

            psycopg.connect(f"{server}/postgres", connect_timeout=3).close()
        except Exception as error:  # any reason it cannot be reached
            return f"PostgreSQL at {server.rsplit('@', 1)[-1]} does not answer ({error})"
    return None


def bench_args(name: str, scale: str) -> list[str]:
    """The arguments each bench is run with: the scale bench's size (small by default)."""
    return ["--full"] if name == "scale" and scale == "full" else []


def reference_loop() -> float:
    """Seconds a fixed pure-Python loop takes (10 million additions, median of five): how
    fast this machine runs Python now. Virtual machines' speed varies (2× within one
    session was seen), and the goals in milliseconds are absolute. It shows a slower
    processor, not every kind of contention: in one run it read 0.7 s while every other
    figure was 3× its usual (pgbench too), so read it with the baselines."""
    times = []
    for _ in range(5):
        start, total = time.perf_counter(), 0
        for i in range(10_000_000):
            total += i
        times.append(time.perf_counter() - start)
    return sorted(times)[2]


def run_all(names: Sequence[str], scale: str, say: Callable[[str], None] = print) -> Outcome:
    outcome = Outcome()
    outcome.figures.append(Figure("machine: reference Python loop, before", reference_loop(),
                                  "s", None, "", None))
    for name in names:
        module_name = f"bench.{name}"
        why = missing(name)
        if why is None:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as error:
                if error.name != module_name:
                    raise
                why = f"{module_name} does not exist yet"
        if why is not None:
            say(f"== {module_name}: skipped: {why}")
            outcome.skipped.append((module_name, why))
            continue
        given = bench_args(name, scale)
        say(f"== {module_name}" + (f" ({' '.join(given)})" if given else ""))
        start = time.monotonic()
        try:
            found = module.figures(given)
        except Unavailable as error:
            say(f"== {module_name}: skipped: {error}")
            outcome.skipped.append((module_name, str(error)))
            continue
        except SystemExit as stop:  # a bench's own refusal: a message is a missing need
            if isinstance(stop.code, str):
                say(f"== {module_name}: skipped: {stop.code}")
                outcome.skipped.append((module_name, stop.code))
            elif stop.code:
                outcome.failed.append((module_name, f"exited with {stop.code}"))
            continue
        except Exception as error:
            traceback.print_exc()
            outcome.failed.append((module_name, f"{type(error).__name__}: {error}"))
            continue
        say(f"== {module_name}: {len(found)} figure(s) in {time.monotonic() - start:.0f} s")
        outcome.figures.extend(found)
    outcome.figures.append(Figure("machine: reference Python loop, after", reference_loop(),
                                  "s", None, "", None))
    return outcome


# --- the table ------------------------------------------------------------------------------

def number(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}"


def with_unit(value: float, unit: str) -> str:
    if unit in ("", "×", "x"):
        return f"{number(value)}{unit}"
    return f"{number(value)} {unit}"


HEADER = ("figure", "value", "baseline", "÷ baseline", "goal", "met")


def rows(figures: Sequence[Figure]) -> list[tuple[str, ...]]:
    """Each figure as the table's text: its baseline in the same unit (a ratio's baseline
    is the quantity it divides by, shown as a bare number), and value ÷ baseline."""
    out: list[tuple[str, ...]] = []
    for f in figures:
        if f.baseline is None:
            baseline = ratio = "—"
        elif f.unit in ("×", "x"):
            baseline, ratio = number(f.baseline), "—"
        else:
            baseline = with_unit(f.baseline, f.unit)
            ratio = f"{number(f.value / f.baseline)}×" if f.baseline else "—"
        met = "—" if f.met is None else "yes" if f.met else "no"
        out.append((f.name, with_unit(f.value, f.unit), baseline, ratio, f.goal or "—", met))
    return out


def plain_table(figures: Sequence[Figure]) -> str:
    lines = [HEADER, *rows(figures)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    right = (False, True, True, True, False, False)
    text = ["  ".join(cell.rjust(w) if r else cell.ljust(w)
                      for cell, w, r in zip(line, widths, right, strict=True)).rstrip()
            for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def print_table(figures: Sequence[Figure], console: Console | None = None) -> None:
    """A rich table on a terminal, plain aligned text otherwise (a log, a pipe, CI)."""
    console = console if console is not None else Console()
    if not console.is_terminal:
        print(plain_table(figures), file=console.file, flush=True)
        return
    table = Table(title="bench figures (each ratio against a baseline of the same run)")
    for heading, right in zip(HEADER, (False, True, True, True, False, False), strict=True):
        table.add_column(heading, justify="right" if right else "left")
    for line in rows(figures):
        *cells, met = line
        style = {"yes": "green", "no": "bold red"}.get(met, "")
        table.add_row(*cells, f"[{style}]{met}[/]" if style else met)
    console.print(table)


def summary(outcome: Outcome) -> list[str]:
    goals = [f for f in outcome.figures if f.met is not None]
    lines = [f"{len(outcome.figures)} figure(s); {len(goals) - len(outcome.missed)} of "
             f"{len(goals)} goal(s) met"]
    lines += [f"goal missed: {f.name}: {with_unit(f.value, f.unit)} (goal {f.goal})"
              for f in outcome.missed]
    lines += [f"skipped {name}: {why}" for name, why in outcome.skipped]
    lines += [f"FAILED {name}: {why}" for name, why in outcome.failed]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every bench and print one table of its "
                                                 "figures; exit 1 when a goal is missed.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benches to run (default: all of {', '.join(BENCHES)})")
    parser.add_argument("--scale", choices=("small", "full"),
                        default="full" if os.environ.get("SCALE") == "full" else "small",
                        help="the scale bench's size (default: small; SCALE=full)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHES]
    if unknown:
        parser.error(f"no bench named {', '.join(unknown)} (benches: {', '.join(BENCHES)})")
    outcome = run_all(args.names or BENCHES, args.scale)
    print()
    print_table(outcome.figures)
    for line in summary(outcome):
        print(line)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
