"""The PostgreSQL test schemas are built by replaying one recorded migration
(tests/conftest.py): the replay must give exactly the schema Alembic gives."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text

from lims.db import make_engine
from tests.conftest import TEST_URL, _migrate, record_migration, replay_migration

pytestmark = pytest.mark.skipif(not TEST_URL.startswith("postgresql"),
                                reason="the replay is how PostgreSQL test schemas are built")

CATALOG = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable, "
               "coalesce(column_default, '') FROM information_schema.columns "
               "WHERE table_schema = :s",
    "indexes": "SELECT indexname, replace(indexdef, :s || '.', '') FROM pg_indexes "
               "WHERE schemaname = :s",
    "constraints": "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
                   "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                   "WHERE n.nspname = :s",
    "triggers": "SELECT t.tgname, replace(pg_get_triggerdef(t.oid), :s || '.', '') "
                "FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = r.relnamespace "
                "WHERE n.nspname = :s AND NOT t.tgisinternal",
    "functions": "SELECT p.proname, p.prosrc FROM pg_proc p "
                 "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s",
    "rows": "SELECT version_num, '' FROM alembic_version",
}


def _catalog(engine: Engine, schema: str) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {name: sorted(tuple(row) for row in conn.execute(text(sql), {"s": schema}))
                for name, sql in CATALOG.items()}


def test_the_replayed_migration_builds_the_schema_alembic_builds():
    admin = make_engine(TEST_URL)
    migrated, replayed = (f"r_{uuid.uuid4().hex[:12]}" for _ in range(2))
    with admin.begin() as conn:
        for schema in (migrated, replayed):
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        by_alembic = make_engine(TEST_URL, schema=migrated)
        _migrate(by_alembic)
        by_replay = make_engine(TEST_URL, schema=replayed)
        replay_migration(by_replay, record_migration(TEST_URL))
        expected = _catalog(by_alembic, migrated)
        got = _catalog(by_replay, replayed)
        by_alembic.dispose()
        by_replay.dispose()
        assert all(expected[name] for name in ("columns", "indexes", "constraints",
                                               "triggers", "functions", "rows"))
        for name in CATALOG:
            assert got[name] == expected[name], name
    finally:
        with admin.begin() as conn:
            for schema in (migrated, replayed):
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
