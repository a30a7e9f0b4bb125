"""Dependencies every route shares: one Session per request, the signed-in user, roles.

`require_roles` is the one place a route checks a role. It gives an early 403 before any
work; the service's own check stays authoritative.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from lims.config import Settings, get_settings
from lims.models import User
from lims.security import TokenError, issue_token, read_token
from lims.services.common import require_role
from workflows.errors import DomainError, ErrorCode

SESSION_COOKIE = "lims_session"
API_PURPOSE, SESSION_PURPOSE = "api", "session"

_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/v1/auth/login")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="Session cookie set by POST /api/v1/auth/login (UI)")


def get_engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; it rolls back whatever a service did not commit."""
    session = Session(get_engine_of(request), expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
async def settings() -> Settings:
    """The cached settings (async: no worker thread for a dictionary look-up)."""
    return get_settings()


SettingsDep = Annotated[Settings, Depends(settings)]


def _signed_out(detail: str) -> DomainError:
    return DomainError(ErrorCode.AUTHENTICATION_FAILED, detail)


def get_current_user(
    session: SessionDep, settings: SettingsDep, response: Response,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User:
    """The user of a valid bearer token, or else of a valid UI session cookie."""
    if bearer is not None:
        token, purpose, minutes = bearer.credentials, API_PURPOSE, settings.token_minutes
    elif cookie:
        token, purpose, minutes = cookie, SESSION_PURPOSE, settings.session_minutes
    else:
        raise _signed_out("sign in first: send a bearer token or the session cookie")
    try:
        user_id = read_token(settings.secret_key, token, purpose, minutes * 60)
    except TokenError as error:
        raise _signed_out(str(error)) from None
    user = session.get(User, user_id)
    if user is None or not user.active or user.locked_at is not None:
        raise _signed_out("this account cannot be used; sign in again")
    if purpose == SESSION_PURPOSE:  # an idle session ends; activity keeps it alive
        set_session_cookie(response, settings, issue_token(settings.secret_key, user_id,
                                                           SESSION_PURPOSE))
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_minutes * 60,
                        httponly=True, samesite="strict", path="/",
                        secure=settings.environment != "development")


class RoleCheck:
    """A dependency that admits only users of `roles` (403 otherwise)."""

    def __init__(self, roles: frozenset[str], action: str) -> None:
        self.roles, self.action = roles, action

    async def __call__(self, user: CurrentUser) -> User:
        # async: a pure check, so it runs on the event loop instead of a worker thread
        require_role(user, self.roles, self.action)
        return user


def require_roles(*roles: str, action: str = "do this") -> RoleCheck:
    """The one place a route states who may call it; the service re-checks."""
    return RoleCheck(frozenset(roles), action)


# Everyone who works with products reads them; the administrator manages users only.
LAB_ROLES = frozenset({"technician", "supervisor", "qa", "physician"})
Reader = Annotated[User, Depends(require_roles(*LAB_ROLES, action="read lab records"))]
