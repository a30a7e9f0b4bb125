"""Users, roles, sign-in with lockout, and re-authentication for signatures and witnessing."""

from __future__ import annotations

import re
from functools import lru_cache

from sqlmodel import Session, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import User
from lims.security import hash_password, password_matches
from lims.services.common import require_role, utcnow
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound

ROLES = frozenset({"technician", "supervisor", "qa", "physician", "admin"})
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def create_user(session: Session, *, actor: User | None, username: str, full_name: str,
                role: str, password: str, email: str = "") -> User:
    """Create a user (admin only, or the seed when `actor` is None)."""
    if actor is not None:
        require_role(actor, {"admin"}, "create users")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(sorted(ROLES))}")
    if not username.strip() or not full_name.strip():
        raise InvalidInput("username and full name are required")
    email = checked_email(email)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"user {username} already exists")
    try:
        password_hash = hash_password(password)
    except ValueError as error:
        raise InvalidInput(str(error)) from error
    user = User(username=username, full_name=full_name, role=role, password_hash=password_hash,
                email=email)
    session.add(user)
    session.flush()
    events = [PendingEvent(AuditAction.USER_CREATED, "user", username, "role", None, role)]
    if email:
        events.append(PendingEvent(AuditAction.USER_UPDATED, "user", username, "email", None,
                                   email))
    append(session, events, user_id=actor.id if actor else None,
           username=actor.username if actor else "system")
    session.commit()
    return user


def checked_email(email: str) -> str:
    """An e-mail address as stored: trimmed, one @, no spaces; empty means none."""
    email = email.strip()
    if email and (len(email) > 254 or not EMAIL.fullmatch(email)):
        raise InvalidInput(f"{email!r} is not an e-mail address (name@example.org)")
    return email


def update_user(session: Session, *, actor: User, username: str, full_name: str | None = None,
                email: str | None = None) -> User:
    """Change a user's name or e-mail address (admin); each change is audited."""
    require_role(actor, {"admin"}, "change users")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username}")
    changes: dict[str, str] = {}
    if full_name is not None:
        if not full_name.strip():
            raise InvalidInput("the full name cannot be empty")
        changes["full_name"] = full_name.strip()
    if email is not None:
        changes["email"] = checked_email(email)
    events = [PendingEvent(AuditAction.USER_UPDATED, "user", username, name, getattr(user, name),
                           value)
              for name, value in changes.items() if getattr(user, name) != value]
    for name, value in changes.items():
        setattr(user, name, value)
    session.add(user)
    append(session, events, user_id=actor.id, username=actor.username)
    session.commit()
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("no user has this password")


def check_credentials(session: Session, *, username: str, password: str) -> User:
    """Verify a password without committing; the caller commits (with the failure count)."""
    user = session.exec(select(User).where(User.username == username)).first()
    # One message for unknown user and wrong password: no user enumeration.
    failed = DomainError(ErrorCode.AUTHENTICATION_FAILED, "user name or password is incorrect")
    if user is None or not user.active:
        password_matches(_dummy_hash(), password)  # same time as a real check: no enumeration
        raise failed
    if user.locked_at is not None:
        password_matches(_dummy_hash(), password)
        raise DomainError(ErrorCode.ACCOUNT_LOCKED,
                          "this account is locked after repeated failures; ask an administrator")
    if not password_matches(user.password_hash, password):
        user.failed_logins += 1
        events = [PendingEvent(AuditAction.SIGNIN_FAILED, "user", username, "failed_logins",
                               user.failed_logins - 1, user.failed_logins)]
        if user.failed_logins >= get_settings().max_failed_logins:
            user.locked_at = utcnow()
            events.append(PendingEvent(AuditAction.ACCOUNT_LOCKED, "user", username))
        session.add(user)
        append(session, events, user_id=user.id, username=username)
        session.commit()  # the failure must be recorded even though the action is refused
        raise failed
    if user.failed_logins:
        user.failed_logins = 0
        session.add(user)
    return user


def check_second_person(session: Session, *, username: str, password: str, refusal: ErrorCode,
                        who: str) -> User:
    """Re-authenticate someone other than the signed-in caller (a witness, an approving
    physician). A failure is recorded and counts toward their lockout as usual, but answers
    `refusal` (403), never the sign-in failure (401): a client reads that as its own session
    ending, while only the other person's password was wrong."""
    try:
        return check_credentials(session, username=username, password=password)
    except DomainError as error:
        if error.code == ErrorCode.ACCOUNT_LOCKED:
            raise DomainError(refusal, f"{who}'s account is locked after repeated failures; "
                                       "ask an administrator, or ask someone else") from None
        if error.code == ErrorCode.AUTHENTICATION_FAILED:
            raise DomainError(refusal, f"{who}'s user name or password is incorrect: {who} "
                                       "enters their own user name and password again; "
                                       "nothing was recorded") from None
        raise


def authenticate(session: Session, *, username: str, password: str) -> User:
    """Sign in: the password is checked and a success resets the failure count."""
    user = check_credentials(session, username=username, password=password)
    session.commit()
    return user


def unlock_user(session: Session, *, actor: User, username: str, reason: str) -> User:
    require_role(actor, {"admin"}, "unlock accounts")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise InvalidInput(f"no user {username}")
    if not reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED, "unlocking an account needs a reason")
    user.locked_at, user.failed_logins = None, 0
    session.add(user)
    append(session, [PendingEvent(AuditAction.ACCOUNT_UNLOCKED, "user", username, reason=reason)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return user
