"""Forgetting old sign-in failures as a background job: every
LIMS_SIGNIN_CLEANUP_INTERVAL_SECONDS the rows of the sign-in back-off (lims/services/signin.py)
whose last failure no longer counts are deleted, so the table does not grow with every
mistyped or attacker-sent user name. A row that still counts, or still makes its key wait,
is kept."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from lims.config import get_settings
from lims.services.jobs import queue_unless_waiting, register_periodic_job
from lims.services.signin import forget_stale

log = logging.getLogger("lims.signin")

JOB_KIND = "forget_signin_failures"


def schedule_signin_cleanup(session: Session, *, now: datetime | None = None) -> None:
    """Queue the periodic clean-up unless one is already waiting (commits)."""
    queue_unless_waiting(session, kind=JOB_KIND, payload={}, run_at=now)


def _forget(session: Session, now: datetime) -> None:
    deleted = forget_stale(session, now)  # its own transactions, committed there
    if deleted:
        log.info("forgot %d sign-in back-off row(s) whose failures no longer count", deleted)


register_periodic_job(JOB_KIND, _forget, what="sign-in back-off clean-up",
                      interval=lambda: get_settings().signin_cleanup_interval_seconds)
