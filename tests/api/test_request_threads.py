"""A served worker with fewer request threads than requests at once still answers them all.

A request's role check (a dependency) and its route run on two of the worker's threads.
Were the check's database transaction left open across that hop, it would hold SQLite's
write lock (or a pooled connection) while waiting for a thread held by requests waiting
for that lock: with 2 threads and 16 requests at once, nobody would move until the
database's 30-second timeout (as before lims.api.deps.account_on_its_own). Ending the
session of a route that failed must not wait for those threads either (end_session_soon).

Still open (config.py, threads_per_worker): a synchronous route that returns a model has
it checked on another thread while its session's transaction is still open.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.api.test_serve import free_port

# The account (a role check with the database, then the route), and a product that does
# not exist (the same check, then a route that fails after reading: its session is ended
# after the answer).
PATHS = ("/auth/me", "/products/W000025999999")


def _serve(database: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{database}",
           "LIMS_THREADS_PER_WORKER": "2", "LIMS_JOBS_ENABLED": "false"}
    return subprocess.Popen(
        [sys.executable, "-c", "from lims.cli import app; app()", "serve", "--port", str(port),
         "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sixteen_requests_at_once_on_two_threads_are_all_answered(seeded_template: Path,
                                                                    tmp_path: Path):
    database = tmp_path / "lims.db"
    shutil.copy(seeded_template, database)
    port = free_port()
    server = _serve(database, port)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/openapi.json")
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        token = httpx.post(f"{base}/auth/login", json={
            "username": "tech1", "password": "demo-tech1-pass"}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def ask(i: int) -> tuple[int, float]:
            began = time.monotonic()
            answer = httpx.get(base + PATHS[i % len(PATHS)], headers=headers, timeout=60)
            return answer.status_code, time.monotonic() - began

        for _ in range(3):  # several bursts: a deadlock needs the threads taken in one order
            with ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(ask, range(48)))
            statuses = [status for status, _ in answers]
            assert statuses.count(200) == 24 and statuses.count(404) == 24, statuses
            assert max(seconds for _, seconds in answers) < 10  # nobody waited for a timeout
    finally:
        server.terminate()
        server.wait(timeout=30)
