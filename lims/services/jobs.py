"""The database-backed job runner: background work queued in the caller's transaction.

A job is a row of `job`: queued → running → done, or back to queued with back-off after a
failure, and failed after its last attempt (its last error kept). Several processes may run
jobs at once: a claim is its own short transaction that marks the job running, and on
PostgreSQL it takes the row with SELECT … FOR UPDATE SKIP LOCKED, so two runners never take
the same job; on SQLite every transaction holds the write lock (BEGIN IMMEDIATE), which
serialises claims. A job left running by a worker that stopped is taken up again once its
lock is older than `jobs_stale_after_seconds`, so handlers must be idempotent (run at least
once, never lost).

A kind of job is registered once with `register_job_kind`; the runner calls its handler
with no transaction open (a handler that talks to another system holds no database lock
meanwhile) and commits what the handler staged together with the job's completion. So
periodic work (audit checkpoints, expiry) queues its next run from its handler: the next
run exists exactly when this one is done.
"""

from __future__ import annotations

import logging
import os
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, text
from sqlmodel import Session, col, select

from lims.config import Settings, get_settings
from lims.models import Job
from lims.services.common import aware

_log = logging.getLogger("lims.jobs")


class JobStatus(StrEnum):
    QUEUED = "queued"  # waiting for its run time
    RUNNING = "running"  # claimed by a worker
    DONE = "done"  # finished
    FAILED = "failed"  # gave up after its last attempt; last_error says why


@dataclass(frozen=True)
class ClaimedJob:
    """What a handler sees of the job it runs (a copy: no lazy loading, no open session)."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int  # 1 for the first run
    max_attempts: int

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


Handler = Callable[[Session, ClaimedJob, datetime], None]
# Told of each failure in the transaction that records it: (session, job, error, retry_at);
# retry_at is None when the job has failed for good.
FailureHook = Callable[[Session, ClaimedJob, str, datetime | None], None]


@dataclass(frozen=True)
class JobKind:
    run: Handler
    on_failure: FailureHook | None = None


_KINDS: dict[str, JobKind] = {}


def register_job_kind(kind: str, run: Handler, on_failure: FailureHook | None = None) -> None:
    """Make `kind` runnable: `run` does the work (it raises to fail the attempt)."""
    _KINDS[kind] = JobKind(run, on_failure)


def register_periodic_job(kind: str, work: Callable[[Session, datetime], None], *,
                          interval: Callable[[], float], what: str) -> None:
    """A job kind that runs `work` and queues its own next run `interval()` seconds later,
    also after its last failed attempt (the schedule goes on). `what` names it in the log."""
    def queue_next(session: Session, now: datetime) -> None:
        enqueue(session, kind=kind, payload={}, run_at=now + timedelta(seconds=interval()))

    def run(session: Session, job: ClaimedJob, now: datetime) -> None:
        work(session, now)
        queue_next(session, now)

    def failed(session: Session, job: ClaimedJob, error: str, retry_at: datetime | None) -> None:
        _log.error("%s failed: %s", what, error)
        if retry_at is None:
            queue_next(session, datetime.now(UTC))

    register_job_kind(kind, run, failed)


def job_kinds() -> frozenset[str]:
    return frozenset(_KINDS)


def enqueue(session: Session, *, kind: str, payload: dict[str, Any],
            run_at: datetime | None = None, max_attempts: int | None = None) -> Job:
    """Stage a job in the caller's transaction (it runs only if the caller commits)."""
    if kind not in _KINDS:
        raise ValueError(f"no job kind {kind!r} is registered")
    job = Job(kind=kind, payload=payload, status=JobStatus.QUEUED, run_at=aware(run_at))
    if max_attempts is not None:
        job.max_attempts = max_attempts
    session.add(job)
    session.flush()
    return job


def queue_unless_waiting(session: Session, *, kind: str, payload: dict[str, Any],
                         run_at: datetime | None = None) -> bool:
    """Queue a periodic job of `kind` unless one is already queued or running (commits).

    Every `lims serve` and `lims init` does this at start, on any number of hosts at once:
    on PostgreSQL a transaction-scoped advisory lock per kind makes the look and the
    insert one step, so two starts never queue the schedule twice (SQLite's write lock,
    taken by every transaction, does the same there). True when a job was queued."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                        {"space": _LOCK_SPACE, "key": _signed32(zlib.crc32(kind.encode()))})
    waiting = session.exec(select(Job.id).where(
        col(Job.kind) == kind, col(Job.status).in_([JobStatus.QUEUED, JobStatus.RUNNING]),
    )).first()
    if waiting is not None:
        session.rollback()  # ends the transaction, and with it the advisory lock
        return False
    enqueue(session, kind=kind, payload=payload, run_at=run_at)
    session.commit()
    return True


_LOCK_SPACE = 0x4C494D53  # "LIMS": the first key of the job runner's advisory locks


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def worker_name() -> str:
    """Who holds a claim: host and process, so a stale lock can be traced to its worker."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def backoff(attempts: int, settings: Settings) -> timedelta:
    """The wait after the `attempts`-th failure: base × 2^(attempts−1), capped."""
    seconds = settings.jobs_retry_base_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.jobs_retry_max_seconds))


def claim_next(session: Session, *, worker: str, now: datetime,
               settings: Settings | None = None) -> ClaimedJob | None:
    """Take the next due job of a registered kind and mark it running (commits the claim)."""
    settings = settings or get_settings()
    stale_before = now - timedelta(seconds=settings.jobs_stale_after_seconds)
    due = or_(and_(col(Job.status) == JobStatus.QUEUED, col(Job.run_at) <= now),
              and_(col(Job.status) == JobStatus.RUNNING, col(Job.locked_at) < stale_before))
    query = (select(Job).where(due, col(Job.kind).in_(sorted(_KINDS)))
             .order_by(col(Job.run_at), col(Job.id)).limit(1)
             .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's write lock serialises
             .execution_options(populate_existing=True))
    job = session.exec(query).first()
    if job is None:
        session.rollback()
        return None
    job.status, job.locked_by, job.locked_at = JobStatus.RUNNING, worker, now
    job.attempts += 1
    session.add(job)
    session.commit()
    assert job.id is not None
    return ClaimedJob(job.id, job.kind, dict(job.payload), job.attempts, job.max_attempts)


def run_claimed(session: Session, claimed: ClaimedJob, *, now: datetime,
                settings: Settings | None = None) -> JobStatus:
    """Run a claimed job's handler and record the outcome (commits)."""
    settings = settings or get_settings()
    kind = _KINDS[claimed.kind]
    try:
        kind.run(session, claimed, now)
    except Exception as error:
        session.rollback()  # nothing the failed attempt staged is kept
        return _record_failure(session, claimed, kind, describe(error), now, settings)
    job = _load(session, claimed.id)
    job.status, job.finished_at, job.locked_by, job.locked_at = JobStatus.DONE, now, None, None
    session.add(job)
    session.commit()
    return JobStatus.DONE


def describe(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:1000]


def _record_failure(session: Session, claimed: ClaimedJob, kind: JobKind, error: str,
                    now: datetime, settings: Settings) -> JobStatus:
    job = _load(session, claimed.id)
    job.last_error, job.locked_by, job.locked_at = error, None, None
    retry_at: datetime | None = None
    if job.attempts >= job.max_attempts:
        job.status, job.finished_at = JobStatus.FAILED, now
    else:
        retry_at = now + backoff(job.attempts, settings)
        job.status, job.run_at = JobStatus.QUEUED, retry_at
    session.add(job)
    if kind.on_failure is not None:
        kind.on_failure(session, claimed, error, retry_at)
    session.commit()
    return JobStatus(job.status)


def _load(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id, populate_existing=True, with_for_update=True)
    assert job is not None, f"job {job_id} vanished"
    return job


@dataclass(frozen=True)
class RunSummary:
    done: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def ran(self) -> int:
        return self.done + self.retrying + self.failed

    def text(self) -> str:
        return (f"{self.ran} job(s) run: {self.done} done, {self.retrying} to retry, "
                f"{self.failed} failed")


def run_due(session: Session, *, now: datetime | None = None, worker: str | None = None,
            limit: int = 100, settings: Settings | None = None) -> RunSummary:
    """Run every job due at `now` (at most `limit`), one claim at a time."""
    now, worker = aware(now), worker or worker_name()
    counts = {JobStatus.DONE: 0, JobStatus.QUEUED: 0, JobStatus.FAILED: 0}
    for _ in range(limit):
        claimed = claim_next(session, worker=worker, now=now, settings=settings)
        if claimed is None:
            break
        counts[run_claimed(session, claimed, now=now, settings=settings)] += 1
    return RunSummary(counts[JobStatus.DONE], counts[JobStatus.QUEUED], counts[JobStatus.FAILED])


def list_jobs(session: Session, *, status: str | None = None, limit: int = 200) -> list[Job]:
    """The newest jobs first (all, or those in `status`)."""
    query = select(Job).order_by(col(Job.id).desc()).limit(limit)
    if status is not None:
        query = query.where(col(Job.status) == status)
    return list(session.exec(query))
