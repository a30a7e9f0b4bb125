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
from typing import Any

import pytest
from sqlalchemy import Engine, event, make_url, text
from sqlmodel import Session

from lims.db import make_engine
from lims.migrate import alembic_config

TEST_URL = os.environ.get("LIMS_TEST_DATABASE_URL", "")
# The environment defaults to production; the tests say development, and so does every
# `lims` process they start (each inherits os.environ).
os.environ["LIMS_ENVIRONMENT"] = "development"
# A real local SMTP server for the notification tests (fixtures mail_server and the like).
pytest_plugins = ("tests.mail_server",)
# Throw-away databases: argon2 at its lowest cost (seeding hashes seven passwords per test).
# Verification reads the cost from each hash, so nothing else changes.
os.environ.setdefault("LIMS_PASSWORD_HASHING", "fast-for-tests")
# No background job runner in the apps the tests start: a test runs jobs when it means to
# (tests/integration/test_notifications.py starts one on purpose).
os.environ.setdefault("LIMS_JOBS_ENABLED", "false")
# A test process builds thousands of applications: frozen objects would never be freed.
os.environ.setdefault("LIMS_GC_FREEZE_AT_START", "false")


def _migrate(engine: Engine) -> None:
    from alembic import command

    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@pytest.fixture(scope="session")
def postgres_migration() -> list[tuple[str, Any, bool]]:
    """Every statement Alembic sends while migrating an empty schema, recorded once per
    worker: replaying them builds a test's schema in a fraction of a migration's time
    (tests/integration/test_migration_replay.py checks that both give the same schema)."""
    return record_migration(TEST_URL)


def record_migration(url: str) -> list[tuple[str, Any, bool]]:
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(url, schema=schema)
    statements: list[tuple[str, Any, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               executemany: bool) -> None:
        statements.append((statement, parameters, executemany))

    event.listen(eng, "before_cursor_execute", record)
    try:
        _migrate(eng)
    finally:
        event.remove(eng, "before_cursor_execute", record)
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    if schema in "".join(statement for statement, _p, _m in statements):
        raise AssertionError("a migration named its own schema: it cannot be replayed")
    return statements


def replay_migration(engine: Engine, statements: list[tuple[str, Any, bool]]) -> None:
    """Send the recorded statements, as the driver received them, in one transaction."""
    with engine.begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters, executemany in statements:
            if executemany:
                cursor.executemany(statement, parameters)
            else:
                cursor.execute(statement, parameters)
        cursor.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    _migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path,
           sqlite_template: Path) -> Iterator[Engine]:
    """A migrated, empty database of its own for each test."""
    if TEST_URL.startswith("postgresql"):
        statements = request.getfixturevalue("postgres_migration")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(TEST_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng = make_engine(TEST_URL, schema=schema)
        replay_migration(eng, statements)
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


# PostgreSQL least privilege: the owner (TEST_URL's user) migrates each test's schema; the
# application's role, created here once with the server's trust authentication on
# 127.0.0.1, gets only the application's rights on it (lims/db_roles.py).
APP_ROLE = "lims_app_test"


@pytest.fixture(scope="session")
def app_role() -> str:
    admin = make_engine(TEST_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN; EXCEPTION WHEN "
                          "duplicate_object OR unique_violation THEN NULL; END $$"))
    admin.dispose()
    return APP_ROLE


@pytest.fixture
def app_engine(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Engine]:
    """The test's database as the application sees it: on PostgreSQL through the
    least-privileged application role, on SQLite (no roles) the same engine."""
    if not TEST_URL.startswith("postgresql"):
        yield engine
        return
    from lims.db_roles import grant_app_role

    role = request.getfixturevalue("app_role")
    with engine.begin() as conn:
        grant_app_role(conn, role)
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    eng = make_engine(make_url(TEST_URL).set(username=role, password=None)
                      .render_as_string(hide_password=False), schema=schema)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


def _audit_files_in(folder: Path, patch: pytest.MonkeyPatch) -> None:
    """The signed audit checkpoints and the signing key kept in `folder` (settings re-read)."""
    from lims.config import get_settings

    patch.setenv("LIMS_AUDIT_CHECKPOINT_PATH", str(folder / "checkpoints.jsonl"))
    patch.setenv("LIMS_AUDIT_SIGNING_KEY_FILE", str(folder / "signing-key.pem"))
    get_settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _no_audit_files_in_the_working_directory(tmp_path_factory: pytest.TempPathFactory
                                             ) -> Iterator[Path]:
    """Work done outside any test (a session's template database: releasing a product
    writes a signed checkpoint) keeps its checkpoints and key in a folder of the session's,
    never in the working directory, where `lims serve` on the demo database would find a
    checkpoint of another trail and report it rewritten."""
    from lims.config import get_settings

    folder = tmp_path_factory.mktemp("audit-session")
    with pytest.MonkeyPatch.context() as patch:
        _audit_files_in(folder, patch)
        yield folder
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _audit_checkpoints_of_its_own(tmp_path_factory: pytest.TempPathFactory,
                                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test keeps its signed audit checkpoints and its signing key in a folder of its
    own (the database is fresh per test, so another test's checkpoints would not match)."""
    from lims.config import get_settings

    folder = tmp_path_factory.mktemp("audit")
    _audit_files_in(folder, monkeypatch)
    yield folder
    get_settings.cache_clear()
