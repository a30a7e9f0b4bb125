"""What the deployment tests share: fresh PostgreSQL databases of their own (a backup is
restored into a whole database, and `lims serve` connects to one by URL), the real `lims`
command and a server process that is always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from tests.conftest import TEST_URL

LIMS = Path(sys.executable).parent / "lims"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def fresh_database(purpose: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on TEST_URL's server (its URL), dropped afterwards
    even if a connection to it is still open."""
    name = f"lims_{purpose}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(TEST_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore read it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def lims(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command line, in a process of its own."""
    command = [str(LIMS)] if LIMS.exists() else [sys.executable, "-c",
                                                 "from lims.cli import app; app()"]
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def lims_env(database_url: str, **more: str) -> dict[str, str]:
    """This process's environment (development, the test's audit checkpoint file and keys)
    pointed at `database_url`."""
    return {**os.environ, "LIMS_DATABASE_URL": database_url, "LIMS_ENVIRONMENT": "development",
            **more}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(args: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """`lims serve ARGS` until the block ends: its base URL once it answers. Its process
    group is ended afterwards, so no worker outlives the test."""
    port = free_port()
    command = [str(LIMS)] if LIMS.exists() else [sys.executable, "-c",
                                                 "from lims.cli import app; app()"]
    with log.open("wb") as out:
        server = subprocess.Popen([*command, "serve", "--port", str(port), *args], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, server, log)
        yield base
    finally:
        server.terminate()  # uvicorn's supervisor stops its workers on SIGTERM
        try:
            server.wait(timeout=30)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)


def _wait_for(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"lims serve stopped:\n{log.read_text()}")
        try:
            httpx.get(f"{base}/api/v1/openapi.json", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"lims serve did not answer in 60 s:\n{log.read_text()}")
