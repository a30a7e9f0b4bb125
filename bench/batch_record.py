"""How long a batch record takes to render: `python -m bench.batch_record` (or as a script).

Prints the median of several renders of the full example CD133 record
(`labels.batch_record_example`: six steps, QC with a correction and a late
entry, lineage, deviation, signatures, chart) and of the BM-MNC one, and the
content hash alone. Goal: a full CD133 batch record in <= 200 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

if __name__ == "__main__" and not __package__:
    # Run as a script, this file's directory would shadow the `labels` package it measures.
    # The project's root instead: `bench.report` is imported from there.
    sys.path.remove(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.report import Figure
from labels.batch_record import content_hash, render_batch_record
from labels.batch_record_example import example_record

GOAL_MS = 200.0


def median_ms(work: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall-clock and CPU milliseconds of `work`, after one warm-up run.

    The CPU figure is what the render itself costs; on a busy machine the wall
    figure also counts the time other processes held the processor.
    """
    work()  # warm-up: font registration and imports are not what we measure
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def figures(args: list[str] | None = None) -> list[Figure]:
    """Measure, print the lines main() prints, and return the figures (bench/report.py)."""
    cd133, bm_mnc = example_record("CD133"), example_record("BM-MNC")
    pages = render_batch_record(cd133).count(b"/Type /Page\n")
    rows = [
        (f"CD133 batch record ({pages} pages)", median_ms(lambda: render_batch_record(cd133), 21)),
        ("BM-MNC batch record", median_ms(lambda: render_batch_record(bm_mnc), 21)),
        ("content hash alone", median_ms(lambda: content_hash(cd133), 200)),
    ]
    print(f"{'median of 21 runs':32} {'wall ms':>9} {'CPU ms':>9}")
    for name, (wall, cpu) in rows:
        print(f"{name:32} {wall:9.2f} {cpu:9.2f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"goal: a full CD133 record <= {GOAL_MS:.0f} ms; load average {load:.1f} "
          f"on {os.cpu_count()} CPUs")
    (_, (cd133_wall, cd133_cpu)), (_, (bm_wall, _)), (_, (hash_wall, _)) = rows
    return [
        Figure(f"CD133 batch record ({pages} pages)", cd133_wall, "ms", None,
               f"≤ {GOAL_MS:.0f} ms", cd133_wall <= GOAL_MS),
        Figure("CD133 batch record, CPU time", cd133_cpu, "ms", None, "", None),
        Figure("BM-MNC batch record", bm_wall, "ms", None, "", None),
        Figure("batch record content hash", hash_wall, "ms", None, "", None),
    ]


def main() -> int:
    figures()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
