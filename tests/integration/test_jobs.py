"""The database-backed job runner: retries with back-off, stale claims, several runners at
once, inside `lims serve` (the application's lifespan) and from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from typer.testing import CliRunner

from lims.app import create_app
from lims.cli import app as cli
from lims.config import get_settings
from lims.db import get_engine
from lims.models import Job, Notification
from lims.services.common import user_by_name, utcnow
from lims.services.jobs import ClaimedJob, claim_next, enqueue, register_job_kind, run_due
from lims.services.notifications import stage_notification
from tests.conftest import TEST_URL
from tests.factories import seeded
from tests.mail_server import Inbox, free_port

ON_POSTGRES = TEST_URL.startswith("postgresql")
DONE: list[Any] = []  # what the test job kinds did, in order
FAILURES: list[tuple[str, datetime | None]] = []


def _tally(session: Session, job: ClaimedJob, now: datetime) -> None:
    if job.payload.get("fail"):
        raise RuntimeError(f"tally {job.payload['n']} cannot be counted")
    DONE.append(job.payload["n"])


def _tally_failed(session: Session, job: ClaimedJob, error: str,
                  retry_at: datetime | None) -> None:
    FAILURES.append((error, retry_at))


register_job_kind("test_tally", _tally, _tally_failed)


def _every_hour(session: Session, job: ClaimedJob, now: datetime) -> None:
    """Periodic work (audit checkpoints, expiry): each run queues the next one, committed
    with this run's completion."""
    DONE.append(now)
    enqueue(session, kind="test_every_hour", payload={}, run_at=now + timedelta(hours=1))


register_job_kind("test_every_hour", _every_hour)


@pytest.fixture(autouse=True)
def _clean_tallies() -> None:
    DONE.clear()
    FAILURES.clear()


def queue(session: Session, n: int, *, fail: bool = False, max_attempts: int = 3,
          at: datetime | None = None) -> Job:
    job = enqueue(session, kind="test_tally", payload={"n": n, "fail": fail},
                  run_at=at, max_attempts=max_attempts)
    session.commit()
    return job


def job_row(session: Session, job_id: int | None) -> Job:
    session.commit()
    job = session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job


def test_a_due_job_runs_once_and_is_done(session):
    job = queue(session, 1)

    summary = run_due(session, now=utcnow(), worker="w1")

    assert summary.done == 1 and DONE == [1]
    row = job_row(session, job.id)
    assert row.status == "done" and row.attempts == 1 and row.locked_by is None
    assert run_due(session, now=utcnow() + timedelta(hours=1)).ran == 0


def test_a_job_not_yet_due_waits(session):
    t0 = utcnow()
    queue(session, 1, at=t0 + timedelta(minutes=5))

    assert run_due(session, now=t0).ran == 0
    assert run_due(session, now=t0 + timedelta(minutes=5)).done == 1


def test_a_failing_job_is_retried_with_exponential_back_off_then_fails(session):
    t0 = utcnow()
    job = queue(session, 7, fail=True, max_attempts=3, at=t0)

    run_due(session, now=t0)
    first = job_row(session, job.id).run_at
    run_due(session, now=first)
    second = job_row(session, job.id).run_at
    run_due(session, now=second)
    last = job_row(session, job.id)

    assert first == t0 + timedelta(seconds=60)  # base
    assert second == first + timedelta(seconds=120)  # twice the base
    assert last.status == "failed" and last.attempts == 3
    assert last.last_error == "tally 7 cannot be counted"
    assert [retry for _, retry in FAILURES] == [first, second, None]
    assert run_due(session, now=t0 + timedelta(days=1)).ran == 0


def test_the_back_off_is_capped(session, fresh_settings, monkeypatch):
    monkeypatch.setenv("LIMS_JOBS_RETRY_MAX_SECONDS", "90")
    get_settings.cache_clear()
    t0 = utcnow()
    job = queue(session, 1, fail=True, max_attempts=5, at=t0)

    run_due(session, now=t0)
    run_due(session, now=t0 + timedelta(seconds=60))

    assert job_row(session, job.id).run_at == t0 + timedelta(seconds=150)  # 60 + min(120, 90)


def test_a_job_left_running_by_a_stopped_worker_is_taken_up_again(session):
    # given a worker that claimed a job and then died before running it
    t0 = utcnow()
    job = queue(session, 3, at=t0)
    assert claim_next(session, worker="dead-worker", now=t0) is not None
    # then another runner leaves it alone while the claim is fresh
    assert run_due(session, now=t0 + timedelta(minutes=14), worker="w2").ran == 0
    # and takes it up once the claim is older than the stale limit (15 min)
    assert run_due(session, now=t0 + timedelta(minutes=16), worker="w2").done == 1
    assert DONE == [3] and job_row(session, job.id).attempts == 2


def test_periodic_work_queues_its_next_run_with_its_own_completion(session):
    t0 = utcnow()
    enqueue(session, kind="test_every_hour", payload={}, run_at=t0)
    session.commit()

    for minutes in (0, 30, 60, 90, 120):
        run_due(session, now=t0 + timedelta(minutes=minutes))

    ran_at = list(DONE)
    assert ran_at == [t0, t0 + timedelta(hours=1), t0 + timedelta(hours=2)]
    statuses = sorted(j.status for j in session.exec(select(Job)))
    assert statuses == ["done", "done", "done", "queued"]


def test_jobs_of_a_kind_no_runner_knows_are_left_alone(session):
    session.add(Job(kind="kind_of_a_later_release", payload={}))
    session.commit()

    assert run_due(session, now=utcnow()).ran == 0
    assert session.exec(select(Job)).one().status == "queued"


def _stage_notifications(session: Session, count: int) -> list[int]:
    seeded(session)
    qa = user_by_name(session, "qa1")
    ids = [stage_notification(session, recipient=qa, subject=f"test {n}", body="body").id
           for n in range(count)]
    session.commit()
    return [i for i in ids if i is not None]


def test_two_runners_at_once_never_deliver_one_notification_twice(
        engine: Engine, session, mail_server: Inbox):
    # given twenty notifications and a mail server slow enough for the runners to overlap
    ids = _stage_notifications(session, 20)
    mail_server.delay_seconds = 0.05
    now = utcnow()
    errors: list[BaseException] = []

    def runner(name: str) -> None:
        try:
            with Session(engine, expire_on_commit=False) as own:
                run_due(own, now=now, worker=name)
        except BaseException as error:  # reported below
            errors.append(error)

    # when two runners work the queue at the same time
    threads = [threading.Thread(target=runner, args=(f"runner-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    # then every notification was delivered exactly once
    assert errors == []
    assert sorted(mail_server.references()) == sorted(f"notification-{i}" for i in ids)
    session.commit()
    assert {n.status for n in session.exec(select(Notification))} == {"sent"}


@pytest.mark.skipif(not ON_POSTGRES, reason="SKIP LOCKED is PostgreSQL's; SQLite serialises")
def test_a_job_locked_by_one_runner_is_skipped_not_waited_for_by_another(engine: Engine,
                                                                          session):
    # given two due jobs, the first locked by a runner that is still claiming it
    first, second = queue(session, 1), queue(session, 2)
    with Session(engine) as holder:
        holder.exec(select(Job).where(Job.id == first.id).with_for_update()).one()
        # when a second runner claims
        with Session(engine) as other:
            other.exec(text("SET lock_timeout = '5s'"))  # a runner that waits fails the test
            other.commit()
            started = time.monotonic()
            claimed = claim_next(other, worker="w2", now=utcnow())
            waited = time.monotonic() - started
    # then it took the other job at once
    assert claimed is not None and claimed.id == second.id and waited < 5


def test_the_job_runner_starts_with_the_application_and_delivers(
        engine: Engine, session, mail_server: Inbox, monkeypatch):
    monkeypatch.setenv("LIMS_JOBS_INTERVAL_SECONDS", "0.2")
    get_settings.cache_clear()
    [note_id] = _stage_notifications(session, 1)

    with TestClient(create_app(engine, web=False, jobs=True)) as client:
        runner = client.app.state.job_runner  # type: ignore[attr-defined]
        assert runner is not None and runner.running
        deadline = time.monotonic() + 30
        while not mail_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not runner.running  # stopped with the application

    assert mail_server.references() == [f"notification-{note_id}"]
    with Session(engine) as fresh:
        assert fresh.get(Notification, note_id).status == "sent"


def test_the_job_runner_can_be_disabled(engine: Engine, session, mail_server: Inbox,
                                        monkeypatch):
    monkeypatch.setenv("LIMS_JOBS_ENABLED", "false")
    monkeypatch.setenv("LIMS_JOBS_INTERVAL_SECONDS", "0.1")
    get_settings.cache_clear()
    _stage_notifications(session, 1)

    with TestClient(create_app(engine, web=False)) as client:
        assert client.app.state.job_runner is None  # type: ignore[attr-defined]
        time.sleep(0.5)

    assert mail_server.messages == []


@pytest.mark.skipif(ON_POSTGRES, reason="the command line opens the configured SQLite file")
def test_jobs_run_once_delivers_and_jobs_list_shows_the_state(
        engine: Engine, session, mail_server: Inbox, monkeypatch):
    _stage_notifications(session, 2)
    queue(session, 5, fail=True, max_attempts=2)
    monkeypatch.setenv("LIMS_DATABASE_URL", str(engine.url))
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        ran = CliRunner().invoke(cli, ["jobs", "run-once"])
        listed = CliRunner().invoke(cli, ["jobs", "list"])
        failed_only = CliRunner().invoke(cli, ["jobs", "list", "--status", "done"])
    finally:
        get_engine().dispose()
        get_engine.cache_clear()

    assert ran.exit_code == 0, ran.output
    assert "3 job(s) run: 2 done, 1 to retry, 0 failed" in ran.output
    assert len(mail_server.messages) == 2
    assert listed.exit_code == 0 and "last error: tally 5 cannot be counted" in listed.output
    assert listed.output.count("deliver_notification") == 2
    assert "test_tally" not in failed_only.output


@pytest.mark.skipif(ON_POSTGRES, reason="the server process opens the SQLite file by URL")
def test_lims_serve_delivers_notifications_in_the_background(engine: Engine, session,
                                                             mail_server: Inbox):
    # given a queued notification and `lims serve` with its job runner on
    [note_id] = _stage_notifications(session, 1)
    session.close()
    env = {**os.environ, "LIMS_DATABASE_URL": str(engine.url), "LIMS_JOBS_ENABLED": "true",
           "LIMS_JOBS_INTERVAL_SECONDS": "0.5"}
    server = subprocess.Popen(
        [sys.executable, "-c", "from lims.cli import app; app()", "serve", "--port",
         str(free_port())], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # when the server runs, then the mail arrives without anyone running a job by hand
        deadline = time.monotonic() + 60
        while not mail_server.messages and time.monotonic() < deadline:
            assert server.poll() is None, "lims serve stopped"
            time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert mail_server.references() == [f"notification-{note_id}"]
