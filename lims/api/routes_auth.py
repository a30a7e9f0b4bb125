"""Sign-in, sign-out and who is signed in; user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from lims.api.deps import (
    API_PURPOSE,
    SESSION_COOKIE,
    SESSION_PURPOSE,
    SessionDep,
    SettingsDep,
    require_roles,
    set_session_cookie,
)
from lims.api.errors import errors
from lims.api.schemas import LoginIn, Name, ReasonIn, TokenOut, UserChangeIn, UserIn, UserOut
from lims.models import User
from lims.security import issue_token
from lims.services.users import ROLES, authenticate, create_user, unlock_user, update_user
from workflows.errors import DomainError, ErrorCode

router = APIRouter(tags=["auth"])
AnyUser = Annotated[User, Depends(require_roles(*ROLES))]
Admin = Annotated[User, Depends(require_roles("admin", action="administer users"))]

# One message whatever went wrong, so sign-in never tells whether a user name exists
# (an account that exists and is locked answers the same as one that does not).
SIGN_IN_FAILED = "sign-in failed: wrong user name or password, or the account is locked"


@router.post("/auth/login", responses=errors(401, 422))
def login(body: LoginIn, session: SessionDep, settings: SettingsDep,
          response: Response) -> TokenOut:
    """Sign in: a bearer token for API clients and a session cookie for the UI."""
    try:
        user = authenticate(session, username=body.username, password=body.password)
    except DomainError as error:
        if error.code in (ErrorCode.AUTHENTICATION_FAILED, ErrorCode.ACCOUNT_LOCKED):
            raise DomainError(ErrorCode.AUTHENTICATION_FAILED, SIGN_IN_FAILED) from None
        raise
    assert user.id is not None
    set_session_cookie(response, settings,
                       issue_token(settings.secret_key, user.id, SESSION_PURPOSE))
    return TokenOut(access_token=issue_token(settings.secret_key, user.id, API_PURPOSE),
                    expires_in=settings.token_minutes * 60)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout() -> Response:
    """Sign out of the UI session (a bearer token simply expires).

    It needs no credentials: clearing the browser's own cookie gives nobody anything."""
    # A response of its own: the renewed session cookie of the request is not sent back.
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/auth/me", responses=errors(401, 403))
def me(user: AnyUser) -> UserOut:
    """The signed-in user."""
    return UserOut.model_validate(user)


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=errors(401, 403, 409, 422))
def add_user(body: UserIn, actor: Admin, session: SessionDep) -> UserOut:
    """Create a user with a role (admin)."""
    return UserOut.model_validate(create_user(session, actor=actor, **body.model_dump()))


@router.post("/users/{username}/unlock", responses=errors(401, 403, 404, 422))
def unlock(username: Name, body: ReasonIn, actor: Admin, session: SessionDep) -> UserOut:
    """Unlock an account locked after repeated sign-in failures (admin)."""
    return UserOut.model_validate(unlock_user(session, actor=actor, username=username,
                                              reason=body.reason))


@router.patch("/users/{username}", responses=errors(401, 403, 404, 422))
def change_user(username: Name, body: UserChangeIn, actor: Admin, session: SessionDep) -> UserOut:
    """Change a user's full name or e-mail address (admin)."""
    return UserOut.model_validate(update_user(session, actor=actor, username=username,
                                              **body.model_dump(exclude_unset=True)))
