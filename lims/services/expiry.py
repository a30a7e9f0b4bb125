"""Expiry by the clock as a background job: every few minutes the system marks expired each
product whose expiry has passed (issue and administration already refuse an expired product
by the server's time; this makes the worklist, the review and the records say so too) and
notifies QA and the patient's physician with each expiry. `lims expire-due` runs the same
check from cron where no job runner runs."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from lims.config import get_settings
from lims.services.dispositions import expire_due
from lims.services.jobs import queue_unless_waiting, register_periodic_job

log = logging.getLogger("lims.expiry")

JOB_KIND = "expire_due"


def schedule_expiry(session: Session, *, now: datetime | None = None) -> None:
    """Queue the periodic expiry check unless one is already waiting (commits)."""
    queue_unless_waiting(session, kind=JOB_KIND, payload={}, run_at=now)


def _expire(session: Session, now: datetime) -> None:
    expired = expire_due(session, actor=None, now=now)  # each expiry commits with its event
    if expired:
        log.info("expired by the clock: %s", ", ".join(expired))


register_periodic_job(JOB_KIND, _expire, what="expiry check",
                      interval=lambda: get_settings().expiry_check_interval_seconds)
