"""Who is asking: the signed session cookie, role checks and the CSRF token of every form.

The session cookie holds an HMAC-signed token (lims.security) that expires after
Settings.session_minutes without activity; every authenticated page renews it.
The CSRF token is an HMAC of a random per-sign-in nonce (kept in its own
HttpOnly cookie) and the user id, and is checked on every POST.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData

from lims.api.deps import (
    Credentials,
    account_on_its_own,
    end_session_soon,
    get_engine_of,
    usable_account,
)
from lims.config import get_settings
from lims.models import User
from lims.security import TokenClaims, TokenError, read_claims
from workflows.errors import DomainError, InvalidInput
from workflows.roles import ALL_ROLES, LAB_ROLES, Role
from workflows.typed_text import free_text_problem

SESSION_COOKIE = "lims_session"
CSRF_COOKIE = "lims_csrf"
SESSION_PURPOSE = "session"

STAFF = LAB_ROLES
QA = frozenset({Role.QA})
REVIEWERS = frozenset({Role.SUPERVISOR, Role.QA, Role.PHYSICIAN})  # not the admin: no QC


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, as the templates see it."""

    id: int
    username: str
    full_name: str
    role: str


class LoginRequired(Exception):
    """No valid session: the user is sent to the sign-in page. `ended` holds the claims of
    the genuine session that has ended (idle or at its absolute limit), if that is why."""

    def __init__(self, next_url: str, *, expired: bool = False,
                 ended: TokenClaims | None = None) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.expired = expired or ended is not None
        self.ended = ended


class PasswordChangeRequired(Exception):
    """An administrator set a temporary password: the person is sent to choose their own."""


class PageForbidden(Exception):
    """The user's role may not open this page, or a form's CSRF token is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request on the application's engine; it rolls back what no service
    committed.

    async, as the API's (lims.api.deps.get_session): making a Session touches no database,
    so only ending a transaction left open needs a worker thread."""
    session = Session(get_engine_of(request), expire_on_commit=False)
    # The page's banner reads through it (a second session would wait for SQLite's
    # write lock, which this one holds); gone once the session has ended.
    request.state.db = session
    try:
        yield session
    finally:
        request.state.db = None
        await end_session_soon(session)


DbSession = Annotated[Session, Depends(get_db)]


def session_claims(request: Request) -> TokenClaims | None:
    """The claims of a valid session cookie, neither idle too long nor past its absolute
    lifetime, or None. Whether its version is still the account's needs the database
    (`current_user`)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings = get_settings()
    try:
        return read_claims(settings.secret_key, token, SESSION_PURPOSE,
                           settings.session_minutes * 60,
                           lifetime_seconds=settings.session_hours * 3600)
    except TokenError:
        return None


def ended_session(request: Request) -> TokenClaims | None:
    """The claims of a session cookie this server signed whose session has ended (idle too
    long or past its absolute lifetime), or None: no cookie, a forged or tampered one, or a
    session still running. They say whose session it was, never admit anyone."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or session_claims(request) is not None:
        return None
    try:
        return read_claims(get_settings().secret_key, token, SESSION_PURPOSE, 0,
                           expired_too=True)
    except TokenError:
        return None


def session_seconds_left(claims: TokenClaims, now: float) -> int:
    """How long a session renewed at `now` lasts without activity: the idle limit, or less
    when its absolute lifetime ends first."""
    settings = get_settings()
    return max(0, min(settings.session_minutes * 60,
                      claims.started + settings.session_hours * 3600 - int(now)))


def session_time_left(claims: TokenClaims, now: float) -> int:
    """How long the session of `claims` has left as it stands (not renewed)."""
    settings = get_settings()
    return max(0, min(claims.issued + settings.session_minutes * 60,
                      claims.started + settings.session_hours * 3600) - int(now))


def session_user_id(request: Request) -> int | None:
    """The user id in a valid, unexpired session cookie, or None."""
    claims = session_claims(request)
    return claims.user_id if claims is not None else None


def signed_in_anyway(request: Request) -> User:
    """The signed-in user, even one who must still change a temporary password, read on a
    connection of its own (lims.api.deps.account_on_its_own): the page's session is opened
    by its route, on the route's thread."""
    next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    claims = session_claims(request)
    if claims is None:
        raise LoginRequired(next_url, ended=ended_session(request))
    try:  # the API's test: active, not locked, the version of the cookie's token
        user = usable_account(account_on_its_own(get_engine_of(request), claims.user_id),
                              Credentials(claims.user_id, claims.version),
                              pending_change_ok=True)
    except DomainError:  # signed out elsewhere, password changed or reset, locked
        raise LoginRequired(next_url) from None
    assert user.id is not None
    # The pages see a detached copy: the database session ends before an error page renders.
    request.state.user = SignedIn(user.id, user.username, user.full_name, user.role)
    return user


async def current_user(request: Request,
                       user: Annotated[User, Depends(signed_in_anyway)]) -> User:
    # async, as `require`'s check: attributes already loaded, no database, so no thread hop
    # (each synchronous dependency of a page is one more wait for a worker thread).
    if user.must_change_password:
        raise PasswordChangeRequired()
    return user


def require(roles: frozenset[str], what: str) -> Callable[..., Awaitable[User]]:
    """A dependency that admits only `roles`; `what` names the page in the refusal."""

    async def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise PageForbidden(f"A {user.role} may not open {what}.")
        return user

    return dependency


AnyUser = Annotated[User, Depends(require(ALL_ROLES, "this page"))]
StaffUser = Annotated[User, Depends(require(STAFF, "product records"))]
QaUser = Annotated[User, Depends(require(QA, "the QA review"))]
ReviewerUser = Annotated[User, Depends(require(REVIEWERS, "the QC trends"))]


# --- CSRF ----------------------------------------------------------------------------------

def csrf_nonce(request: Request) -> str:
    """The browser's nonce; a new one is made (and set by `render`) when it has none."""
    nonce = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_nonce", None)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        request.state.new_csrf_nonce = nonce
    return str(nonce)


def csrf_token(nonce: str, user_id: int | None) -> str:
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"csrf.{nonce}.{user_id or 0}".encode(), hashlib.sha256).hexdigest()


def token_for(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return csrf_token(csrf_nonce(request), user.id if user is not None else None)


async def checked_form(request: Request) -> FormData:
    """The submitted form, after its CSRF token was checked against this browser's nonce."""
    form = await request.form()
    nonce = request.cookies.get(CSRF_COOKIE)
    sent = form.get("csrf_token")
    expected = csrf_token(nonce, session_user_id(request)) if nonce else None
    if not isinstance(sent, str) or expected is None or not hmac.compare_digest(sent, expected):
        raise PageForbidden("This form has expired or did not come from this site. "
                            "Go back, reload the page and submit it again.")
    _refuse_control_characters(form)
    return form


# Scans go on to the scan reader, which names what it cannot read and records the refusal.
_SCAN_FIELDS = ("scan", "wristband", "code")


def _refuse_control_characters(form: FormData) -> None:
    """No typed field carries a control character or a direction override (a NUL would even
    fail on PostgreSQL): the whole form is refused before any of it is read."""
    for name, value in form.multi_items():
        if not isinstance(value, str) or any(part in name for part in _SCAN_FIELDS):
            continue
        problem = free_text_problem(value, lines=True)
        if problem is not None:
            raise InvalidInput(f"{name.replace('_', ' ')}: {problem}")


Form = Annotated[FormData, Depends(checked_form)]


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
