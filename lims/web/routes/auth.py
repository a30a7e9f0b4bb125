"""Sign-in, sign-out and changing one's own password.

One message for every failed sign-in (no user enumeration); a throttled sign-in says how
long to wait in the same words whether the account exists or not.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from lims.api.routing import OneThreadRoute
from lims.config import get_settings
from lims.models import User
from lims.security import TokenClaims
from lims.services.passwords import change_password, sign_out
from lims.services.users import authenticate
from lims.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    DbSession,
    Form,
    ended_session,
    field,
    session_claims,
    session_seconds_left,
    session_time_left,
    session_user_id,
    signed_in_anyway,
)
from lims.web.drafts import KEPT_NOTICE
from lims.web.middleware import set_session_cookie
from lims.web.render import flash_message, local, now, redirect, render, set_csrf_cookie
from workflows.errors import DomainError, ErrorCode
from workflows.passwords import MIN_LENGTH

router = APIRouter(route_class=OneThreadRoute)

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
    """The sign-in form; it says so when the session ended (not when the person signed
    out), and that what they typed is kept when it was."""
    if session_user_id(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    kept = flash_message(request)
    notice = kept if kept == KEPT_NOTICE else ended_words(
        expired or ("1" if ended_session(request) is not None else ""))
    return render(request, "login.html", {"next": safe_next(next), "notice": notice,
                                          "flash": "" if kept == KEPT_NOTICE else kept})


def ended_words(why: str) -> str:
    """Why the session ended, in the sign-in page's words ("" when it did not)."""
    settings = get_settings()
    if why == "limit":
        return (f"Your session ended: it reached its {settings.session_hours}-hour limit. "
                "Sign in again to go on.")
    if why:
        return (f"Your session ended after {settings.session_minutes} minutes without "
                "activity. Sign in again to go on.")
    return ""


@router.post("/session/renew")
def renew_session(request: Request, user: SignedInAnyway, form: Form) -> Response:
    """Stay signed in (the warning's button): this answer renews the session, as every page
    does. The page's script asks for JSON; without it, back to the page with a message."""
    claims = session_claims(request)
    seconds = session_seconds_left(claims, time.time()) if claims is not None else 0
    ends = local(now() + timedelta(seconds=seconds), "%H:%M")
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"seconds": seconds, "ends": ends})
    return redirect(safe_next(field(form, "next") or "/"),
                    f"You are still signed in; without activity your session ends at {ends}.")


@router.get("/session/status")
def session_status(request: Request) -> JSONResponse:
    """How long the session has left, for the page's warning (another tab may have renewed
    it). Asking is no activity: this answer does not renew the session."""
    claims = session_claims(request)
    seconds = session_time_left(claims, time.time()) if claims is not None else 0
    return JSONResponse({"seconds": seconds,
                         "ends": local(now() + timedelta(seconds=seconds), "%H:%M")})


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
            "next": target, "error": f"Sign-in is paused. {error.detail}" if throttled
            else SIGN_IN_FAILED,
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
