"""Durable scan-and-advance through the service vs a bare SQLite commit, in one run.

Prints p50/p99 of:
  service  perform_step("receive") with a scanned container label: COI check, step data,
           guards, state change, step record, audit events, one durable commit;
  bare     one UPDATE + one INSERT committed on SQLite in WAL mode with synchronous=FULL,
and their ratio (goal: ≤ 4 at p50).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# Run as a script, bench/ would shadow the stdlib `http` and our `labels` package.
_HERE = str(Path(__file__).resolve().parent)
while _HERE in sys.path:
    sys.path.remove(_HERE)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Throw-away demo accounts and data: development, whatever the shell says (the LIMS
# defaults to production, which refuses them).
os.environ["LIMS_ENVIRONMENT"] = "development"

from sqlmodel import Session

from bench.report import Figure, own_audit_files
from lims import demo_data as data
from lims.db import make_engine
from lims.demo import DemoRun
from lims.migrate import upgrade
from lims.services.common import utcnow
from lims.services.harvests import schedule_harvest
from lims.services.queries import container_scan_text, containers
from lims.services.steps import perform_step
from tests.factories import make_patient, seeded, wristband_of


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bare_commits(path: Path, n: int) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE product (id INTEGER PRIMARY KEY, state TEXT, version INTEGER)")
    conn.execute("CREATE TABLE event (id INTEGER PRIMARY KEY, product_id INTEGER, at TEXT, "
                 "payload TEXT)")
    conn.executemany("INSERT INTO product VALUES (?, 'collected', 1)", [(i,) for i in range(n)])
    samples = []
    for i in range(n):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE product SET state='received', version=version+1 WHERE id=? "
                     "AND version=1", (i,))
        conn.execute("INSERT INTO event (product_id, at, payload) VALUES (?, ?, ?)",
                     (i, time.time(), "collected->received"))
        conn.execute("COMMIT")
        samples.append(time.perf_counter() - start)
    conn.close()
    return samples


def prepare(session: Session, n: int, run: DemoRun | None = None) -> list[tuple[str, str, int]]:
    run = run or seeded(session)
    t0 = utcnow() - timedelta(hours=1)
    ready = []
    for _ in range(n):
        patient = make_patient(run, "BM-MNC")
        product = schedule_harvest(session, actor=run.user("tech1"),
                                   subject_id=patient.subject_id, now=t0 - timedelta(minutes=30))
        run.label_all(product, at=t0 - timedelta(minutes=30))  # the collection label
        product = run.step(product, "harvest", "marrow_bag", data.harvest(t0), t0, witness="doc1",
                           wristband=wristband_of(patient))
        bag = next(c for c in containers(session, product.din) if c.kind == "marrow_bag")
        ready.append((product.din, container_scan_text(product, bag), product.version))
    return ready


def service_advances(url: str, n: int) -> list[float]:
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        ready = prepare(session, n)
        actor = seeded(session).user("tech1")
        values = data.receive(utcnow() - timedelta(minutes=60))
        samples = []
        for din, scan, version in ready:
            start = time.perf_counter()
            perform_step(session, actor=actor, din=din, step="receive", scan=scan, values=values,
                         expected_version=version)
            samples.append(time.perf_counter() - start)
    engine.dispose()
    return samples


def figures(argv: list[str] | None = None) -> list[Figure]:
    """Measure, print the lines main() prints, and return the figures (bench/report.py)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=150, help="advances to time")
    args = parser.parse_args([] if argv is None else argv)
    own_audit_files("transition")
    with tempfile.TemporaryDirectory() as tmp:
        # Half the bare commits before and half after, so that a change in the machine's
        # load during the run weighs on both sides of the ratio alike.
        bare = bare_commits(Path(tmp) / "bare-before.db", args.n // 2)
        service = service_advances(f"sqlite:///{tmp}/bench.db", args.n)
        bare += bare_commits(Path(tmp) / "bare-after.db", args.n - args.n // 2)
    report("service scan-and-advance", service, bare, setting="SQLite, same disk", goal=4)
    return scan_figures("scan-and-advance (service)", service, bare, goal=4)


def main() -> None:
    figures(sys.argv[1:])


def report(name: str, samples: list[float], bare: list[float], *, setting: str,
           goal: float) -> None:
    """p50/p99 of `samples` and of the bare commits, and their ratio against the goal."""
    print(f"{'path':<30}{'p50 ms':>10}{'p99 ms':>10}   (n={len(samples)}, {setting})")
    for label, values in ((name, samples), ("bare WAL FULL update+insert", bare)):
        print(f"{label:<30}{statistics.median(values) * 1e3:>10.3f}"
              f"{percentile(values, 99) * 1e3:>10.3f}")
    ratio50 = statistics.median(samples) / statistics.median(bare)
    ratio99 = percentile(samples, 99) / percentile(bare, 99)
    print(f"{'ratio ' + name.split()[0] + '/bare':<30}{ratio50:>10.2f}{ratio99:>10.2f}"
          f"   (goal: ≤ {goal:g} at p50)")


def scan_figures(name: str, samples: list[float], bare: list[float], *,
                 goal: float) -> list[Figure]:
    """p50 (against the goal) and p99 of `samples`, each beside the bare commit's."""
    p50, bare50 = statistics.median(samples) * 1e3, statistics.median(bare) * 1e3
    p99, bare99 = percentile(samples, 99) * 1e3, percentile(bare, 99) * 1e3
    return [Figure(f"{name} p50", p50, "ms", bare50, f"≤ {goal:g}× bare commit",
                   p50 <= goal * bare50),
            Figure(f"{name} p99", p99, "ms", bare99, "", None)]

if __name__ == "__main__":
    main()
