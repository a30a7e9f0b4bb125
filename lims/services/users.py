"""Users, roles, sign-in with back-off, and re-authentication for signatures and witnessing."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from sqlalchemy import func
from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import User
from lims.security import hash_password, password_matches
from lims.services import signin
from lims.services.common import require_role, utcnow
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound
from workflows.passwords import PasswordRefused, check_password, normalised
from workflows.roles import ALL_ROLES, Role
from workflows.throttle import Rule, in_words
from workflows.usernames import (
    NameRefused,
    checked_full_name,
    checked_username,
    lookup_key,
    same_printed_name,
)

ROLES = ALL_ROLES
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def create_user(session: Session, *, actor: User | None, username: str, full_name: str,
                role: str, password: str, email: str = "", demo: bool = False) -> User:
    """Create a user (admin only, or the seed and `lims users create-admin` when `actor` is
    None). An administrator knows the password given, so that person must change it at
    their first sign-in. `demo`: an account of the demo database, whose password is
    published anyway: the policy is not applied, and it is refused outside development."""
    if actor is not None:
        require_role(actor, {Role.ADMIN}, "create users")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(sorted(ROLES))}")
    try:
        username, full_name = checked_username(username), checked_full_name(full_name)
    except NameRefused as error:
        raise InvalidInput(str(error)) from None
    email = checked_email(email)
    if name_taken(session, username):
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"user {username} already exists")
    refuse_same_printed_name(session, full_name)
    if demo and get_settings().environment != "development":
        raise DomainError(ErrorCode.FORBIDDEN, "demo accounts exist in development only")
    password_hash = (hash_password(normalised(password)) if demo else
                     new_password_hash(password, username=username, full_name=full_name))
    user = User(username=username, full_name=full_name, role=role, password_hash=password_hash,
                email=email, password_changed_at=utcnow(),
                must_change_password=actor is not None)
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
    require_role(actor, {Role.ADMIN}, "change users")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username}")
    changes: dict[str, str] = {}
    if full_name is not None:
        try:
            changes["full_name"] = checked_full_name(full_name)
        except NameRefused as error:
            raise InvalidInput(str(error)) from None
        if same_printed_name(changes["full_name"]) != same_printed_name(user.full_name):
            refuse_same_printed_name(session, changes["full_name"])
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


def user_named(session: Session, username: str) -> User | None:
    """The account of exactly this user name, if any: a name in another case or with a
    look-alike character is no account's (names are stored lower case, unique whatever
    the case, so no two accounts differ only by it)."""
    return session.exec(select(User).where(User.username == username)).first()


def all_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))))


def name_taken(session: Session, username: str) -> bool:
    return session.exec(select(User.id).where(
        func.lower(User.username) == lookup_key(username))).first() is not None


def refuse_same_printed_name(session: Session, full_name: str) -> None:
    """Two people with one printed name would make their signatures ambiguous."""
    key = same_printed_name(full_name)
    taken = [name for name, full in session.execute(select(User.username, User.full_name))
             if same_printed_name(full) == key]
    if taken:
        raise DomainError(ErrorCode.ALREADY_EXISTS,
                          f"{full_name!r} is already the full name of user {taken[0]}: "
                          "signatures print the full name, so it must tell people apart "
                          "(add a middle initial, for example)")


def password_context(username: str, full_name: str) -> list[str]:
    """Words an attacker tries first against this person's password."""
    return [username, full_name, "lims", get_settings().facility_name]


def new_password_hash(password: str, *, username: str, full_name: str) -> str:
    """The hash of a password the policy accepts (workflows/passwords.py)."""
    try:
        accepted = check_password(password, context=password_context(username, full_name))
    except PasswordRefused as error:
        raise DomainError(ErrorCode.PASSWORD_REFUSED, f"password refused: {error}") from None
    return hash_password(accepted)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("no user has this password")


def check_credentials(session: Session, *, username: str, password: str,
                      source: str | None = None, pending_change_ok: bool = False) -> User:
    """Verify a password without committing a success; a failure is committed (with its
    back-off) before it is raised. `source`: the network address of a sign-in (None: a
    password re-entered within a session). An account whose password an administrator
    reset may only sign in (`pending_change_ok`) to choose a new one: it can witness or
    sign nothing with a password someone else knows."""
    name, now = lookup_key(username), utcnow()
    keys = signin.throttle_keys(name, source)
    signin.refuse_if_throttled(session, keys, now)  # before any hash: the same for all names
    user = user_named(session, username)
    # One message for unknown user and wrong password: no user enumeration.
    failed = DomainError(ErrorCode.AUTHENTICATION_FAILED, "user name or password is incorrect")
    if user is None or not user.active:
        password_matches(_dummy_hash(), password)  # same time as a real check: no enumeration
        signin.record_failure(session, keys, now)
        session.commit()
        raise failed
    if user.locked_at is not None:  # locked before back-off replaced locks: unlock clears it
        password_matches(_dummy_hash(), password)
        raise DomainError(ErrorCode.ACCOUNT_LOCKED,
                          "this account is locked; ask an administrator to unlock it")
    if not _matches(user.password_hash, password):
        _record_failure(session, user, keys, now)
        raise failed
    if user.must_change_password and not pending_change_ok:
        raise DomainError(ErrorCode.PASSWORD_CHANGE_REQUIRED,
                          f"{user.full_name} has a temporary password from an administrator: "
                          "they sign in and choose their own before anything else")
    if user.failed_logins:
        user.failed_logins = 0
        session.add(user)
    signin.clear_after_success(session, keys)
    return user


def _matches(password_hash: str, password: str) -> bool:
    # Hashes are of the NFKC form; one made before (of the password as typed) still verifies.
    typed = normalised(password)
    return password_matches(password_hash, typed) or (
        typed != password and password_matches(password_hash, password))


def _record_failure(session: Session, user: User, keys: list[tuple[str, Rule]],
                    now: datetime) -> None:
    user.failed_logins += 1
    events = [PendingEvent(AuditAction.SIGNIN_FAILED, "user", user.username, "failed_logins",
                           user.failed_logins - 1, user.failed_logins)]
    wait = signin.record_failure(session, keys, now)
    if wait:
        events.append(PendingEvent(AuditAction.SIGNIN_THROTTLED, "user", user.username,
                                   "wait", None, in_words(wait)))
    session.add(user)
    append(session, events, user_id=user.id, username=user.username)
    session.commit()  # the failure must be recorded even though the action is refused


def check_second_person(session: Session, *, username: str, password: str, refusal: ErrorCode,
                        who: str) -> User:
    """Re-authenticate someone other than the signed-in caller (a witness, an approving
    physician). A failure is recorded and counts toward their back-off as usual, but answers
    `refusal` (403), never the sign-in failure (401): a client reads that as its own session
    ending, while only the other person's password was wrong."""
    try:
        return check_credentials(session, username=username, password=password)
    except DomainError as error:
        if error.code == ErrorCode.ACCOUNT_LOCKED:
            raise DomainError(refusal, f"{who}'s account is locked; ask an administrator, "
                                       "or ask someone else") from None
        if error.code == ErrorCode.SIGNIN_THROTTLED:
            raise DomainError(refusal, f"{who}'s password was refused too often: "
                                       f"{error.detail[0].lower()}{error.detail[1:]} Or ask "
                                       "someone else; nothing was recorded") from None
        if error.code == ErrorCode.PASSWORD_CHANGE_REQUIRED:
            raise DomainError(refusal, error.detail) from None
        if error.code == ErrorCode.AUTHENTICATION_FAILED:
            raise DomainError(refusal, f"{who}'s user name or password is incorrect: {who} "
                                       "enters their own user name and password again; "
                                       "nothing was recorded") from None
        raise


def authenticate(session: Session, *, username: str, password: str,
                 source: str | None = None) -> User:
    """Sign in: the password is checked and a success resets the failure count. An account
    with a temporary password signs in, to change it (`must_change_password`)."""
    user = check_credentials(session, username=username, password=password, source=source,
                             pending_change_ok=True)
    session.commit()
    return user


def unlock_user(session: Session, *, actor: User | None, username: str, reason: str) -> User:
    """Clear every sign-in wait of an account (and a lock from before back-off): an
    administrator, or the server's command line when `actor` is None."""
    if actor is not None:
        require_role(actor, {Role.ADMIN}, "unlock accounts")
    user = user_named(session, username)
    if user is None:
        raise InvalidInput(f"no user {username}")
    if not reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED, "unlocking an account needs a reason")
    user.locked_at, user.failed_logins = None, 0
    signin.clear_name(session, user.username)
    session.add(user)
    append(session, [PendingEvent(AuditAction.ACCOUNT_UNLOCKED, "user", user.username,
                                  reason=reason)],
           user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return user


def deactivate_user(session: Session, *, actor: User | None, username: str,
                    reason: str) -> User:
    """Take an account out of use (someone left, or their account is misused): every session
    and token of it ends at once, and it can sign in, witness or sign nothing. The account
    and everything it did stay: people are never deleted from a trail. An administrator, or
    the server's command line (`actor` None). Refused for your own account and for the last
    active administrator: nobody could manage the accounts any more."""
    # Every active administrator's row is locked first, in one order (PostgreSQL): two
    # administrators deactivating each other at once are taken one after the other, and
    # the second sees the first's change (no deadlock, never no administrator left).
    admins = session.exec(select(User.id).where(
        User.role == Role.ADMIN.value, col(User.active).is_(True))
        .order_by(col(User.id)).with_for_update()).all()
    user = _account_to_change(session, actor, username, reason, "deactivate accounts")
    if not user.active:
        raise DomainError(ErrorCode.CONFLICT, f"user {user.username} is already deactivated")
    if actor is not None and actor.id == user.id:
        raise DomainError(ErrorCode.FORBIDDEN, "you may not deactivate your own account: "
                                               "another administrator does it")
    if user.role == Role.ADMIN and not [other for other in admins if other != user.id]:
        raise DomainError(ErrorCode.CONFLICT, f"{user.username} is the last active "
                                              "administrator: make another one first")
    user.active = False
    user.token_version += 1  # a later reactivation does not revive the old sessions
    return _record_activity(session, actor, user, AuditAction.ACCOUNT_DEACTIVATED, reason)


def reactivate_user(session: Session, *, actor: User | None, username: str,
                    reason: str) -> User:
    """Put a deactivated account back into use (an administrator, or the command line);
    its sessions from before stay ended: the person signs in again."""
    user = _account_to_change(session, actor, username, reason, "reactivate accounts")
    if user.active:
        raise DomainError(ErrorCode.CONFLICT, f"user {user.username} is active already")
    user.active = True
    return _record_activity(session, actor, user, AuditAction.ACCOUNT_REACTIVATED, reason)


def change_role(session: Session, *, actor: User | None, username: str, role: str,
                reason: str) -> User:
    """Give an account another role (an administrator, or the server's command line when
    `actor` is None), audited old → new with the reason. Every session and token of the
    account ends at once: what it may do changes, so the person signs in again. Refused
    for your own role and for taking the role from the last active administrator."""
    if actor is not None:
        require_role(actor, {Role.ADMIN}, "change roles")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(sorted(ROLES))}")
    if not reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED, "changing a role needs a reason")
    # The active administrators' rows first, in one order, as in deactivate_user: two
    # administrators demoting each other at once are taken one after the other.
    admins = session.exec(select(User.id).where(
        User.role == Role.ADMIN.value, col(User.active).is_(True))
        .order_by(col(User.id)).with_for_update()).all()
    user = session.exec(select(User).where(User.username == username)
                        .with_for_update()).first()
    if user is None:
        raise NotFound(f"no user {username}")
    if actor is not None and actor.id == user.id:
        raise DomainError(ErrorCode.FORBIDDEN, "you may not change your own role: another "
                                               "administrator does it")
    if user.role == role:
        raise DomainError(ErrorCode.CONFLICT, f"{user.username}'s role is {role} already")
    if (user.role == Role.ADMIN and user.active
            and not [other for other in admins if other != user.id]):
        raise DomainError(ErrorCode.CONFLICT, f"{user.username} is the last active "
                                              "administrator: make another one first")
    old, user.role = user.role, role
    user.token_version += 1  # the sessions of the old role end
    session.add(user)
    append(session, [PendingEvent(AuditAction.USER_ROLE_CHANGED, "user", user.username,
                                  "role", old, role, reason=reason.strip())],
           user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return user


def _account_to_change(session: Session, actor: User | None, username: str, reason: str,
                       action: str) -> User:
    if actor is not None:
        require_role(actor, {Role.ADMIN}, action)
    if not reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED,
                          f"a reason is required to {action.split()[0]} an account")
    user = session.exec(select(User).where(User.username == username)
                        .with_for_update()).first()
    if user is None:
        raise NotFound(f"no user {username}")
    return user


def _record_activity(session: Session, actor: User | None, user: User, action: AuditAction,
                     reason: str) -> User:
    session.add(user)
    append(session, [PendingEvent(action, "user", user.username, "active", not user.active,
                                  user.active, reason=reason.strip())],
           user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return user
