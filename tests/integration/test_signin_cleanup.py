"""The sign-in back-off table forgets: a background job deletes the rows of keys whose last
failure no longer counts, and keeps every row that still counts or still makes a key wait."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from lims.config import get_settings
from lims.jobs import run_once
from lims.models import Job, SigninThrottle
from lims.services.common import utcnow
from lims.services.signin import (
    forget_stale,
    record_failure,
    refuse_if_throttled,
    throttle_keys,
)
from lims.services.signin_cleanup import JOB_KIND, schedule_signin_cleanup
from workflows.errors import DomainError, ErrorCode


def fail(session: Session, name: str, source: str, at: datetime, times: int = 1) -> None:
    """`times` wrong passwords for `name` from `source` at `at`, each committed."""
    for _ in range(times):
        record_failure(session, throttle_keys(name, source), at)
        session.commit()


def stored(session: Session) -> dict[str, int]:
    """The back-off rows now in the database: key → failures (read in a transaction of its
    own: on SQLite an open one would hold the write lock the job runner needs)."""
    session.commit()
    rows = session.exec(select(SigninThrottle).execution_options(populate_existing=True))
    found = {row.key: row.failures for row in rows}
    session.commit()
    return found


def test_the_clean_up_job_keeps_rows_that_count_and_deletes_them_once_they_do_not(
        session: Session, engine: Engine):
    # given a technician's six wrong passwords just now, and a made-up name tried once two
    # hours ago (forgotten after an hour by default)
    assert get_settings().signin_forget_after_seconds == 3600
    t0 = utcnow()
    fail(session, "tech1", "10.0.0.7", t0, times=6)
    fail(session, "no-such-user", "203.0.113.9", t0 - timedelta(hours=2))
    tech1 = {"name:tech1@10.0.0.7": 6, "name:tech1": 6, "address:10.0.0.7": 6}
    assert stored(session) == {**tech1, "name:no-such-user@203.0.113.9": 1,
                               "name:no-such-user": 1, "address:203.0.113.9": 1}
    schedule_signin_cleanup(session, now=t0)
    schedule_signin_cleanup(session, now=t0)  # queued once only
    session.close()

    # when the background jobs run half an hour later
    half_an_hour = t0 + timedelta(minutes=30)
    assert run_once(engine, now=half_an_hour).done == 1

    # then the made-up name's rows are gone and the technician's, which still count, kept
    assert stored(session) == tech1
    # and the next clean-up waits for its interval (an hour by default)
    assert run_once(engine, now=half_an_hour + timedelta(minutes=59)).ran == 0
    queued = session.exec(select(Job.run_at).where(col(Job.kind) == JOB_KIND,
                                                   col(Job.status) == "queued")).one()
    session.commit()
    assert queued == half_an_hour + timedelta(hours=1)

    # when it runs after the technician's last failure is over an hour old
    assert run_once(engine, now=half_an_hour + timedelta(hours=1)).done == 1

    # then nothing is left, and a new failure starts again from one
    assert stored(session) == {}
    fail(session, "tech1", "10.0.0.7", half_an_hour + timedelta(hours=1))
    assert set(stored(session).values()) == {1}


def test_a_key_still_waiting_is_kept_however_short_the_forgetting(
        session: Session, monkeypatch: pytest.MonkeyPatch):
    # given failures forgotten after a minute, and a name failed 30 times from one address:
    # it waits the longest wait (15 minutes by default)
    monkeypatch.setattr(get_settings(), "signin_forget_after_seconds", 60)
    t0 = utcnow()
    fail(session, "qa1", "10.0.0.8", t0, times=30)
    fail(session, "someone", "10.0.0.9", t0)
    fail(session, "another", "10.0.0.10", t0)
    keys = throttle_keys("qa1", "10.0.0.8")

    # when the clean-up runs two minutes later, in batches of one row
    deleted = forget_stale(session, t0 + timedelta(minutes=2), batch=1)

    # then only the rows without a wait went (the name from anywhere may fail 50 times
    # before it waits), and qa1 from that address still waits
    assert deleted == 7
    assert stored(session) == {"name:qa1@10.0.0.8": 30, "address:10.0.0.8": 30}
    with pytest.raises(DomainError) as waiting:
        refuse_if_throttled(session, keys, t0 + timedelta(minutes=2))
    assert waiting.value.code == ErrorCode.SIGNIN_THROTTLED

    # and once the longest wait is over, the rows go too
    assert forget_stale(session, t0 + timedelta(seconds=get_settings().signin_max_wait_seconds
                                                + 1)) == 2
    assert stored(session) == {}
