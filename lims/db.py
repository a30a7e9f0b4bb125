"""Engine and session factory: SQLite (WAL, synchronous=FULL, immediate transactions)
or PostgreSQL."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session

from lims.config import get_settings


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    """An engine for `url`; `schema` confines a PostgreSQL engine to one schema (tests)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    settings = get_settings()
    # JSON columns read with orjson: the QA queue and the product page read thousands of
    # step values and findings, and the standard library's decoder was a quarter of the
    # queue's CPU. The server has checked each value is JSON (no NaN, as orjson requires);
    # SQLite, which stores whatever text was written, keeps the standard decoder.
    engine = create_engine(url, pool_size=settings.db_pool_size,
                           max_overflow=settings.db_max_overflow,
                           pool_timeout=settings.db_pool_timeout_seconds,
                           connect_args=connect_args, json_deserializer=orjson.loads)
    event.listen(engine, "checkout", _closed_by_the_server)
    return engine


def _closed_by_the_server(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled PostgreSQL connection the server has closed (a restart, a
    terminated backend, an idle timeout): the pool then opens a new one, and the request
    never sees the dead one.

    Instead of the pool's pre-ping, a `SELECT 1` round trip before every request (a tenth
    of a scan-and-advance's round trips): between transactions the server sends nothing
    on a live connection, so a socket with something to read holds the server's goodbye
    (its FATAL notice, or the end of the stream)."""
    if dbapi_conn.closed or dbapi_conn.broken:
        raise DisconnectionError("the connection is closed")
    readable, _, _ = select.select([dbapi_conn.fileno()], [], [], 0)
    if readable:
        raise DisconnectionError("the server closed the connection")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction starts (see "begin").
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: two writers queue instead of one of them
        # failing with "database is locked" when it upgrades a read transaction.
        # On the driver's own connection: this starts every transaction (lims.prepared).
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that rolls back unless the service commits explicitly."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()
