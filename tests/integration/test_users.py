"""Users: creation by the administrator, sign-in, lockout after repeated failures, unlock."""

from __future__ import annotations

import pytest
from sqlmodel import select

from lims.config import get_settings
from lims.models import AuditEvent, User
from lims.services.users import authenticate, create_user, unlock_user
from lims.services.verification import verify_all
from tests.factories import PASSWORDS, make_product, perform, seeded, snapshot
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def user(session, username: str) -> User:
    session.commit()
    found = session.exec(select(User).where(User.username == username)).one()
    session.refresh(found)
    return found


def sign_in(session, username: str, password: str) -> DomainError | User:
    try:
        return authenticate(session, username=username, password=password)
    except DomainError as error:
        return error


def test_unknown_user_and_wrong_password_get_the_same_answer(session):
    seeded(session)

    unknown = sign_in(session, "nosuchuser", "whatever-password")
    wrong = sign_in(session, "tech1", "whatever-password")

    assert isinstance(unknown, DomainError) and isinstance(wrong, DomainError)
    assert (unknown.code, unknown.detail) == (wrong.code, wrong.detail)
    assert unknown.code == E.AUTHENTICATION_FAILED


def test_failures_make_the_name_wait_and_never_lock_the_account(session):
    # given a technician who mistypes their password
    seeded(session)
    assert get_settings().max_failed_logins == 5
    for attempt in range(1, 6):
        failure = sign_in(session, "tech1", "wrong-password")
        assert isinstance(failure, DomainError) and failure.code == E.AUTHENTICATION_FAILED
        assert user(session, "tech1").failed_logins == attempt

    # then the next attempt, even with the right password, waits: nothing is locked
    waiting = sign_in(session, "tech1", PASSWORDS["tech1"])
    assert isinstance(waiting, DomainError) and waiting.code == E.SIGNIN_THROTTLED
    assert "wait 2 seconds" in waiting.detail
    assert user(session, "tech1").locked_at is None
    # and every failure and the wait are in the audit trail
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.entity_id == "tech1",
                                                           AuditEvent.entity == "user")
                           .order_by(AuditEvent.seq)).all()
    assert actions == ["user_created", "user_updated", *["signin_failed"] * 5,
                       "signin_throttled"]  # user_updated: the seed's e-mail address
    assert verify_all(session).ok


def test_a_success_before_the_limit_resets_the_failure_count(session):
    seeded(session)
    for _ in range(4):
        sign_in(session, "qa1", "wrong-password")

    assert isinstance(sign_in(session, "qa1", PASSWORDS["qa1"]), User)

    assert user(session, "qa1").failed_logins == 0
    for _ in range(4):
        sign_in(session, "qa1", "wrong-password")
    assert isinstance(sign_in(session, "qa1", PASSWORDS["qa1"]), User)


def test_an_administrator_clears_the_wait_with_a_reason(session):
    seeded(session)
    for _ in range(5):
        sign_in(session, "tech2", "wrong-password")
    admin = user(session, "admin")

    with pytest.raises(DomainError) as refused:
        unlock_user(session, actor=admin, username="tech2", reason=" ")
    assert refused.value.code == E.REASON_REQUIRED
    with pytest.raises(DomainError) as forbidden:
        unlock_user(session, actor=user(session, "super1"), username="tech2",
                    reason="identity confirmed")
    assert forbidden.value.code == E.FORBIDDEN
    assert sign_in(session, "tech2", PASSWORDS["tech2"]).code == E.SIGNIN_THROTTLED

    unlock_user(session, actor=admin, username="tech2", reason="identity confirmed by phone")

    assert isinstance(sign_in(session, "tech2", PASSWORDS["tech2"]), User)
    assert verify_all(session).ok


def test_a_throttled_witness_cannot_witness_a_step(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")
    for _ in range(5):
        sign_in(session, "tech2", "wrong-password")
    before = snapshot(session, product.din)

    with pytest.raises(DomainError) as refused:
        perform(run, product, "sediment", witness="tech2")

    assert refused.value.code == E.WITNESS_NOT_AUTHENTICATED  # not the operator's sign-in
    assert "wait" in refused.value.detail
    assert snapshot(session, product.din) == before


def test_only_an_administrator_creates_users(session):
    seeded(session)

    with pytest.raises(DomainError) as refused:
        create_user(session, actor=user(session, "super1"), username="tech9",
                    full_name="New Technician", role="technician", password="long-enough-pw")

    assert refused.value.code == E.FORBIDDEN
    assert session.exec(select(User).where(User.username == "tech9")).first() is None


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"username": "tech1"}, E.ALREADY_EXISTS),
        ({"role": "janitor"}, E.INVALID_INPUT),
        ({"password": "short"}, E.PASSWORD_REFUSED),
        ({"full_name": "  "}, E.INVALID_INPUT),
    ],
    ids=["an existing username", "an unknown role", "a short password", "no name"],
)
def test_a_user_with_bad_details_is_refused(session, fields, code):
    seeded(session)
    details = {"username": "tech9", "full_name": "New Technician", "role": "technician",
               "password": "long-enough-pw", **fields}

    with pytest.raises(DomainError) as refused:
        create_user(session, actor=user(session, "admin"), **details)

    assert refused.value.code == code


def test_a_created_user_can_sign_in_and_is_audited(session):
    seeded(session)

    created = create_user(session, actor=user(session, "admin"), username="qa2",
                          full_name="Second QA Reviewer", role="qa", password="qa2-password-long")

    assert authenticate(session, username="qa2", password="qa2-password-long").id == created.id
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user_created",
                                                  AuditEvent.entity_id == "qa2")).one()
    assert (event.username, event.new_value) == ("admin", "qa")


def test_lims_users_unlock_clears_the_only_administrators_wait_at_the_server(
        session, engine, monkeypatch):
    from typer.testing import CliRunner

    from lims.cli import app

    seeded(session)
    for _ in range(8):
        sign_in(session, "admin", "guessing-wrong")
    assert sign_in(session, "admin", "demo-admin-pass").code == E.SIGNIN_THROTTLED
    session.commit()
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)

    done = CliRunner().invoke(app, ["users", "unlock", "admin", "--reason", "guessed at"])

    assert done.exit_code == 0, done.output
    assert isinstance(sign_in(session, "admin", "demo-admin-pass"), User)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "account_unlocked")).one()
    assert (event.username, event.reason) == ("system", "guessed at")
