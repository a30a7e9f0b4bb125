"""Scan-and-advance over HTTP against a real `lims serve` (uvicorn) vs a bare SQLite commit.

Prints p50/p99 of:
  http  POST /api/v1/products/{din}/steps/receive with the scanned bag label, through one
        keep-alive connection (http.client) to a uvicorn server in its own process:
        authentication, validation, COI check, step data, guards, state change, step
        record, audit events, one durable commit, and the JSON answer;
  bare  one UPDATE + one INSERT committed on SQLite in WAL mode with synchronous=FULL,
measured in the same run on the same disk (half before the HTTP run, half after), and
their ratio (goal: ≤ 10 at p50).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

# Run as a script, this file's folder comes first on the path, and this file's name would
# hide the standard library's `http` package from httpx: put the project root there instead.
_HERE = Path(__file__).resolve().parent
while str(_HERE) in sys.path:
    sys.path.remove(str(_HERE))
sys.path.insert(0, str(_HERE.parent))
# Throw-away demo accounts and data, served too: development (the default is production).
os.environ["LIMS_ENVIRONMENT"] = "development"

from http.client import HTTPConnection  # after the path fix: this file is http.py

import httpx
from sqlmodel import Session

from bench.report import Figure, own_audit_files
from bench.transition import bare_commits, prepare, report, scan_figures
from lims import demo_data as data
from lims.db import make_engine
from lims.demo import PASSWORDS
from lims.migrate import upgrade
from lims.services.common import utcnow

WARM_UP = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepared_database(url: str, n: int) -> list[tuple[str, str, int]]:
    """Migrate, seed and take `n` products to `collected` as bench/transition.py does."""
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        ready = prepare(session, n)
    engine.dispose()
    return ready


def serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`lims serve` in its own process on the bench database."""
    script = Path(sys.executable).with_name("lims")
    command = ([str(script)] if script.exists()
               else [sys.executable, "-c", "from lims.cli import app; app()"])
    env = {**os.environ, "LIMS_DATABASE_URL": url}
    with log.open("wb") as out:
        server = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the server did not answer within 60 s")


def http_advances(base: str, ready: list[tuple[str, str, int]]) -> list[float]:
    values = data.receive(utcnow() - timedelta(minutes=60))
    with httpx.Client(base_url=base, timeout=30) as client:
        login = client.post("/api/v1/auth/login",
                            json={"username": "tech1", "password": PASSWORDS["tech1"]})
        login.raise_for_status()
        token = login.json()["access_token"]
    # The standard library's client on one keep-alive connection: the figure is the
    # server's, not the time a heavier client spends building and parsing requests.
    address = urlsplit(base)
    connection = HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    samples = []
    try:
        for din, scan, version in ready:
            body = json.dumps({"scan": scan, "values": values, "expected_version": version})
            start = time.perf_counter()
            connection.request("POST", f"/api/v1/products/{din}/steps/receive", body, headers)
            response = connection.getresponse()
            text = response.read()
            samples.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"{din}: {response.status} {text[:500]!r}")
    finally:
        connection.close()
    return samples[WARM_UP:]


def figures(argv: list[str] | None = None) -> list[Figure]:
    """Measure, print the lines main() prints, and return the figures (bench/report.py)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=150, help="advances to time")
    args = parser.parse_args([] if argv is None else argv)
    own_audit_files("http")  # the server inherits them
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        ready = prepared_database(url, args.n + WARM_UP)
        port = free_port()
        server = serve(url, port, Path(tmp) / "server.log")
        # Half the bare commits before the HTTP run and half after, so that a change in the
        # machine's load during the run weighs on both sides of the ratio alike.
        bare = bare_commits(Path(tmp) / "bare-before.db", args.n // 2)
        try:
            http = http_advances(f"http://127.0.0.1:{port}", ready)
        finally:
            server.terminate()
            server.wait(timeout=30)
        bare += bare_commits(Path(tmp) / "bare-after.db", args.n - args.n // 2)
    report("http scan-and-advance", http, bare, setting="uvicorn + SQLite, same disk", goal=10)
    return scan_figures("scan-and-advance (HTTP)", http, bare, goal=10)


def main() -> None:
    figures(sys.argv[1:])


if __name__ == "__main__":
    main()
