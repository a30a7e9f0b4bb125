"""Least privilege on PostgreSQL: the application's role runs the process but can neither
rewrite the audit trail nor touch the triggers; the owner migrates. TRUNCATE is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import Engine, exc, make_url, text
from sqlmodel import Session

from lims.db import make_engine
from lims.db_roles import app_role_problems, grant_app_role
from lims.services.verification import verify_all
from tests.conftest import TEST_URL, _migrate
from tests.factories import make_product, seeded

on_postgresql = pytest.mark.skipif(not TEST_URL.startswith("postgresql"),
                                   reason="database roles exist on PostgreSQL only")
INSUFFICIENT_PRIVILEGE = "42501"
# What an attacker holding the application's credentials would try on the audit trail.
FORBIDDEN = [
    "UPDATE audit_event SET new_value = 'released' WHERE seq = 1",
    "DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)",
    "TRUNCATE audit_event",
    "TRUNCATE audit_head",
    "DELETE FROM audit_head",
    "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (2, 0, 'x')",
    "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
    "ALTER TABLE audit_event DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_event_append_only ON audit_event",
    "DROP TRIGGER audit_event_no_truncate ON audit_event",
    "DROP FUNCTION audit_event_append_only() CASCADE",
    "DROP TABLE audit_event",
    "ALTER TABLE audit_event ADD COLUMN note text",
    "CREATE TABLE audit_event_copy (seq int)",
    "DELETE FROM product",
    "UPDATE signature SET meaning = 'Rejected'",
    "DELETE FROM signature",
    "UPDATE coi_event SET detail = ''",
    "UPDATE alembic_version SET version_num = 'aac0be5559fe'",
]


def refused_code(engine: Engine, statement: str) -> str:
    with pytest.raises(exc.DBAPIError) as refused, engine.begin() as conn:
        conn.execute(text(statement))
    return str(getattr(refused.value.orig, "sqlstate", ""))


@on_postgresql
def test_the_application_role_processes_a_product_and_keeps_the_chain_whole(app_engine):
    # given the application connected as its own role
    with Session(app_engine, expire_on_commit=False) as session:
        # when it seeds, enrols, schedules and processes a product to release
        run = seeded(session)
        product, _ = make_product(run, arm="BM-MNC", until="released")

        # then every write went through and the trail verifies
        assert product.state == "released"
        session.close()
        report = verify_all(session)
        assert report.ok, report.lines
        with app_engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "lims_app_test"


@on_postgresql
@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_application_role_cannot_rewrite_the_audit_trail_or_its_triggers(
        app_engine, statement):
    # given an audit trail with events in it
    with Session(app_engine) as session:
        seeded(session)

    # when the application's role tries to rewrite it, then the database refuses for lack of
    # privilege (not merely because a trigger fired)
    assert refused_code(app_engine, statement) == INSUFFICIENT_PRIVILEGE


@on_postgresql
def test_the_owner_cannot_truncate_the_audit_trail_either(engine):
    with Session(engine) as session:
        seeded(session)

    for table in ("audit_event", "audit_head"):
        with pytest.raises(exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table}"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() > 0


@on_postgresql
def test_the_owner_migrates_a_new_schema_and_the_application_role_cannot(app_role):
    # given an empty schema the application role may use but not create in
    schema = f"t_{uuid.uuid4().hex[:12]}"
    owner = make_engine(TEST_URL)
    with owner.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {app_role}'))
    as_owner = make_engine(TEST_URL, schema=schema)
    as_app = make_engine(make_url(TEST_URL).set(username=app_role)
                         .render_as_string(hide_password=False), schema=schema)
    try:
        # when the application role migrates, then it is refused
        with pytest.raises(exc.ProgrammingError, match="permission denied"):
            _migrate(as_app)
        # when the owner migrates and grants, then the application role has no problem left
        _migrate(as_owner)
        with as_owner.begin() as conn:
            grant_app_role(conn, app_role)
            assert app_role_problems(conn, app_role) == []
            assert app_role_problems(conn, make_url(TEST_URL).username or "") != []
    finally:
        as_app.dispose()
        as_owner.dispose()
        with owner.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        owner.dispose()


def lims_db(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_MIGRATION_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-c", "from lims.cli import app; app()", "db", *args],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@on_postgresql
def test_lims_db_grants_the_app_role_and_refuses_a_superuser(engine, app_role):
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    url = f"{TEST_URL}?options=-csearch_path%3D{schema}"

    granted = lims_db("grant-app-role", app_role, url=url)
    checked = lims_db("check-app-role", app_role, url=url)
    superuser = lims_db("grant-app-role", "postgres", url=url)

    assert granted.returncode == 0, granted.stderr
    assert "cannot update, delete or truncate audit events" in checked.stdout
    assert superuser.returncode == 1 and "superuser" in superuser.stderr


def test_lims_db_says_roles_are_a_postgresql_matter_on_sqlite(tmp_path):
    done = lims_db("grant-app-role", "lims_app", url=f"sqlite:///{tmp_path / 'lims.db'}")

    assert done.returncode == 1 and "PostgreSQL only" in done.stderr
