"""A served worker with fewer request threads than requests at once still answers them all.

A request's role check (a dependency) and its route run on two of the worker's threads.
Were the check's database transaction left open across that hop, it would hold SQLite's
write lock (or a pooled connection) while waiting for a thread held by requests waiting
for that lock: with 2 threads and 16 requests at once, nobody would move until the
database's 30-second timeout (as before lims.api.deps.account_on_its_own). Ending the
session of a route that failed must not wait for those threads either (end_session_soon).

Nor may the check of a synchronous route's answer (FastAPI checks a returned model on
another thread, while the route's session still holds its transaction): OneThreadRoute
checks it on the route's own thread.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from lims.db import make_engine
from lims.demo import DemoRun
from tests.api.test_serve import free_port
from tests.factories import make_product

# The account (a role check with the database, then the route), and a product that does
# not exist (the same check, then a route that fails after reading: its session is ended
# after the answer), the worklist and a product's containers: routes returning models, which
# FastAPI checked on another thread while the session's transaction was open
# (lims.api.routing.OneThreadRoute).
PATHS = ("/auth/me", "/products/W000025999999", "/worklist", "/products/{din}/containers")


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
    engine = make_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        product, _ = make_product(DemoRun(session, say=lambda _m: None), until="received")
        din = product.din
    engine.dispose()
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
            path = PATHS[i % len(PATHS)].format(din=din)
            answer = httpx.get(base + path, headers=headers, timeout=60)
            return answer.status_code, time.monotonic() - began

        for _ in range(3):  # several bursts: a deadlock needs the threads taken in one order
            with ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(ask, range(48)))
            statuses = [status for status, _ in answers]
            assert statuses.count(200) == 36 and statuses.count(404) == 12, statuses
            assert max(seconds for _, seconds in answers) < 10  # nobody waited for a timeout
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_no_route_checks_its_answer_on_a_second_thread():
    """Every route of the application is a coroutine to FastAPI: a synchronous one was made
    a OneThreadRoute, which checks its answer on its own thread (a router made without
    `route_class=OneThreadRoute` fails here)."""
    from fastapi.routing import APIRoute

    from lims.app import create_app

    def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            included = getattr(route, "original_router", None)  # an included router
            if included is not None:
                yield from api_routes(included.routes)

    found = list(api_routes(create_app(jobs=False).routes))
    assert len(found) > 200  # the API's and the pages'
    for route in found:
        assert inspect.iscoroutinefunction(route.endpoint) or inspect.isgeneratorfunction(
            inspect.unwrap(route.endpoint)), route.path
