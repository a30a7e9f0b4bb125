"""Release specification versions: draft, QA-signed approval, effective date."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlmodel import Session

from lims.api.routing import OneThreadRoute
from lims.config import get_settings
from lims.models import User
from lims.services.specification_history import ArmVersions, arm_versions
from lims.services.specifications import (
    approve_specification,
    new_specification_version,
    withdraw_draft,
)
from lims.web import forms
from lims.web.deps import DbSession, Form, PageForbidden, field, require
from lims.web.render import local, now, redirect, render, site_zone
from workflows.errors import DomainError
from workflows.roles import Role
from workflows.specification_limits import (
    ENDOTOXIN_BASES,
    LIMIT_FIELDS,
    limit_rows,
    limit_text,
    read_changes,
    typed_value,
)
from workflows.specifications import APPROVAL_MEANING

router = APIRouter(route_class=OneThreadRoute)
SpecUser = Annotated[User, Depends(require(frozenset({Role.ADMIN, Role.QA}),
                                           "the release specifications"))]
PAGE = "/specifications"


def _limits_html(limits: dict[str, Any], against: dict[str, Any] | None) -> list[Any]:
    """The limits in the registry's words; a changed one with the value in force beside it."""
    return [{"row": row, "html": Markup(limit_text(row.name, limits.get(row.name), "html")),
             "in_force": Markup(limit_text(row.name, (against or {}).get(row.name), "html"))}
            for row in limit_rows(limits, against)]


def _arm_context(arm: ArmVersions) -> dict[str, Any]:
    return {"arm": arm, "versions": [
        {"view": v, "limits": _limits_html(v.row.limits, arm.limits_in_force
                                           if arm.in_force and not v.in_force else None)}
        for v in arm.versions]}


def _render(request: Request, db: Session, user: User, *, error: str = "", error_arm: str = "",
            typed: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    arms = arm_versions(db, get_settings().protocol_code)
    typed_by_arm = {a.arm: {f.name: typed_value(f.name, a.base.limits.get(f.name))
                            for f in LIMIT_FIELDS} if a.base else {} for a in arms}
    if typed is not None and error_arm:
        typed_by_arm[error_arm] = {**typed_by_arm.get(error_arm, {}), **typed}
    return render(request, "specifications.html", {
        "arms": [_arm_context(a) for a in arms], "fields": LIMIT_FIELDS,
        "bases": ENDOTOXIN_BASES, "typed": typed_by_arm, "error": error, "error_arm": error_arm,
        "reason": (typed or {}).get("reason", ""), "may_approve": user.role == Role.QA,
        "meaning": APPROVAL_MEANING, "time_hint": forms.TIME_HINT,
    }, status_code=status_code)


def _arm(db: Session, arm: str) -> ArmVersions:
    found = [a for a in arm_versions(db, get_settings().protocol_code) if a.arm == arm]
    if not found:
        raise PageForbidden(f"There is no arm called {arm!r}.")
    return found[0]


@router.get(PAGE)
def specifications_page(request: Request, user: SpecUser, db: DbSession) -> HTMLResponse:
    """Each arm's versions, the limits of each, and the forms to draft and approve."""
    return _render(request, db, user)


@router.post(PAGE + "/{arm}/draft")
def draft(request: Request, arm: str, user: SpecUser, db: DbSession, form: Form) -> Response:
    """A new version with the limits typed differently from the newest approved one."""
    base = _arm(db, arm).base
    typed = {f.name: field(form, f"limit_{f.name}") for f in LIMIT_FIELDS}
    changes, errors = read_changes(typed, base.limits if base else {})
    reason = field(form, "reason")
    if errors:
        message = "; ".join(f"{next(f.label for f in LIMIT_FIELDS if f.name == n)}: {e}"
                            for n, e in errors.items())
        return _render(request, db, user, error=f"Nothing was drafted. {message}.",
                       error_arm=arm, typed={**typed, "reason": reason}, status_code=422)
    try:
        row = new_specification_version(db, actor=user, protocol_code=get_settings()
                                        .protocol_code, arm=arm, changes=changes, reason=reason)
    except DomainError as refused:
        return _render(request, db, user, error=f"Nothing was drafted: {refused.detail}.",
                       error_arm=arm, typed={**typed, "reason": reason}, status_code=422)
    return redirect(PAGE, f"{arm} v{row.version} drafted: it takes no effect until QA "
                          "approves it.")


@router.post(PAGE + "/{arm}/versions/{version}/approve")
def approve(request: Request, arm: str, version: int, user: SpecUser, db: DbSession,
            form: Form) -> Response:
    """QA's signature "Approved": user name and password re-entered, and when it takes effect."""
    if user.role != Role.QA:
        raise PageForbidden(f"A {user.role} may not approve release specifications.")
    text = field(form, "effective_from")
    try:
        when = forms.parse_time(text, site_zone(), now()) if text else None
        row = approve_specification(
            db, actor=user, username=field(form, "username"),
            password=str(form.get("password") or ""), protocol_code=get_settings().protocol_code,
            arm=arm, version=version, effective_from=when)
    except forms.TimeEntryError as error:
        return _render(request, db, user, error=f"Effective from: {error}; nothing was signed.",
                       error_arm=arm, status_code=422)
    except DomainError as refused:
        return _render(request, db, user, error=f"Not approved: {refused.detail}.",
                       error_arm=arm, status_code=409)
    return redirect(PAGE, f"{arm} v{row.version} approved: signed by "
                          f"{row.approved_printed_name} at {local(row.approved_at)}, meaning "
                          f"\"{APPROVAL_MEANING}\"; in force from {local(row.effective_from)}.")


@router.post(PAGE + "/{arm}/versions/{version}/withdraw")
def withdraw(request: Request, arm: str, version: int, user: SpecUser, db: DbSession,
             form: Form) -> Response:
    """A draft that is not to take effect, withdrawn with a reason and kept."""
    try:
        row = withdraw_draft(db, actor=user, protocol_code=get_settings().protocol_code,
                             arm=arm, version=version, reason=field(form, "reason"))
    except DomainError as refused:
        return _render(request, db, user, error=f"Not withdrawn: {refused.detail}.",
                       error_arm=arm, status_code=409)
    return redirect(PAGE, f"{arm} v{row.version} withdrawn: it will never take effect.")
