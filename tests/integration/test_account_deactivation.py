"""Issue 12: deactivating accounts (service and command line) and expiry run by the system,
not by an administrator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from lims.audit_actions import AuditAction
from lims.cli import app
from lims.jobs import run_once
from lims.models import AuditEvent, User
from lims.services.common import user_by_name, utcnow
from lims.services.dispositions import expire_due, expire_product
from lims.services.expiry import schedule_expiry
from lims.services.users import create_user, deactivate_user, reactivate_user
from lims.services.verification import verify_all
from tests.factories import make_product, seeded, snapshot
from workflows.errors import DomainError, ErrorCode


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


def lims(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, list(args))
    if done.exception and not isinstance(done.exception, SystemExit):
        raise done.exception
    return done.exit_code, done.output


def account(session: Session, username: str) -> User:
    """The row as the other sessions left it; the read's transaction ends at once (SQLite
    takes the write lock when a transaction begins, the command line would wait)."""
    session.commit()
    user = session.exec(select(User).where(User.username == username)).one()
    session.commit()
    return user


def admin(session: Session) -> User:
    return user_by_name(session, "admin")


def test_deactivation_ends_the_sessions_and_is_audited_with_its_reason(session):
    seeded(session)
    before = account(session, "tech2").token_version

    deactivate_user(session, actor=admin(session), username="tech2", reason="left the lab")

    tech2 = account(session, "tech2")
    assert (tech2.active, tech2.token_version) == (False, before + 1)
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.ACCOUNT_DEACTIVATED)).one()
    assert (event.entity_id, event.username, event.reason) == ("tech2", "admin", "left the lab")
    assert verify_all(session).ok
    reactivate_user(session, actor=admin(session), username="tech2", reason="came back")
    assert account(session, "tech2").active
    assert account(session, "tech2").token_version == before + 1  # old sessions stay ended
    assert verify_all(session).ok


def test_an_account_active_against_its_trail_is_reported_by_audit_verify(session, engine):
    seeded(session)
    deactivate_user(session, actor=admin(session), username="tech2", reason="left the lab")
    with Session(engine) as other:  # a change made behind the service's back
        tech2 = other.exec(select(User).where(User.username == "tech2")).one()
        tech2.active = True
        other.add(tech2)
        other.commit()

    report = verify_all(session)

    assert not report.ok
    assert any("tech2" in str(problem) for problem in report.problems)


def test_deactivation_is_refused_to_non_administrators_for_yourself_and_without_reason(session):
    seeded(session)

    refused = {}
    for actor, name, reason in (("qa1", "tech2", "x"), ("admin", "admin", "x"),
                                ("admin", "tech2", "  "), ("admin", "ghost", "x")):
        with pytest.raises(DomainError) as error:
            deactivate_user(session, actor=user_by_name(session, actor), username=name,
                            reason=reason)
        refused[(actor, name, reason)] = error.value.code
    deactivate_user(session, actor=admin(session), username="tech2", reason="left")
    with pytest.raises(DomainError) as twice:
        deactivate_user(session, actor=admin(session), username="tech2", reason="left")

    assert list(refused.values()) == [ErrorCode.FORBIDDEN, ErrorCode.FORBIDDEN,
                                      ErrorCode.REASON_REQUIRED, ErrorCode.NOT_FOUND]
    assert twice.value.code == ErrorCode.CONFLICT


def test_the_last_active_administrator_cannot_be_deactivated_even_from_the_server(session,
                                                                                 cli_db):
    seeded(session)
    session.commit()

    code, output = lims("users", "deactivate", "admin", "--reason", "tidying up")

    assert code == 1 and "last active administrator" in output
    assert account(session, "admin").active
    create_user(session, actor=None, username="admin2", full_name="Second Admin", role="admin",
                password="walnut harbour lantern 1987")
    assert lims("users", "deactivate", "admin", "--reason", "left")[0] == 0
    assert not account(session, "admin").active
    code, output = lims("users", "deactivate", "admin2", "--reason", "left")
    assert code == 1 and "last active administrator" in output
    assert lims("users", "reactivate", "admin", "--reason", "back")[0] == 0
    assert account(session, "admin").active
    events = session.exec(select(AuditEvent.action, AuditEvent.username).where(col(
        AuditEvent.action).in_([AuditAction.ACCOUNT_DEACTIVATED, AuditAction.ACCOUNT_REACTIVATED])
    ).order_by(col(AuditEvent.seq))).all()
    assert [tuple(e) for e in events] == [("account_deactivated", "system"),
                                          ("account_reactivated", "system")]


def test_the_administrator_may_not_expire_a_product_but_the_system_expires_it(session):
    run = seeded(session)
    overdue, _ = make_product(run, arm="CD133", until="received",
                              t0=utcnow() - timedelta(hours=13))
    later = utcnow() + timedelta(hours=5, minutes=30)

    with pytest.raises(DomainError) as refused:
        expire_product(session, actor=admin(session), din=overdue.din, now=later)
    assert refused.value.code == ErrorCode.FORBIDDEN
    assert snapshot(session, overdue.din).state == "received"

    assert expire_due(session, now=later) == [overdue.din]

    assert snapshot(session, overdue.din).state == "expired"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "state_changed",
                                                  AuditEvent.entity_id == overdue.din)
                         .order_by(col(AuditEvent.seq).desc())).first()
    assert event is not None and (event.new_value, event.username, event.user_id) == (
        "expired", "system", None)
    assert verify_all(session).ok


def test_the_background_jobs_expire_an_overdue_product_and_check_again_later(session,
                                                                            engine: Engine):
    # given a product whose expiry has passed (harvested 13 h ago, a 12 h shelf life)
    run = seeded(session)
    overdue, _ = make_product(run, arm="CD133", until="received",
                              t0=utcnow() - timedelta(hours=13))
    later = utcnow() + timedelta(hours=5, minutes=30)
    schedule_expiry(session, now=later)
    schedule_expiry(session, now=later)  # queued once only
    session.close()

    # when the background jobs run at that time
    summary = run_once(engine, now=later)

    # then the system expired it, and the next check waits for its interval
    assert summary.done == 1
    assert run_once(engine, now=later).ran == 0
    assert snapshot(session, overdue.din).state == "expired"
    assert verify_all(session).ok
