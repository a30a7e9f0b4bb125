"""Fixtures: a fresh, migrated database per test (SQLite file, or a PostgreSQL schema).

Set LIMS_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test to run the
integration tests on PostgreSQL; `make test` does both.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from lims.db import make_engine
from lims.migrate import alembic_config

TEST_URL = os.environ.get("LIMS_TEST_DATABASE_URL", "")
# A real local SMTP server for the notification tests (fixtures mail_server and the like).
pytest_plugins = ("tests.mail_server",)
# Throw-away databases: argon2 at its lowest cost (seeding hashes seven passwords per test).
# Verification reads the cost from each hash, so nothing else changes.
os.environ.setdefault("LIMS_PASSWORD_HASHING", "fast-for-tests")
# No background job runner in the apps the tests start: a test runs jobs when it means to
# (tests/integration/test_notifications.py starts one on purpose).
os.environ.setdefault("LIMS_JOBS_ENABLED", "false")


def _migrate(engine: Engine) -> None:
    from alembic import command

    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    _migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated, empty database of its own for each test."""
    if TEST_URL.startswith("postgresql"):
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(TEST_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng = make_engine(TEST_URL, schema=schema)
        _migrate(eng)
        yield eng
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        return
    path = tmp_path / "lims.db"
    shutil.copy(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()
