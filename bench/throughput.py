"""Scan-and-advance throughput at 32 concurrent clients on PostgreSQL vs pgbench, in one run.

On the PostgreSQL server at --server (trust or password in the URL), the bench
  1. makes its own two databases, dropped at the end: BENCH_DB for the LIMS and
     BENCH_DB_pgbench for pgbench (never the test suite's `test`);
  2. runs `pgbench -i` on the scratch database, then `pgbench -c 32 -j 2 -N -T 15`
     (simple updates) against the same server: the baseline TPS;
  3. migrates and seeds the LIMS database and takes enough products to `collected` (waiting
     at `receive`) through the services, as bench/transition.py does;
  4. starts `lims serve --workers N` (default: the number of CPUs) on it, and lets 32
     clients, each on its own keep-alive connection with its own API token, scan and advance
     distinct products (POST /api/v1/products/{din}/steps/receive) for a fixed time;
  5. checks in the database that every transition answered 2xx happened exactly once (one
     step record, one state-change and one step-recorded audit event per product: 0 lost,
     0 doubled), that nothing answered otherwise happened, that no answer was a 5xx, and
     that the audit chain verifies.
It prints transitions per second, pgbench's TPS and their ratio (goal: ≥ 0.15).

The load generator (32 connections on one asyncio loop in this process, each request built
before the clock starts) runs on the same machine as the server and PostgreSQL, as pgbench
does: on a small machine it takes a share of the cores the figure is measured on.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a script, bench/ would shadow the stdlib `http` and our `labels` package.
_HERE = str(Path(__file__).resolve().parent)
while _HERE in sys.path:
    sys.path.remove(_HERE)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Throw-away demo accounts and data: development, whatever the shell says.
os.environ["LIMS_ENVIRONMENT"] = "development"
# The demo accounts' passwords hashed at the lowest cost: preparing the products checks
# witnesses' passwords thousands of times (the benched step itself checks none).
os.environ.setdefault("LIMS_PASSWORD_HASHING", "fast-for-tests")

import httpx
import psycopg
from sqlalchemy import text
from sqlmodel import Session

from bench.report import Figure, own_audit_files
from bench.transition import percentile, prepare
from lims import demo_data as data
from lims.audit import verify_chain
from lims.db import make_engine
from lims.demo import PASSWORDS, DemoRun
from lims.migrate import upgrade
from lims.models import Patient
from lims.services.common import utcnow
from tests.factories import seeded

SERVER = "postgresql://postgres@127.0.0.1:5432"
GOAL = 0.15


@dataclass
class Outcome:
    """What the clients saw: per product, the status answered (or the transport error)."""

    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Check:
    answered_ok: int
    lost: int  # answered 2xx, but not in the database
    doubled: int  # in the database more than once
    unanswered_done: int  # answered otherwise (or not at all), yet in the database
    server_errors: int  # 5xx answers
    chain_problem: str | None


# --- databases ---------------------------------------------------------------------------------

def _admin(server: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"{server}/postgres", autocommit=True)


def recreate(server: str, name: str) -> None:
    with _admin(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop(server: str, name: str) -> None:
    with _admin(server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlalchemy_url(server: str, name: str) -> str:
    return f"{server.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


# --- pgbench -----------------------------------------------------------------------------------

def pgbench_tps(server: str, database: str, clients: int, seconds: int) -> float:
    """`pgbench -i` then `pgbench -c clients -j 2 -N -T seconds` on `database`: its TPS."""
    if shutil.which("pgbench") is None:
        raise SystemExit("pgbench is not installed (Debian: postgresql-client)")
    parts = urlsplit(server)
    env = {**os.environ, **({"PGPASSWORD": parts.password} if parts.password else {})}
    where = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
             "-U", parts.username or "postgres"]
    subprocess.run(["pgbench", *where, "-i", "-q", database], env=env, check=True,
                   capture_output=True)
    run = subprocess.run(["pgbench", *where, "-c", str(clients), "-j", "2", "-N",
                          "-T", str(seconds), database], env=env, check=True,
                         capture_output=True, text=True)
    found = re.search(r"tps = ([\d.]+) \((?:without|excluding)", run.stdout)
    if found is None:
        raise RuntimeError(f"no TPS in pgbench's output:\n{run.stdout}\n{run.stderr}")
    return float(found.group(1))


# --- the products ------------------------------------------------------------------------------

class _Run(DemoRun):
    """The demo's runner, numbering patients safely when several processes enrol at once."""

    def enrol(self, arm: str, weight: float) -> Patient:
        # The next number is the count of patients + 1: one enrolment at a time (the lock
        # is released when the enrolment commits).
        self.session.execute(text("SELECT pg_advisory_xact_lock(7001000)"))
        return super().enrol(arm, weight)


def _prepare_part(url: str, n: int) -> list[tuple[str, str, int]]:
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return prepare(session, n, run=_Run(session, say=lambda _m: None))
    finally:
        engine.dispose()


def prepared(url: str, n: int, processes: int) -> list[tuple[str, str, int]]:
    """Migrate and seed, then `n` products at `collected`, prepared by `processes` at once."""
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seeded(session)  # once, before the processes
    engine.dispose()
    shares = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.starmap(_prepare_part, [(url, share) for share in shares if share])
    return list(itertools.chain.from_iterable(parts))


# --- the server and the clients ----------------------------------------------------------------

def serve(url: str, port: int, workers: int, log: Path,
          settings: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`lims serve --workers N` on the bench database, once every worker has started;
    `settings`: environment variables of the server's besides this process's."""
    script = Path(sys.executable).with_name("lims")
    command = ([str(script)] if script.exists()
               else [sys.executable, "-c", "from lims.cli import app; app()"])
    env = {**os.environ, **(settings or {}), "LIMS_DATABASE_URL": url}
    with log.open("wb") as out:
        server = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--workers", str(workers)],
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped: {log.read_text()[-2000:]}")
        if log.read_text(errors="replace").count("Application startup complete") >= workers:
            return server
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server's workers did not all start within 120 s")


def tokens(base: str, n: int) -> list[str]:
    """`n` API tokens of tech1, one per client."""
    found = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(n):
            login = client.post("/api/v1/auth/login",
                                json={"username": "tech1", "password": PASSWORDS["tech1"]})
            login.raise_for_status()
            found.append(login.json()["access_token"])
    return found


def advance_all(base: str, ready: list[tuple[str, str, int]], client_tokens: list[str],
                seconds: float) -> Outcome:
    """The clients: one keep-alive connection each, all on one asyncio loop in this process,
    each taking the next product not yet taken and advancing it until the time is up or
    the products run out. Every request is built before the clock starts."""
    return asyncio.run(_advance_all(base, ready, client_tokens, seconds))


def _request(host: str, din: str, scan: str, version: int, token: str,
             values: dict[str, Any]) -> bytes:
    body = json.dumps({"scan": scan, "values": values, "expected_version": version}).encode()
    head = (f"POST /api/v1/products/{din}/steps/receive HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response: its status and body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {name.strip().lower(): value.strip()
               for name, _, value in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = b""
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def _advance_all(base: str, ready: list[tuple[str, str, int]],
                       client_tokens: list[str], seconds: float) -> Outcome:
    # A lean load generator: the clients share the machine's cores with the server and
    # PostgreSQL (as pgbench, written in C, does), so what they spend per request is
    # taken from the figure. Threads with http.client spent about 2 ms of CPU per request.
    address = urlsplit(base)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    values = data.receive(utcnow() - timedelta(minutes=60))
    outcome = Outcome()
    queue = iter(ready)
    connections = [await asyncio.open_connection(host, port) for _ in client_tokens]
    for (reader, writer), token in zip(connections, client_tokens, strict=True):
        writer.write(f"GET /api/v1/auth/me HTTP/1.1\r\nHost: {host}\r\n"
                     f"Authorization: Bearer {token}\r\n\r\n".encode())
        await _answer(reader)  # connected and signed in before the start
    requests = {din: (scan, version) for din, scan, version in ready}
    deadline = time.monotonic() + seconds

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     token: str) -> None:
        while time.monotonic() < deadline:
            item = next(queue, None)
            if item is None:
                return
            din = item[0]
            scan, version = requests[din]
            request = _request(host, din, scan, version, token, values)
            began = time.perf_counter()
            try:
                writer.write(request)
                status, body = await _answer(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                outcome.errors[din] = f"{type(error).__name__}: {error}"
                return  # this connection is broken: its client stops
            outcome.latencies.append(time.perf_counter() - began)
            outcome.statuses[din] = status
            if status >= 300:
                outcome.errors[din] = f"{status} {body[:300]!r}"

    began = time.monotonic()
    await asyncio.gather(*(client(reader, writer, token)
                           for (reader, writer), token in zip(connections, client_tokens,
                                                              strict=True)))
    outcome.seconds = time.monotonic() - began
    for _, writer in connections:
        writer.close()
    return outcome


class WaitSampler:
    """What the bench database's server processes are doing, sampled every 20 ms while the
    clients run: where transitions wait (a row lock such as the audit head's, the WAL
    flush at commit, or the application between statements of an open transaction)."""

    QUERY = ("SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, ''), "
             "left(query, 60) FROM pg_stat_activity WHERE datname = %s AND pid <> "
             "pg_backend_pid() AND state <> 'idle'")

    def __init__(self, server: str, database: str) -> None:
        self.server, self.database = server, database
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        with psycopg.connect(f"{self.server}/{self.database}", autocommit=True) as conn:
            while not self._stop.wait(0.02):
                self.samples += 1
                for state, kind, event, query in conn.execute(self.QUERY, (self.database,)):
                    what = (f"{kind}:{event}" if state == "active"
                            else f"{state} (the application's turn) after {query.split()[0]}")
                    self.counts[what] += 1

    def lines(self, top: int = 8) -> list[str]:
        if not self.samples:
            return []
        return [f"    {count / self.samples:6.2f}  {what}"
                for what, count in self.counts.most_common(top)]


# --- the check ---------------------------------------------------------------------------------

_COUNTS = text("""
    SELECT p.din,
           (SELECT count(*) FROM steprecord r WHERE r.product_id = p.id AND r.step = 'receive'),
           (SELECT count(*) FROM audit_event e WHERE e.entity = 'product'
               AND e.entity_id = p.din AND e.action = 'state_changed' AND e.reason = 'receive'),
           (SELECT count(*) FROM audit_event e WHERE e.entity = 'step_record'
               AND e.action = 'step_recorded' AND e.field = 'receive'
               AND e.entity_id IN (SELECT CAST(r.id AS TEXT) FROM steprecord r
                                   WHERE r.product_id = p.id))
    FROM product p WHERE p.din = ANY(:dins)""")


def check(url: str, ready: list[tuple[str, str, int]], outcome: Outcome) -> Check:
    """Every 2xx transition happened exactly once; nothing else happened; the chain holds."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(_COUNTS, {"dins": [din for din, _, _ in ready]}).all()
            chain = verify_chain(session)
    finally:
        engine.dispose()
    done = {din: (records, changes, recorded) for din, records, changes, recorded in rows}
    ok = {din for din, status in outcome.statuses.items() if 200 <= status < 300}
    lost = sum(1 for din in ok if min(done[din]) == 0)  # a record or an event missing
    doubled = sum(1 for counts in done.values() if max(counts) > 1)
    unanswered_done = sum(1 for din, counts in done.items() if din not in ok and max(counts) > 0)
    return Check(answered_ok=len(ok), lost=lost, doubled=doubled,
                 unanswered_done=unanswered_done,
                 server_errors=sum(1 for status in outcome.statuses.values() if status >= 500),
                 chain_problem=chain.problem)


# --- the run -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    workers: int
    clients: int
    tps: float
    pgbench: float
    p50_ms: float
    p99_ms: float
    check: Check
    errors: dict[str, str]
    load_before: str
    load_after: str
    waits: list[str]
    server_cpu_ms: float  # the server's CPU time per transition (all its workers)
    in_flight: float  # requests the clients had open on average

    @property
    def ratio(self) -> float:
        return self.tps / self.pgbench

    @property
    def correct(self) -> bool:
        c = self.check
        return (c.lost == 0 and c.doubled == 0 and c.unanswered_done == 0
                and c.server_errors == 0 and c.chain_problem is None)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children now alive (the workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(argv: list[str] | None = None) -> Result:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.environ.get("BENCH_POSTGRES", SERVER),
                        help="PostgreSQL server URL without a database (default %(default)s)")
    parser.add_argument("--database", default="bench_throughput",
                        help="the bench's own database, made and dropped here")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--products", type=int, default=1920,
                        help="products prepared and advanced (default: 60 per client)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="at most this long, if the products last")
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args(argv)
    own_audit_files(args.database)  # the preparing processes and the server inherit them
    scratch = f"{args.database}_pgbench"
    url = sqlalchemy_url(args.server, args.database)
    try:
        recreate(args.server, scratch)
        print(f"pgbench -c {args.clients} -j 2 -N -T {args.pgbench_seconds} ...", flush=True)
        baseline = pgbench_tps(args.server, scratch, args.clients, args.pgbench_seconds)
        if not args.keep:
            drop(args.server, scratch)
        recreate(args.server, args.database)
        began = time.monotonic()
        ready = prepared(url, args.products, processes=max(os.cpu_count() or 1, 2))
        print(f"prepared {len(ready)} products at `collected` in "
              f"{time.monotonic() - began:.0f} s", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            port = _free_port()
            server = serve(url, port, args.workers, Path(tmp) / "server.log")
            try:
                base = f"http://127.0.0.1:{port}"
                client_tokens = tokens(base, args.clients)
                load_before, cpu_before = _load(), _cpu_seconds(server.pid)
                with WaitSampler(args.server, args.database) as waits:
                    outcome = advance_all(base, ready, client_tokens, args.seconds)
                load_after, cpu = _load(), _cpu_seconds(server.pid) - cpu_before
            finally:
                server.terminate()
                server.wait(timeout=60)
        ok = sum(1 for status in outcome.statuses.values() if 200 <= status < 300)
        result = Result(
            workers=args.workers, clients=args.clients, tps=ok / outcome.seconds,
            pgbench=baseline,
            p50_ms=statistics.median(outcome.latencies) * 1e3 if outcome.latencies else 0.0,
            p99_ms=percentile(outcome.latencies, 99) * 1e3 if outcome.latencies else 0.0,
            check=check(url, ready, outcome), errors=outcome.errors,
            load_before=load_before, load_after=load_after, waits=waits.lines(),
            server_cpu_ms=cpu * 1e3 / max(ok, 1),
            in_flight=sum(outcome.latencies) / outcome.seconds)
        return result
    finally:
        if not args.keep:
            drop(args.server, args.database)
            drop(args.server, scratch)


def figures(args: list[str] | None = None) -> list[Figure]:
    result = run(args)
    _print(result)
    return _figures(result)


def _figures(result: Result) -> list[Figure]:
    c = result.check
    wrong = c.lost + c.doubled + c.unanswered_done + c.server_errors
    return [
        Figure(f"scan-and-advance at {result.clients} clients (PostgreSQL, "
               f"{result.workers} workers)", result.tps, "/s", result.pgbench,
               f"≥ {GOAL:g}× pgbench -N TPS", result.ratio >= GOAL),
        Figure("throughput ratio to pgbench -N", result.ratio, "×", None, f"≥ {GOAL:g}",
               result.ratio >= GOAL),
        Figure("lost, doubled or 5xx transitions", float(wrong), "", None, "0",
               wrong == 0 and c.chain_problem is None),
    ]


def _print(result: Result) -> None:
    c = result.check
    print(f"lims serve --workers {result.workers}, {result.clients} clients "
          f"(load average before {result.load_before}, after {result.load_after})")
    print(f"  scan-and-advance        {result.tps:>10.1f} /s   p50 {result.p50_ms:.1f} ms, "
          f"p99 {result.p99_ms:.1f} ms")
    print(f"  server CPU per transition {result.server_cpu_ms:.1f} ms (all workers); requests "
          f"in flight on average {result.in_flight:.1f} of {result.clients}")
    print(f"  pgbench -N (same server){result.pgbench:>10.1f} TPS")
    print(f"  ratio                   {result.ratio:>10.3f}     (goal: ≥ {GOAL:g})")
    print(f"  answered 2xx {c.answered_ok}; lost {c.lost}; doubled {c.doubled}; done though "
          f"not answered 2xx {c.unanswered_done}; 5xx {c.server_errors}; audit chain "
          f"{'verifies' if c.chain_problem is None else 'BROKEN: ' + c.chain_problem}")
    if result.waits:
        print("  the database's sessions of the bench, on average per sample (what they wait on):")
        for line in result.waits:
            print(line)
    for din, error in list(result.errors.items())[:5]:
        print(f"  refused {din}: {error}")
    print(f"note: the {result.clients} clients (one asyncio process) run on this "
          f"machine ({os.cpu_count()} CPUs), sharing its cores with the server's workers and "
          "PostgreSQL: the load generator takes part of the CPU the figure is measured on.")


def main() -> None:
    result = run(sys.argv[1:])
    _print(result)
    if not result.correct:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
