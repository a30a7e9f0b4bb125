"""Sign-in, sign-out and changing one's own password.

One message for every failed sign-in (no user enumeration); a throttled sign-in says how
long to wait in the same words whether the account exists or not.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from lims.models import User
from lims.security import TokenClaims
from lims.services.passwords import change_password, sign_out
from lims.services.users import authenticate
from lims.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    DbSession,
    Form,
    field,
    session_claims,
    session_user_id,
    signed_in_anyway,
)
from lims.web.middleware import set_session_cookie
from lims.web.render import redirect, render, set_csrf_cookie
from workflows.errors import DomainError, ErrorCode
from workflows.passwords import MIN_LENGTH

router = APIRouter()

# The same words whether the user is unknown, the password wrong or the account locked.
SIGN_IN_FAILED = ("Sign-in failed: the user name or password is incorrect. After several "
                  "failures, signing in with this user name waits a little longer each time.")
SignedInAnyway = Annotated[User, Depends(signed_in_anyway)]


def safe_next(target: str) -> str:
    """Only a path on this site (no scheme, no //host) may follow sign-in."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str = "/", expired: str = "") -> Response:
    """The sign-in form."""
    if session_user_id(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    message = "Your session expired: sign in again." if expired else ""
    return render(request, "login.html", {"next": safe_next(next), "notice": message})


@router.post("/login")
def login(request: Request, db: DbSession, form: Form) -> Response:
    """Check the password; on success start a session and a fresh CSRF nonce."""
    username, password = field(form, "username"), str(form.get("password") or "")
    target = safe_next(field(form, "next") or "/")
    try:
        user = authenticate(db, username=username, password=password,
                            source=request.client.host if request.client else None)
    except DomainError as error:
        throttled = error.code == ErrorCode.SIGNIN_THROTTLED
        return render(request, "login.html", {
            "next": target, "error": error.detail if throttled else SIGN_IN_FAILED,
            "username": username}, status_code=429 if throttled else 401)
    assert user.id is not None
    response = RedirectResponse("/account/password" if user.must_change_password else target,
                                status_code=303)
    set_session_cookie(request, response, TokenClaims(user.id, user.token_version,
                                                      int(time.time())))
    set_csrf_cookie(request, response, secrets.token_urlsafe(24))  # no fixation across sign-in
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, form: Form) -> RedirectResponse:
    """End the session, and every other session and token of the account."""
    claims = session_claims(request)
    if claims is not None:
        sign_out(db, user_id=claims.user_id, version=claims.version)
    response = redirect("/login", "Signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/account/password")
def password_page(request: Request, user: SignedInAnyway) -> Response:
    """Choose a new password (required after an administrator's reset)."""
    return render(request, "password.html", _page(user))


@router.post("/account/password")
def password_change(request: Request, db: DbSession, user: SignedInAnyway,
                    form: Form) -> Response:
    """Change one's own password; every other session ends, this one goes on."""
    new, again = str(form.get("new_password") or ""), str(form.get("new_password_again") or "")
    if new != again:
        return render(request, "password.html", _page(
            user, "The two new passwords differ: type the same one twice."), status_code=422)
    assert user.id is not None
    try:
        changed = change_password(db, user_id=user.id,
                                  current_password=str(form.get("current_password") or ""),
                                  new_password=new)
    except DomainError as error:
        status = 429 if error.code == ErrorCode.SIGNIN_THROTTLED else 422
        return render(request, "password.html", _page(user, _capital(error.detail)),
                      status_code=status)
    assert changed.id is not None
    response = redirect("/", "Your password was changed; every other session has ended.")
    set_session_cookie(request, response, TokenClaims(changed.id, changed.token_version,
                                                      int(time.time())))
    return response


def _page(user: User, error: str = "") -> dict[str, object]:
    return {"forced": user.must_change_password, "error": error, "min_length": MIN_LENGTH}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
