"""Sign-in and sign-out. One message for every failed sign-in: no user enumeration."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from lims.services.users import authenticate
from lims.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    DbSession,
    Form,
    field,
    session_user_id,
)
from lims.web.middleware import set_session_cookie
from lims.web.render import redirect, render, set_csrf_cookie
from workflows.errors import DomainError

router = APIRouter()

# The same words whether the user is unknown, the password wrong or the account locked.
SIGN_IN_FAILED = ("Sign-in failed: the user name or password is incorrect, or the account is "
                  "locked. After repeated failures an administrator must unlock the account.")


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
        user = authenticate(db, username=username, password=password)
    except DomainError:
        return render(request, "login.html", {"next": target, "error": SIGN_IN_FAILED,
                                              "username": username}, status_code=401)
    assert user.id is not None
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, user.id)
    set_csrf_cookie(request, response, secrets.token_urlsafe(24))  # no fixation across sign-in
    return response


@router.post("/logout")
def logout(request: Request, form: Form) -> RedirectResponse:
    """End the session."""
    response = redirect("/login", "Signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
