"""Password changes, administrators' resets and sign-out: each ends every session at once.

Tokens and session cookies carry the account's token version (lims/security.py); raising
it makes all of them unreadable on their next request. Every change is audited without the
password, and commits with its audit event.
"""

from __future__ import annotations

from sqlmodel import Session

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import User
from lims.security import password_matches
from lims.services.common import require_role, utcnow
from lims.services.signin import clear_name
from lims.services.users import check_credentials, new_password_hash, user_named
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.passwords import normalised
from workflows.roles import Role


def change_password(session: Session, *, user_id: int, current_password: str,
                    new_password: str) -> User:
    """The signed-in person's own change: the current password re-entered (it counts toward
    the back-off like a sign-in), the new one by the policy and different from it."""
    user = session.get(User, user_id)
    if user is None:
        raise DomainError(ErrorCode.AUTHENTICATION_FAILED, "sign in again")
    try:
        check_credentials(session, username=user.username, password=current_password,
                          pending_change_ok=True)
    except DomainError as error:
        if error.code != ErrorCode.AUTHENTICATION_FAILED:
            raise
        raise DomainError(ErrorCode.PASSWORD_NOT_AUTHENTICATED,
                          "the current password did not verify, so nothing was changed: "
                          "enter the password you signed in with") from None
    if password_matches(user.password_hash, normalised(new_password)):
        raise DomainError(ErrorCode.PASSWORD_REFUSED,
                          "password refused: the new password must differ from the current one")
    user.password_hash = new_password_hash(new_password, username=user.username,
                                           full_name=user.full_name)
    _new_credentials(user)
    user.must_change_password = False
    session.add(user)
    append(session, [PendingEvent(AuditAction.PASSWORD_CHANGED, "user", user.username)],
           user_id=user.id, username=user.username)
    session.commit()
    return user


def reset_password(session: Session, *, actor: User | None, username: str,
                   temporary_password: str, reason: str) -> User:
    """An administrator's reset (or the server's command line, `actor` None): a temporary
    password the person must replace at their next sign-in; their sessions end and their
    sign-in waits are cleared."""
    if actor is not None:
        require_role(actor, {Role.ADMIN}, "reset passwords")
    user = user_named(session, username)
    if user is None:
        raise InvalidInput(f"no user {username}")
    if not reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED, "resetting a password needs a reason")
    user.password_hash = new_password_hash(temporary_password, username=user.username,
                                           full_name=user.full_name)
    _new_credentials(user)
    user.must_change_password = True
    user.failed_logins = 0
    clear_name(session, user.username)
    session.add(user)
    append(session, [PendingEvent(AuditAction.PASSWORD_RESET, "user", user.username,
                                  "must_change_password", None, True, reason=reason.strip())],
           user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return user


def sign_out(session: Session, *, user_id: int, version: int) -> None:
    """End every session and token of the account (sign-out ends them all, not one); a
    token of an earlier `version` has ended already, and changes nothing."""
    user = session.get(User, user_id)
    if user is None or user.token_version != version:
        return
    user.token_version += 1
    session.add(user)
    append(session, [PendingEvent(AuditAction.SIGNED_OUT, "user", user.username,
                                  "token_version", user.token_version - 1, user.token_version)],
           user_id=user.id, username=user.username)
    session.commit()


def _new_credentials(user: User) -> None:
    user.password_changed_at = utcnow()
    user.token_version += 1
