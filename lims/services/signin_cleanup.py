"""Forgetting old sign-in failures as a background job: every
LIMS_SIGNIN_CLEANUP_INTERVAL_SECONDS the rows of the sign-in back-off (lims/services/signin.py)
whose last failure no longer counts are deleted, so the table does not grow with every
mistyped or attacker-sent user name. A row that still counts, or still makes its key wait,
is kept."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from lims.config import get_settings
from lims.services.jobs import ClaimedJob, enqueue, queue_unless_waiting, register_job_kind
from lims.services.signin import forget_stale

log = logging.getLogger("lims.signin")

JOB_KIND = "forget_signin_failures"


def schedule_signin_cleanup(session: Session, *, now: datetime | None = None) -> None:
    """Queue the periodic clean-up unless one is already waiting (commits)."""
    queue_unless_waiting(session, kind=JOB_KIND, payload={}, run_at=now)


def _run(session: Session, job: ClaimedJob, now: datetime) -> None:
    deleted = forget_stale(session, now)  # its own transactions, committed there
    if deleted:
        log.info("forgot %d sign-in back-off row(s) whose failures no longer count", deleted)
    _queue_next(session, now)


def _failed(session: Session, job: ClaimedJob, error: str, retry_at: datetime | None) -> None:
    log.error("sign-in back-off clean-up failed: %s", error)
    if retry_at is None:
        _queue_next(session, datetime.now(UTC))  # the schedule goes on after a failure


def _queue_next(session: Session, now: datetime) -> None:
    interval = timedelta(seconds=get_settings().signin_cleanup_interval_seconds)
    enqueue(session, kind=JOB_KIND, payload={}, run_at=now + interval)


register_job_kind(JOB_KIND, _run, _failed)
