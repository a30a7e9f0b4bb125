"""Running the background jobs: once (`lims jobs run-once`, e.g. from cron) or every few
seconds in a thread of `lims serve` (started and stopped with the application).

The job kinds are registered by the modules imported here; a new kind of background work
(audit checkpoints, expiry, the sign-in back-off clean-up) registers itself in its module
and is imported below.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import Engine

import lims.services.checkpoints  # registers the periodic audit checkpoint
import lims.services.expiry  # registers the periodic expiry check
import lims.services.notifications  # registers the delivery of notifications
import lims.services.signin_cleanup  # noqa: F401  (registers forgetting old sign-in failures)
from lims.db import session_scope
from lims.services.jobs import RunSummary, run_due, worker_name

log = logging.getLogger("lims.jobs")


def run_once(engine: Engine | None = None, *, now: datetime | None = None,
             worker: str | None = None, limit: int = 100) -> RunSummary:
    """Run every job due now, then return what happened."""
    with session_scope(engine) as session:
        return run_due(session, now=now, worker=worker, limit=limit)


class BackgroundJobs:
    """A daemon thread that runs due jobs every `interval` seconds until stopped."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine, self.interval = engine, interval
        self.worker = f"{worker_name()}:serve"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lims-jobs", daemon=True)

    def start(self) -> BackgroundJobs:
        self._thread.start()
        log.info("background jobs every %.0f s (worker %s)", self.interval, self.worker)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                summary = run_once(self.engine, worker=self.worker)
                if summary.ran:
                    log.info(summary.text())
            except Exception:  # a database outage must not end the runner: try again later
                log.exception("background jobs failed; trying again in %.0f s", self.interval)
            self._stop.wait(self.interval)
