"""Deployment as IT runs it (docs/deploy.md): `lims serve --workers N` on PostgreSQL and
refused on SQLite, and a backup by pg_dump restored with pg_restore that `lims audit
verify` passes, and fails once a row of the restored copy is changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from lims.audit_checkpoints import read_lines
from lims.config import get_settings
from lims.db import make_engine
from lims.demo import PASSWORDS
from tests.conftest import TEST_URL, _migrate
from tests.factories import make_product, seeded
from tests.integration.deployment_support import (
    fresh_database,
    libpq_url,
    lims,
    lims_env,
    serving,
)
from tests.production import PRODUCTION_DATABASE_URL, PRODUCTION_ENV

on_postgresql = pytest.mark.skipif(not TEST_URL.startswith("postgresql"),
                                   reason="several workers and pg_dump need PostgreSQL")
# PostgreSQL's client tools (Debian: postgresql-client), as docs/deploy.md uses them.
PG_DUMP = shutil.which("pg_dump") or "/usr/bin/pg_dump"
PG_RESTORE = shutil.which("pg_restore") or "/usr/bin/pg_restore"


def seeded_database(url: str) -> None:
    """Migrated and seeded with the demo accounts, as `lims init` and `lims seed --demo`."""
    engine = make_engine(url)
    try:
        _migrate(engine)
        with Session(engine, expire_on_commit=False) as session:
            seeded(session)
    finally:
        engine.dispose()


# --- several workers --------------------------------------------------------------------

def test_several_workers_on_sqlite_are_refused_before_anything_listens(tmp_path: Path):
    # when the lab asks for two workers on a SQLite file
    done = lims(["serve", "--workers", "2"], lims_env(f"sqlite:///{tmp_path / 'lims.db'}"),
                tmp_path)

    # then it is refused, saying why and what to do, and nothing was created
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--workers 2 needs PostgreSQL" in done.stderr
    assert "one process write at a time" in done.stderr
    assert "serving on" not in done.stdout
    assert not (tmp_path / "lims.db").exists()


def test_several_workers_refuse_weak_production_settings(tmp_path: Path):
    # given production settings with the development keys left in
    env = lims_env("postgresql+psycopg://nobody@127.0.0.1:1/none", LIMS_ENVIRONMENT="production")
    for name in ("LIMS_SECRET_KEY", "LIMS_AUDIT_KEY", "LIMS_PASSWORD_HASHING"):
        env.pop(name, None)

    # when two workers are asked for, then the server refuses before it starts any
    done = lims(["serve", "--workers", "2"], env, tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "refuses to start in production" in done.stderr
    assert "LIMS_SECRET_KEY" in done.stderr and "LIMS_AUDIT_KEY" in done.stderr


def test_a_proxy_trusted_from_anywhere_is_refused_in_production(tmp_path: Path):
    # given production settings that are strong in every way
    keys = [lims(["secret-key"], lims_env(""), tmp_path).stdout.strip() for _ in range(2)]
    signing_key = tmp_path / "signing-key.pem"
    lab = {name: value for name, value in PRODUCTION_ENV.items() if name != "LIMS_DATABASE_URL"}
    env = lims_env(PRODUCTION_DATABASE_URL, LIMS_ENVIRONMENT="production",
                   **lab, LIMS_SECRET_KEY=keys[0], LIMS_AUDIT_KEY=keys[1],
                   LIMS_PASSWORD_HASHING="standard",
                   LIMS_AUDIT_SIGNING_KEY_FILE=str(signing_key))
    assert lims(["audit", "keygen"], env, tmp_path).returncode == 0

    # when X-Forwarded-For would be believed from any address
    done = lims(["serve", "--forwarded-allow-ips", "*"], env, tmp_path)

    # then it is refused: any client could choose the address sign-in throttling counts
    assert done.returncode == 2, done.stdout + done.stderr
    assert "sign-in throttling" in done.stderr


@on_postgresql
def test_two_workers_on_postgresql_serve_sign_in_and_run_each_job_once(tmp_path: Path):
    with fresh_database("serve") as url:
        # given a seeded PostgreSQL database and `lims serve --workers 2` with the background
        # jobs running in both workers, often
        seeded_database(url)
        env = lims_env(url, LIMS_JOBS_ENABLED="true", LIMS_JOBS_INTERVAL_SECONDS="0.2")
        log = tmp_path / "server.log"
        with serving(["--workers", "2"], env, log) as base:
            # when a technician signs in over HTTP and reads the worklist, again and again
            login = httpx.post(f"{base}/api/v1/auth/login",
                               json={"username": "tech1", "password": PASSWORDS["tech1"]})
            assert login.status_code == 200, login.text
            bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
            answers = [httpx.get(f"{base}/api/v1/worklist", headers=bearer) for _ in range(8)]
            me = httpx.get(f"{base}/api/v1/auth/me", headers=bearer)
            page = httpx.get(f"{base}/login")
            checkpoint_job = _wait_for_checkpoint_job(url)

        # then every request was answered, whichever worker took it
        assert [a.status_code for a in answers] == [200] * 8
        assert me.json()["username"] == "tech1"
        assert page.status_code == 200
        # and two worker processes served
        started = [line for line in log.read_text().splitlines()
                   if "Started server process" in line]
        assert len(started) == 2, log.read_text()
        # and the scheduled checkpoint, polled by both job runners, ran exactly once
        assert checkpoint_job == [("done", 1)]
        reasons = [json.loads(line)["reason"]
                   for line in read_lines(Path(get_settings().audit_checkpoint_path))]
        assert reasons.count("scheduled") == 1


def _wait_for_checkpoint_job(url: str) -> list[tuple[str, int]]:
    """The scheduled checkpoint's runs (status, attempts) once one is done, and after the
    job runners have had time to take it again if they could."""
    engine = make_engine(url)
    query = text("SELECT status, attempts FROM job WHERE kind = 'audit_checkpoint' "
                 "AND status <> 'queued' ORDER BY id")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if any(row.status == "done" for row in conn.execute(query)):
                    break
            time.sleep(0.2)
        time.sleep(1.0)  # five more polls of each runner
        with engine.connect() as conn:
            return [(row.status, row.attempts) for row in conn.execute(query)]
    finally:
        engine.dispose()


# --- backup and restore -----------------------------------------------------------------

@on_postgresql
def test_a_backup_restored_into_another_database_passes_audit_verify(tmp_path: Path):
    with fresh_database("live") as live, fresh_database("restored") as restored:
        # given a lab database with a product administered, made through the services
        engine = make_engine(live)
        try:
            _migrate(engine)
            with Session(engine, expire_on_commit=False) as session:
                run = seeded(session)
                product, _ = make_product(run, arm="CD133", until="administered")
        finally:
            engine.dispose()

        # when it is backed up with pg_dump and restored into a second database
        dump = tmp_path / "lims.dump"
        _run([PG_DUMP, "--format=custom", f"--file={dump}", libpq_url(live)])
        _run([PG_RESTORE, "--exit-on-error", "--no-owner",
              f"--dbname={libpq_url(restored)}", str(dump)])

        # then `lims audit verify` on the restored copy passes, with the same audit key and
        # the audit checkpoint file kept beside the backup
        intact = lims(["audit", "verify"], lims_env(restored), tmp_path)
        assert intact.returncode == 0, intact.stdout + intact.stderr
        assert "audit chain intact" in intact.stdout
        assert _events(restored) == _events(live) > 0

        # when one row of the restored copy is changed behind the system's back
        copy = make_engine(restored)
        try:
            with copy.begin() as conn:
                conn.execute(text("UPDATE product SET state = 'released' WHERE din = :din"),
                             {"din": product.din})
        finally:
            copy.dispose()

        # then verify fails and names the product
        broken = lims(["audit", "verify"], lims_env(restored), tmp_path)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert f"BROKEN: product {product.din}: state" in broken.stdout


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (command[0], done.stdout, done.stderr)


def _events(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())
    finally:
        engine.dispose()

