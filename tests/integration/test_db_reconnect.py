"""A pooled PostgreSQL connection the server closed is replaced before anyone uses it, and
a live one is kept (lims.db checks the socket at checkout instead of a SELECT 1)."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from lims.models import User
from tests.factories import seeded


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return int(pid)


def _terminate(engine: Engine, pid: int) -> None:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                            (pid,)).fetchone() is not None:
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.02)


def test_the_pool_replaces_a_connection_the_server_ended(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to end a connection")
    with Session(engine) as session:
        seeded(session)
    first = _backend(engine)
    assert _backend(engine) == first  # a live connection is reused, not replaced
    _terminate(engine, first)
    # The request after a database restart or a terminated backend works: no error, and
    # on a new connection.
    with Session(engine) as session:
        assert session.exec(select(User)).first() is not None
    assert _backend(engine) != first
