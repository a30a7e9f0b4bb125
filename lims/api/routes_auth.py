"""Sign-in, sign-out and who is signed in; user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from lims.api.deps import (
    API_PURPOSE,
    SESSION_COOKIE,
    SESSION_PURPOSE,
    PendingChangeCheck,
    SessionDep,
    SettingsDep,
    read_token_claims,
    require_roles,
    set_session_cookie,
)
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import (
    LoginIn,
    Name,
    PasswordChangeIn,
    PasswordResetIn,
    ReasonIn,
    RoleChangeIn,
    TokenOut,
    UserChangeIn,
    UserIn,
    UserOut,
)
from lims.config import Settings
from lims.models import User
from lims.security import TokenError, issue_token
from lims.services.passwords import change_password, reset_password, sign_out
from lims.services.users import (
    ROLES,
    all_users,
    authenticate,
    change_role,
    create_user,
    deactivate_user,
    reactivate_user,
    unlock_user,
    update_user,
)
from workflows.errors import DomainError, ErrorCode
from workflows.roles import Role

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["auth"])
# Anyone signed in, even with a temporary password still to change (for /auth/me and
# /auth/password only).
SignedInAnyway = Annotated[User, Depends(PendingChangeCheck(ROLES, "use the system"))]
Admin = Annotated[User, Depends(require_roles(Role.ADMIN, action="administer users"))]

# One message whatever went wrong, so sign-in never tells whether a user name exists
# (an account that exists and is locked answers the same as one that does not).
SIGN_IN_FAILED = "sign-in failed: wrong user name or password, or the account is locked"


@router.post("/auth/login", responses=errors(401, 422, 429))
def login(body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep,
          response: Response) -> TokenOut:
    """Sign in: a bearer token for API clients and a session cookie for the UI.

    Repeated failures with one user name or from one address make the next attempt wait
    (429, saying how long), the same for names no account has."""
    try:
        user = authenticate(session, username=body.username, password=body.password,
                            source=request.client.host if request.client else None)
    except DomainError as error:
        if error.code in (ErrorCode.AUTHENTICATION_FAILED, ErrorCode.ACCOUNT_LOCKED):
            raise DomainError(ErrorCode.AUTHENTICATION_FAILED, SIGN_IN_FAILED) from None
        raise
    return _signed_in(user, settings, response)


def _signed_in(user: User, settings: Settings, response: Response) -> TokenOut:
    """A new session cookie and bearer token under the account's current version."""
    assert user.id is not None
    set_session_cookie(response, settings, issue_token(
        settings.secret_key, user.id, SESSION_PURPOSE, version=user.token_version))
    return TokenOut(access_token=issue_token(settings.secret_key, user.id, API_PURPOSE,
                                             version=user.token_version),
                    expires_in=settings.token_minutes * 60,
                    must_change_password=user.must_change_password)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Sign out: every session cookie and bearer token of the account ends at once.

    It needs no valid credentials: without them it only clears the browser's cookie."""
    # Read here, not declared: the operation stays open (no security scheme) in OpenAPI.
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    for token, purpose, minutes in (
            (bearer.strip() if scheme.lower() == "bearer" else None, API_PURPOSE,
             settings.token_minutes),
            (request.cookies.get(SESSION_COOKIE), SESSION_PURPOSE, settings.session_minutes)):
        if token:
            try:
                claims = read_token_claims(token, purpose, minutes)
            except TokenError:
                continue
            sign_out(session, user_id=claims.user_id, version=claims.version)
            break
    # A response of its own: the renewed session cookie of the request is not sent back.
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/auth/me", responses=errors(401, 403))
def me(user: SignedInAnyway) -> UserOut:
    """The signed-in user (also while a temporary password must still be changed)."""
    return UserOut.model_validate(user)


@router.post("/auth/password", responses=errors(401, 403, 422, 429))
def new_password(body: PasswordChangeIn, user: SignedInAnyway, session: SessionDep,
                 settings: SettingsDep, response: Response) -> TokenOut:
    """Change your own password (the current one re-entered). Every other session and
    token of the account ends; the answer carries a new token and session cookie."""
    assert user.id is not None
    changed = change_password(session, user_id=user.id, current_password=body.current_password,
                              new_password=body.new_password)
    return _signed_in(changed, settings, response)


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=errors(401, 403, 409, 422))
def add_user(body: UserIn, actor: Admin, session: SessionDep) -> UserOut:
    """Create a user with a role (admin)."""
    return UserOut.model_validate(create_user(session, actor=actor, **body.model_dump()))


@router.post("/users/{username}/unlock", responses=errors(401, 403, 404, 422))
def unlock(username: Name, body: ReasonIn, actor: Admin, session: SessionDep) -> UserOut:
    """Clear an account's sign-in waits after repeated failures, and a lock from before
    back-off (admin)."""
    return UserOut.model_validate(unlock_user(session, actor=actor, username=username,
                                              reason=body.reason))


@router.post("/users/{username}/password-reset", responses=errors(401, 403, 409, 422))
def password_reset(username: Name, body: PasswordResetIn, actor: Admin,
                   session: SessionDep) -> UserOut:
    """Set a temporary password (admin): the person's sessions end, and they must choose
    their own password at their next sign-in before anything else."""
    return UserOut.model_validate(reset_password(
        session, actor=actor, username=username, temporary_password=body.temporary_password,
        reason=body.reason))


@router.patch("/users/{username}", responses=errors(401, 403, 404, 422))
def change_user(username: Name, body: UserChangeIn, actor: Admin, session: SessionDep) -> UserOut:
    """Change a user's full name or e-mail address (admin)."""
    return UserOut.model_validate(update_user(session, actor=actor, username=username,
                                              **body.model_dump(exclude_unset=True)))


@router.post("/users/{username}/role", responses=errors(401, 403, 404, 409, 422))
def set_role(username: Name, body: RoleChangeIn, actor: Admin, session: SessionDep) -> UserOut:
    """Give a user another role (admin), with a reason: every session and token of the
    account ends. Refused for your own role and for the last active administrator."""
    return UserOut.model_validate(change_role(session, actor=actor, username=username,
                                              role=body.role, reason=body.reason))


@router.get("/users", responses=errors(401, 403))
def list_users(_actor: Admin, session: SessionDep) -> list[UserOut]:
    """Every account, active or not, by user name (admin)."""
    return [UserOut.model_validate(user) for user in all_users(session)]


@router.post("/users/{username}/deactivate", responses=errors(401, 403, 404, 409, 422))
def deactivate(username: Name, body: ReasonIn, actor: Admin, session: SessionDep) -> UserOut:
    """Deactivate an account (admin): every session and token of it ends at once. Refused
    for your own account and for the last active administrator."""
    return UserOut.model_validate(deactivate_user(session, actor=actor, username=username,
                                                  reason=body.reason))


@router.post("/users/{username}/reactivate", responses=errors(401, 403, 404, 409, 422))
def reactivate(username: Name, body: ReasonIn, actor: Admin, session: SessionDep) -> UserOut:
    """Reactivate a deactivated account (admin); the person signs in again."""
    return UserOut.model_validate(reactivate_user(session, actor=actor, username=username,
                                                  reason=body.reason))
