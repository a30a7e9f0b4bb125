"""Dependencies every route shares: one Session per request, the signed-in user, roles.

`require_roles` is the one place a route checks a role. It gives an early 403 before any
work; the service's own check stays authoritative.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine, Table, bindparam, select
from sqlmodel import Session

from lims.config import Settings, get_settings
from lims.db import get_engine
from lims.models import User
from lims.prepared import Prepared, instance
from lims.security import TokenClaims, TokenError, issue_token, read_claims
from lims.services.common import require_role
from workflows.errors import DomainError, ErrorCode
from workflows.roles import LAB_ROLES

SESSION_COOKIE = "lims_session"
API_PURPOSE, SESSION_PURPOSE = "api", "session"
_U: Table = User.__table__  # type: ignore[attr-defined]
# Compiled once and run on the driver's cursor (lims.prepared): it runs on every call.
_USER = Prepared(select(_U).where(_U.c.id == bindparam("uid")))
COOKIE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # safe methods: no change to records

_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/v1/auth/login")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="Session cookie set by POST /api/v1/auth/login (UI); "
                                   "it authorizes reading (GET) only")


def get_engine_of(request: Request) -> Engine:
    """The application's engine (the configured database's when the app was made without)."""
    engine: Engine | None = getattr(request.app.state, "engine", None)
    return engine or get_engine()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; it rolls back whatever a service did not commit.

    async: making a Session touches no database, so it needs no worker thread; only a
    transaction left open (a refusal, a read) is rolled back in one.
    """
    session = Session(get_engine_of(request), expire_on_commit=False)
    try:
        yield session
    finally:
        await end_session_soon(session)


async def end_session_soon(session: Session) -> None:
    """End a request's session once it has answered. A transaction left open (a refusal, a
    read) is rolled back on a thread of its own limiter: behind the requests' threads, it
    would keep its lock (SQLite's write lock, a row's) from the requests waiting for it."""
    if not session.in_transaction():
        session.close()
        return
    await anyio.to_thread.run_sync(end_session, session, limiter=_cleanup_limiter())


_CLEANUP: RunVar[CapacityLimiter] = RunVar("lims_session_cleanup")


def _cleanup_limiter() -> CapacityLimiter:
    """This event loop's threads for ending sessions (anyio keeps its own default alike)."""
    try:
        return _CLEANUP.get()
    except LookupError:
        limiter = CapacityLimiter(40)
        _CLEANUP.set(limiter)
        return limiter


@contextmanager
def own_session(engine: Engine) -> Iterator[Session]:
    """The same, for a route that opens its session in its own worker thread."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        end_session(session)


def end_session(session: Session) -> None:
    session.rollback()
    session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def settings() -> Settings:
    """The cached settings (async: no worker thread for a dictionary look-up)."""
    return get_settings()


SettingsDep = Annotated[Settings, Depends(settings)]


def _signed_out(detail: str) -> DomainError:
    return DomainError(ErrorCode.AUTHENTICATION_FAILED, detail)


@dataclass(frozen=True)
class Credentials:
    """A valid token's user id and version, before the account itself is looked up."""

    user_id: int
    version: int = 0


async def get_credentials(
    request: Request, response: Response,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Credentials:
    """A valid bearer token, or else (reading only) a valid session cookie.

    async: checking an HMAC needs no database and no worker thread.
    """
    settings = get_settings()
    if bearer is not None:
        token, purpose, minutes = bearer.credentials, API_PURPOSE, settings.token_minutes
    elif cookie:
        if request.method not in COOKIE_METHODS:
            # A browser sends the cookie with any cross-site form post; only a bearer token,
            # which a page of another site cannot read, may change records (CSRF).
            raise _signed_out("the session cookie opens the API for reading only: send the "
                              "bearer token from POST /api/v1/auth/login to make changes")
        token, purpose, minutes = cookie, SESSION_PURPOSE, settings.session_minutes
    else:
        raise _signed_out("sign in first: send a bearer token or the session cookie")
    try:
        claims = read_token_claims(token, purpose, minutes)
    except TokenError as error:
        raise _signed_out(str(error)) from None
    if purpose == SESSION_PURPOSE:  # an idle session ends; activity keeps it alive
        set_session_cookie(response, settings, renewed(claims))
    return Credentials(claims.user_id, claims.version)


def bearer_credentials(authorization: str) -> Credentials | None:
    """The credentials of an `Authorization: Bearer …` header's token, if it verifies: for
    code before or beside the routes' own check (get_credentials), which admits the same."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = read_token_claims(token, API_PURPOSE, get_settings().token_minutes)
    except TokenError:
        return None
    return Credentials(claims.user_id, claims.version)


def read_token_claims(token: str, purpose: str, minutes: int) -> TokenClaims:
    """A token's claims; a session cookie also within its absolute lifetime."""
    settings = get_settings()
    lifetime = settings.session_hours * 3600 if purpose == SESSION_PURPOSE else None
    return read_claims(settings.secret_key, token, purpose, minutes * 60,
                       lifetime_seconds=lifetime)


def renewed(claims: TokenClaims) -> str:
    """The session cookie's token issued again now: same version, same start."""
    return issue_token(get_settings().secret_key, claims.user_id, SESSION_PURPOSE,
                       version=claims.version, started=claims.started)


CredentialsDep = Annotated[Credentials, Depends(get_credentials)]


def signed_in_user(session: Session, credentials: Credentials, *,
                   pending_change_ok: bool = False) -> User:
    """The account of `credentials`, if it may still be used (`usable_account`), read in
    the request's own session: for a route checking its caller in its own thread."""
    return usable_account(account(session.connection(), credentials.user_id), credentials,
                          pending_change_ok=pending_change_ok)


def account(conn: Connection, user_id: int) -> User | None:
    """The account `user_id`, detached: one Core row, not an ORM load (it runs before every
    call; services read its id, name and role, and a sign-in check loads its own copy)."""
    row = _USER.first(conn, {"uid": user_id})
    return instance(User, row) if row is not None else None


def account_on_its_own(engine: Engine, user_id: int) -> User | None:
    """`account` read on a connection of its own, given back before this returns.

    For a dependency: it runs on one of the worker's threads and the route on another, so
    a transaction it left open would hold SQLite's write lock (or a pooled connection)
    while the request waits for a thread, perhaps held by requests waiting for that very
    lock (tests/api/test_request_threads.py)."""
    with engine.connect() as conn:
        return account(conn, user_id)


def usable_account(user: User | None, credentials: Credentials, *,
                   pending_change_ok: bool = False) -> User:
    """`user` if it may still be used: active, not locked, and its token version unchanged
    since the token was issued (sign-out, a password change or reset raise it). An account
    with a temporary password may only change it."""
    if user is None or not user.active or user.locked_at is not None:
        raise _signed_out("this account cannot be used; sign in again")
    if user.token_version != credentials.version:
        raise _signed_out("this session has ended (signed out, or the password was changed "
                          "or reset); sign in again")
    if user.must_change_password and not pending_change_ok:
        raise DomainError(ErrorCode.PASSWORD_CHANGE_REQUIRED,
                          "an administrator set a temporary password: choose your own first "
                          "(POST /api/v1/auth/password) before anything else")
    return user


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_minutes * 60,
                        httponly=True, samesite="strict", path="/",
                        secure=settings.secure_cookies)


class RoleRule:
    """Who may call a route: `roles`, for `action` (403 otherwise)."""

    def __init__(self, roles: frozenset[str], action: str) -> None:
        self.roles, self.action = roles, action

    def admit(self, session: Session, credentials: Credentials) -> User:
        user = signed_in_user(session, credentials)
        require_role(user, self.roles, self.action)
        return user

    def admit_on_its_own(self, request: Request, credentials: Credentials, *,
                         pending_change_ok: bool = False) -> User:
        """`admit`, reading the account on a connection of its own (a dependency's)."""
        user = usable_account(account_on_its_own(get_engine_of(request), credentials.user_id),
                              credentials, pending_change_ok=pending_change_ok)
        require_role(user, self.roles, self.action)
        return user


class RoleCheck(RoleRule):
    """A dependency that gives the route a signed-in user of `roles`, read on a connection
    of its own (`account_on_its_own`): the route opens the request's session on its thread."""

    def __call__(self, request: Request, credentials: CredentialsDep) -> User:
        return self.admit_on_its_own(request, credentials)


class DeferredRoleCheck(RoleRule):
    """The same rule, applied by the route itself (`admit`) in its own worker thread.

    For the bench's hot routes: each synchronous dependency costs a thread hop, and a
    scan-and-advance should cost one.
    """

    async def __call__(self, credentials: CredentialsDep) -> Credentials:
        return credentials


class PendingChangeCheck(RoleRule):
    """The same, admitting too a user who must still change a temporary password: for
    changing it, and for reading who one is."""

    def __call__(self, request: Request, credentials: CredentialsDep) -> User:
        return self.admit_on_its_own(request, credentials, pending_change_ok=True)


def require_roles(*roles: str, action: str = "do this") -> RoleCheck:
    """The one place a route states who may call it; the service re-checks."""
    return RoleCheck(frozenset(roles), action)


# Everyone who works with products reads them; the administrator manages users only.
Reader = Annotated[User, Depends(require_roles(*LAB_ROLES, action="read lab records"))]
