"""Expiry by the clock as a background job: every few minutes the system marks expired each
product whose expiry has passed (issue and administration already refuse an expired product
by the server's time; this makes the worklist, the review and the records say so too)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from lims.config import get_settings
from lims.services.dispositions import expire_due
from lims.services.jobs import ClaimedJob, enqueue, queue_unless_waiting, register_job_kind

log = logging.getLogger("lims.expiry")

JOB_KIND = "expire_due"


def schedule_expiry(session: Session, *, now: datetime | None = None) -> None:
    """Queue the periodic expiry check unless one is already waiting (commits)."""
    queue_unless_waiting(session, kind=JOB_KIND, payload={}, run_at=now)


def _run(session: Session, job: ClaimedJob, now: datetime) -> None:
    expired = expire_due(session, actor=None, now=now)  # each expiry commits with its event
    if expired:
        log.info("expired by the clock: %s", ", ".join(expired))
    _queue_next(session, now)


def _failed(session: Session, job: ClaimedJob, error: str, retry_at: datetime | None) -> None:
    log.error("expiry check failed: %s", error)
    if retry_at is None:
        _queue_next(session, datetime.now(UTC))  # the schedule goes on after a failure


def _queue_next(session: Session, now: datetime) -> None:
    interval = timedelta(seconds=get_settings().expiry_check_interval_seconds)
    enqueue(session, kind=JOB_KIND, payload={}, run_at=now + interval)


register_job_kind(JOB_KIND, _run, _failed)
