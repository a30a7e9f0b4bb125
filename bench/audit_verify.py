"""Verifying 1,000,000 audit events vs reading and hashing them with hashlib alone, one run.

Prints the time of:
  verify   the keyed chain recomputed (lims.audit.verify_chain: every HMAC, link and the
           head) and the RFC 9162 Merkle tree of all events built (lims.audit_merkle:
           leaf hashes of the canonical events, root);
  bare     the same rows read with sqlite3 and each hashed once with hashlib.sha256;
and their ratio (goal: ≤ 3); then, on its own line, the record reconciliation and state
replay (lims.services.verification.reconcile_records) over the same database (it reads
the events about records, so its time follows the lab work, not the refused scans).

The database (SQLite, under /tmp, reused while it has the events asked for) holds real
lab work — products run through the services to release, so reconciliation has real
records to check — padded with refused scans (an unreadable label scanned at receipt:
an audit event and its COI record, as lims.services.identity writes them), chained
under the audit key, bulk-inserted.

    python -m bench.audit_verify [--events 1000000] [--products 20] [--db PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
while _HERE in sys.path:
    sys.path.remove(_HERE)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session

from bench.report import Figure, own_audit_files
from lims.audit import event_hash, verify_chain
from lims.audit_actions import AuditAction
from lims.audit_keys import AuditKey, current_key
from lims.audit_merkle import tree_head, verify_and_build
from lims.db import make_engine
from lims.migrate import upgrade
from lims.progress import progress
from lims.services.verification import reconcile_records
from tests.factories import make_product, seeded

GOAL = 3.0  # verify within this many times the bare read and hash
COLUMNS = ("seq, at, user_id, username, action, entity, entity_id, field, old_value, "
           "new_value, reason, prev_hash, hash, key_id")


def sqlite_time(at: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite (naive, microseconds)."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def lab_work(url: str, products: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        run = seeded(session)
        for i in range(products):
            make_product(run, arm=("BM-MNC", "CD133")[i % 2], until="released")
    engine.dispose()


def refused_scans(path: Path, total: int) -> None:
    """Pad the trail to `total` events with refused unreadable scans, correctly chained."""
    conn = sqlite3.connect(path, isolation_level=None)
    (last, prev), = conn.execute("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")
    user_id, = conn.execute("SELECT id FROM user WHERE username = 'tech1'").fetchone()
    key, start = current_key(), datetime.now(UTC) - timedelta(days=400)
    conn.execute("BEGIN IMMEDIATE")
    with progress("refused scans added", total - last, unit="events") as advance:
        for first in range(last + 1, total + 1, 50_000):
            prev = _padding(conn, first, min(first + 50_000, total + 1), prev, user_id, key,
                            start)
            advance(min(50_000, total + 1 - first))
    conn.execute("UPDATE audit_head SET last_seq = ?, last_hash = ? WHERE id = 1", (total, prev))
    conn.execute("COMMIT")
    conn.close()


def _padding(conn: sqlite3.Connection, first: int, end: int, prev: str, user_id: int,
             key: AuditKey, start: datetime) -> str:
    """Refused scans first..end-1 chained after `prev`; returns the last one's hash."""
    events, cois = [], []
    for seq in range(first, end):
        at = start + timedelta(seconds=seq, microseconds=seq % 997)
        row: dict[str, Any] = {
            "seq": seq, "at": at, "user_id": user_id, "username": "tech1",
            "action": AuditAction.COI_MISMATCH.value, "entity": "product",
            "entity_id": "-", "field": "scan", "old_value": "container label",
            "new_value": f"]C1unreadable-{seq}",
            "reason": "coi_bad_scan: the scan could not be read; scan the label again"}
        digest = event_hash(prev, row, key)
        events.append((*row.values(), prev, digest, key.key_id))
        events[-1] = (seq, sqlite_time(at), *events[-1][2:])
        prev = digest
        cois.append(("receive", "coi_bad_scan", "the scan could not be read",
                     row["new_value"], "container label", user_id, sqlite_time(at)))
    conn.executemany(f"INSERT INTO audit_event ({COLUMNS}) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
    conn.executemany("INSERT INTO coi_event (product_id, step, code, detail, scanned, "
                     "expected, user_id, at) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?)", cois)
    return prev


def prepare(path: Path, events: int, products: int) -> None:
    """The database with `events` events, made once and reused while it has them."""
    if path.exists():
        conn = sqlite3.connect(path)
        try:
            have = conn.execute("SELECT last_seq FROM audit_head").fetchone()[0]
        finally:
            conn.close()
        if have == events:
            print(f"reusing {path} ({events:,} events)")
            return
        path.unlink()
    Path(f"{path}.checkpoints.jsonl").unlink(missing_ok=True)
    start = time.perf_counter()
    lab_work(f"sqlite:///{path}", products)
    real = time.perf_counter() - start
    refused_scans(path, events)
    print(f"populated {path}: {products} products through the services ({real:.0f} s), "
          f"padded to {events:,} events ({time.perf_counter() - start - real:.0f} s)")


def lab_size(path: Path) -> tuple[int, int]:
    """Products, and events that are not the padding's refused scans."""
    conn = sqlite3.connect(path)
    try:
        products, = conn.execute("SELECT count(*) FROM product").fetchone()
        work, = conn.execute("SELECT count(*) FROM audit_event WHERE action != ?",
                             (AuditAction.COI_MISMATCH.value,)).fetchone()
    finally:
        conn.close()
    return products, work


def bare(path: Path) -> float:
    """Read every event's row with sqlite3 and hash it once with hashlib."""
    start = time.perf_counter()
    conn = sqlite3.connect(path)
    sha256 = hashlib.sha256
    for row in conn.execute(f"SELECT {COLUMNS} FROM audit_event ORDER BY seq"):
        sha256("\x1f".join(map(str, row)).encode()).digest()
    conn.close()
    return time.perf_counter() - start


def verify(session: Session) -> tuple[float, int]:
    """The keyed chain verified and the Merkle tree of the same events built (one read)."""
    start = time.perf_counter()
    chain, tree = verify_and_build(session)
    assert chain.ok and tree is not None, chain.problem
    tree.get_root()
    session.rollback()
    return time.perf_counter() - start, tree.get_size()


def apart(session: Session) -> tuple[float, float]:
    """The same two as separate reads: the chain alone, the tree alone."""
    start = time.perf_counter()
    assert verify_chain(session).ok
    middle = time.perf_counter()
    tree_head(session.connection())
    session.rollback()
    return middle - start, time.perf_counter() - middle


def figures(argv: list[str] | None = None) -> list[Figure]:
    """Measure, print the lines main() prints, and return the figures (bench/report.py)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=20,
                        help="products run through the services to release first")
    parser.add_argument("--db", type=Path, default=Path("/tmp/lims-bench-audit.db"))
    args = parser.parse_args([] if argv is None else argv)
    # The bench's own checkpoint file and signing key (releases write checkpoints), and
    # the cheapest password hashing for its throw-away users.
    own_audit_files("audit-verify")
    os.environ.setdefault("LIMS_PASSWORD_HASHING", "fast-for-tests")
    os.environ["LIMS_ENVIRONMENT"] = "development"  # demo data (the default is production)
    prepare(args.db, args.events, args.products)
    engine = make_engine(f"sqlite:///{args.db}")
    # Half the bare reads before and half after, so that a change in the machine's load
    # during the run weighs on both sides of the ratio alike.
    base = bare(args.db) / 2
    with Session(engine) as session:
        both, size = verify(session)
        base += bare(args.db) / 2
        chain, tree = apart(session)
        start = time.perf_counter()
        problems = reconcile_records(session)
        reconcile = time.perf_counter() - start
    engine.dispose()
    report(size, both, chain, tree, base, reconcile, problems, lab_size(args.db))
    return [Figure(f"audit verify: keyed chain + Merkle tree ({size:,} events)", both, "s",
                   base, f"≤ {GOAL:g}× sqlite3 read + hashlib", both <= GOAL * base),
            Figure("audit reconciliation + state replay", reconcile, "s", None,
                   "records match", not problems)]


def main() -> None:
    figures(sys.argv[1:])


def report(size: int, both: float, chain: float, tree: float, base: float, reconcile: float,
           problems: list[Any], lab: tuple[int, int]) -> None:
    print(f"{'path':<44}{'seconds':>10}   ({size:,} events, SQLite file)")
    print(f"{'verify: keyed chain + Merkle tree':<44}{both:>10.2f}   (one read; apart: "
          f"chain {chain:.2f} + tree {tree:.2f})")
    print(f"{'bare: sqlite3 read + hashlib.sha256':<44}{base:>10.2f}")
    print(f"{'ratio verify/bare':<44}{both / base:>10.2f}   (goal: ≤ {GOAL:g})")
    verdict = "records match" if not problems else f"{len(problems)} problem(s)"
    print(f"{'reconciliation + state replay':<44}{reconcile:>10.2f}   ({verdict}; "
          f"{lab[0]} products, {lab[1]:,} events of lab work, the rest refused scans)")


if __name__ == "__main__":
    main()
