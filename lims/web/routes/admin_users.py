"""The administrator's user screens: accounts, roles, password resets, unlocks.

Every change goes through lims.services.users / passwords (audited there, with its reason);
a refusal shows the page again with the form as typed (never a password) and the refusal
beside the form it concerns; a change redirects back with what was done (post/redirect/get).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.models import User
from lims.services.common import utcnow
from lims.services.passwords import reset_password
from lims.services.signin import waits_by_name
from lims.services.users import (
    all_users,
    change_role,
    create_user,
    deactivate_user,
    reactivate_user,
    unlock_user,
    update_user,
    user_named,
)
from lims.web.deps import DbSession, Form, field, require
from lims.web.render import local, redirect, render
from workflows.errors import DomainError, InvalidInput, NotFound
from workflows.passwords import MIN_LENGTH
from workflows.roles import Role
from workflows.throttle import in_words
from workflows.words import role_words

router = APIRouter(route_class=OneThreadRoute)
AdminUser = Annotated[User, Depends(require(frozenset({Role.ADMIN}), "the user accounts"))]
ROLE_CHOICES = [(role.value, role_words(role.value)) for role in Role]
# What the pages keep of a refused form: everything typed but the passwords.
_SECRET = ("csrf_token", "temporary_password", "temporary_password_again")


def sign_in_state(user: User, waits: dict[str, datetime], now: datetime) -> tuple[str, str]:
    """How the account may sign in now, in words, and how urgent that is (a CSS class)."""
    if user.locked_at is not None:
        return f"Locked since {local(user.locked_at)}: unlock it", "bad"
    until = waits.get(user.username)
    if until is not None:
        return (f"Paused after failed sign-ins: {in_words((until - now).total_seconds())} "
                f"more (until {local(until, '%H:%M:%S')})", "warn")
    if user.failed_logins:
        return f"{user.failed_logins} failed sign-in{'s' * (user.failed_logins != 1)}", "muted"
    return "May sign in", ""


def _typed(form: FormData | None) -> dict[str, str]:
    if form is None:
        return {}
    return {name: value.strip() for name, value in form.items()
            if isinstance(value, str) and name not in _SECRET}


def _list(request: Request, db: Session, *, form: FormData | None = None, error: str = "",
          status_code: int = 200) -> HTMLResponse:
    now = utcnow()
    waits = waits_by_name(db, now)
    rows = [(user, *sign_in_state(user, waits, now)) for user in all_users(db)]
    return render(request, "admin_users.html", {
        "rows": rows, "roles": ROLE_CHOICES, "typed": _typed(form), "error": error,
        "min_length": MIN_LENGTH}, status_code=status_code)


def _account(request: Request, db: Session, actor: User, username: str, *,
             form_name: str = "", form: FormData | None = None, error: str = "",
             status_code: int = 200) -> HTMLResponse:
    account = user_named(db, username)
    if account is None:
        raise NotFound(f"There is no account with the user name {username}.")
    now = utcnow()
    state, level = sign_in_state(account, waits_by_name(db, now), now)
    return render(request, "admin_users_account.html", {
        "account": account, "own": account.id == actor.id, "sign_in": state,
        "sign_in_level": level,
        "roles": ROLE_CHOICES, "form_name": form_name, "typed": _typed(form),
        "error": error, "min_length": MIN_LENGTH}, status_code=status_code)


@router.get("/admin/users")
def users_page(request: Request, user: AdminUser, db: DbSession) -> HTMLResponse:
    """Every account with its role and state, and the form for a new account."""
    return _list(request, db)


@router.post("/admin/users")
def create_account(request: Request, user: AdminUser, db: DbSession, form: Form) -> Response:
    """A new account with a temporary password the person replaces at first sign-in."""
    password = str(form.get("temporary_password") or "")
    try:
        _same_twice(password, form)
        created = create_user(db, actor=user, username=field(form, "username"),
                              full_name=field(form, "full_name"), role=field(form, "role"),
                              email=field(form, "email"), password=password)
    except DomainError as refused:
        db.rollback()
        return _list(request, db, form=form, error=_capital(refused.detail),
                     status_code=_status(refused))
    return redirect(f"/admin/users/{created.username}", (
        f"Account {created.username} created for {created.full_name} "
        f"({role_words(created.role)}). Tell them the temporary password in person: they "
        "must choose their own at their first sign-in."))


@router.get("/admin/users/{username}")
def account_page(request: Request, username: str, user: AdminUser,
                 db: DbSession) -> HTMLResponse:
    """One account: its details and a form for each change an administrator may make."""
    return _account(request, db, user, username)


# --- the changes of one account: each reads its form, calls its service, says what it did ---

Change = Callable[[Session, User, str, FormData], str]


def _details(db: Session, actor: User, username: str, form: FormData) -> str:
    changed = update_user(db, actor=actor, username=username,
                          full_name=field(form, "full_name"), email=field(form, "email"))
    return f"Printed name and e-mail address of {changed.username} saved."


def _role(db: Session, actor: User, username: str, form: FormData) -> str:
    changed = change_role(db, actor=actor, username=username, role=field(form, "role"),
                          reason=field(form, "reason"))
    return (f"{changed.username} is now {role_words(changed.role)}. Every session of the "
            "account has ended: they sign in again.")


def _password(db: Session, actor: User, username: str, form: FormData) -> str:
    password = str(form.get("temporary_password") or "")
    _same_twice(password, form)
    changed = reset_password(db, actor=actor, username=username,
                             temporary_password=password, reason=field(form, "reason"))
    return (f"Temporary password set for {changed.username}. Every session of the account "
            "has ended; they must choose their own password at their next sign-in.")


def _unlock(db: Session, actor: User, username: str, form: FormData) -> str:
    changed = unlock_user(db, actor=actor, username=username, reason=field(form, "reason"))
    return f"{changed.username} may sign in again at once: every wait is cleared."


def _deactivate(db: Session, actor: User, username: str, form: FormData) -> str:
    changed = deactivate_user(db, actor=actor, username=username, reason=field(form, "reason"))
    return f"{changed.username} is deactivated: every session of the account has ended."


def _reactivate(db: Session, actor: User, username: str, form: FormData) -> str:
    changed = reactivate_user(db, actor=actor, username=username, reason=field(form, "reason"))
    return f"{changed.username} is active again and signs in afresh."


CHANGES: dict[str, Change] = {"details": _details, "role": _role, "password": _password,
                              "unlock": _unlock, "deactivate": _deactivate,
                              "reactivate": _reactivate}


@router.post("/admin/users/{username}/{change}")
def change_account(request: Request, username: str, change: str, user: AdminUser,
                   db: DbSession, form: Form) -> Response:
    """One change of an account (details, role, password, unlock, deactivate, reactivate)."""
    act = CHANGES.get(change)
    if act is None:
        raise NotFound(f"There is no change called {change!r} of an account.")
    try:
        message = act(db, user, username, form)
    except DomainError as refused:
        db.rollback()
        return _account(request, db, user, username, form_name=change, form=form,
                        error=_capital(refused.detail), status_code=_status(refused))
    return redirect(f"/admin/users/{username}", message)


def _same_twice(password: str, form: FormData) -> None:
    if password != str(form.get("temporary_password_again") or ""):
        raise InvalidInput("the two temporary passwords differ: type the same one twice")


def _status(refused: DomainError) -> int:
    """The API's status for the refusal (a refused value 422, a conflict 409, …)."""
    return status_of(refused.code)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
