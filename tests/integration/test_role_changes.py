"""Issue 12: an administrator gives an account another role: audited old → new with the
reason, every session of the account ends, never your own role, never the last
administrator's; and `lims users set-role` at the server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from lims.app import create_app
from lims.audit_actions import AuditAction
from lims.cli import app
from lims.config import get_settings
from lims.models import AuditEvent, User
from lims.security import issue_token
from lims.services.common import user_by_name
from lims.services.users import change_role, create_user, deactivate_user
from lims.services.verification import verify_all
from tests.factories import seeded
from workflows.errors import DomainError, ErrorCode

NEW_PASSWORD = "amber kettle sixty lanterns"


def account(session: Session, username: str) -> User:
    """The row as it is now; the read's transaction ends at once (SQLite's write lock)."""
    session.commit()
    user = session.exec(select(User).where(User.username == username)).one()
    session.commit()
    return user


def admin(session: Session) -> User:
    return user_by_name(session, "admin")


def refused(error: pytest.ExceptionInfo[DomainError]) -> ErrorCode:
    return error.value.code


def test_a_role_change_is_audited_old_to_new_with_its_reason_and_ends_the_sessions(session):
    seeded(session)
    before = account(session, "tech2").token_version

    change_role(session, actor=admin(session), username="tech2", role="supervisor",
                reason="promoted to shift lead")

    tech2 = account(session, "tech2")
    assert (tech2.role, tech2.token_version) == ("supervisor", before + 1)
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.USER_ROLE_CHANGED)).one()
    assert (event.entity_id, event.field, event.old_value, event.new_value, event.username,
            event.reason) == ("tech2", "role", "technician", "supervisor", "admin",
                              "promoted to shift lead")
    assert verify_all(session).ok  # the trail's last role is the account's role


def test_the_old_token_and_session_cookie_no_longer_work_after_a_role_change(session, engine):
    seeded(session)
    tech2 = account(session, "tech2")
    assert tech2.id is not None
    secret = get_settings().secret_key
    token = issue_token(secret, tech2.id, "api", version=tech2.token_version)
    cookie = issue_token(secret, tech2.id, "session", version=tech2.token_version)
    client = TestClient(create_app(engine, jobs=False), follow_redirects=False)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200

    change_role(session, actor=admin(session), username="tech2", role="qa", reason="moved to QA")
    session.commit()

    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 401
    client.cookies.set("lims_session", cookie)
    page = client.get("/")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_an_administrator_may_not_change_their_own_role(session):
    seeded(session)

    with pytest.raises(DomainError) as error:
        change_role(session, actor=admin(session), username="admin", role="qa",
                    reason="trying")

    assert refused(error) == ErrorCode.FORBIDDEN and "your own role" in error.value.detail
    session.rollback()
    assert account(session, "admin").role == "admin"


def test_the_last_active_administrator_keeps_the_role(session):
    seeded(session)
    create_user(session, actor=admin(session), username="admin2", full_name="Second Admin",
                role="admin", password=NEW_PASSWORD)
    # given: two administrators, and admin2 makes the first one a technician
    change_role(session, actor=user_by_name(session, "admin2"), username="admin",
                role="technician", reason="moved to the bench")

    # when: the server's command line (no own account) takes the role from the last one
    with pytest.raises(DomainError) as error:
        change_role(session, actor=None, username="admin2", role="qa", reason="reorganised")

    assert refused(error) == ErrorCode.CONFLICT and "last active administrator" in (
        error.value.detail)
    session.rollback()
    assert account(session, "admin2").role == "admin"


def test_a_deactivated_administrator_does_not_count_as_another_administrator(session):
    seeded(session)
    create_user(session, actor=admin(session), username="admin2", full_name="Second Admin",
                role="admin", password=NEW_PASSWORD)
    deactivate_user(session, actor=admin(session), username="admin2", reason="left")

    with pytest.raises(DomainError) as error:
        change_role(session, actor=None, username="admin", role="qa", reason="reorganised")

    assert refused(error) == ErrorCode.CONFLICT
    session.rollback()
    # the deactivated one may be given another role: it takes from nobody
    change_role(session, actor=admin(session), username="admin2", role="qa", reason="records")
    assert account(session, "admin2").role == "qa"


@pytest.mark.parametrize(("actor", "role", "reason", "code"), [
    ("qa1", "qa", "no right", ErrorCode.FORBIDDEN),
    ("admin", "superuser", "no such role", ErrorCode.INVALID_INPUT),
    ("admin", "qa", "   ", ErrorCode.REASON_REQUIRED),
    ("admin", "technician", "is one already", ErrorCode.CONFLICT),
])
def test_a_role_change_is_refused_with_a_code_and_changes_nothing(session, actor, role, reason,
                                                                  code):
    seeded(session)
    before = account(session, "tech2")

    with pytest.raises(DomainError) as error:
        change_role(session, actor=user_by_name(session, actor), username="tech2", role=role,
                    reason=reason)

    assert refused(error) == code
    session.rollback()
    after = account(session, "tech2")
    assert (after.role, after.token_version) == (before.role, before.token_version)
    assert not session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.USER_ROLE_CHANGED)).first()


def test_an_unknown_account_is_not_found(session):
    seeded(session)

    with pytest.raises(DomainError) as error:
        change_role(session, actor=admin(session), username="nobody", role="qa", reason="x")

    assert refused(error) == ErrorCode.NOT_FOUND


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


def test_the_command_line_sets_a_role_audited_as_the_system(session, cli_db):
    seeded(session)
    session.commit()

    done = CliRunner().invoke(app, ["users", "set-role", "doc2", "supervisor",
                                    "--reason", "changed post"])
    refused_admin = CliRunner().invoke(app, ["users", "set-role", "admin", "qa",
                                             "--reason", "oops"])

    assert done.exit_code == 0, done.output
    assert "doc2 is now supervisor" in done.output
    assert account(session, "doc2").role == "supervisor"
    event = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.USER_ROLE_CHANGED)).one()
    assert (event.username, event.user_id, event.reason) == ("system", None, "changed post")
    assert refused_admin.exit_code == 1 and "last active administrator" in refused_admin.output
