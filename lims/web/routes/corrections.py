"""Correcting a recorded step from its product page: the values as recorded, changed where
they were wrong, and the reason (lims.services.corrections writes the new record)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from lims.api.routing import OneThreadRoute
from lims.models import StepRecord, User
from lims.services.common import product_by_din
from lims.services.corrections import CORRECTING_ROLES, correct_step
from lims.services.steps import StepDataInvalid
from lims.web import forms
from lims.web.deps import DbSession, Form, PageForbidden, StaffUser, field
from lims.web.render import now, redirect, render, site_zone
from workflows.errors import DomainError
from workflows.product import TRIGGER_ROLES, Trigger
from workflows.steps import STEPS

router = APIRouter(route_class=OneThreadRoute)


def _allowed(user: User, step: str) -> None:
    if step not in STEPS:
        raise PageForbidden(f"There is no step called {step!r}.")
    if user.role not in TRIGGER_ROLES[Trigger(step)] | CORRECTING_ROLES:
        raise PageForbidden(f"A {user.role} may not correct the {STEPS[step].label.lower()}.")


def _recorded(db: Session, din: str, step: str) -> dict[str, str]:
    """The step's current values as the form shows them (times local, to the minute)."""
    product = product_by_din(db, din)
    record = db.exec(select(StepRecord).where(
        StepRecord.product_id == product.id, StepRecord.step == step,
        col(StepRecord.superseded).is_(False))).first()
    if record is None:
        return {}
    zone = site_zone()
    shown = {}
    for f in STEPS[step].fields:
        value = record.values.get(f.name)
        if f.kind == "datetime" and isinstance(value, str):
            value = datetime.fromisoformat(value)
        if f.kind == "bool" and isinstance(value, bool):
            value = "yes" if value else "no"
        shown[f.name] = forms.shown_time(value, zone) if f.kind == "datetime" else (
            "" if value is None else f"{value:g}" if isinstance(value, float) else str(value))
    return shown


def _render(request: Request, db: Session, din: str, step: str, *,
            typed: dict[str, str] | None = None, errors: dict[str, str] | None = None,
            error: str = "", reason: str = "", status_code: int = 200) -> HTMLResponse:
    recorded = _recorded(db, din, step)
    return render(request, "step_correct.html", {
        "product": product_by_din(db, din), "spec": STEPS[step], "recorded": recorded,
        "typed": typed or recorded, "errors": errors or {}, "error": error, "reason": reason,
        "time_hint": forms.TIME_HINT,
    }, status_code=status_code)


@router.get("/products/{din}/steps/{step}/correct")
def correction_page(request: Request, din: str, step: str, user: StaffUser,
                    db: DbSession) -> HTMLResponse:
    """The recorded values of the step, to change where they were wrong."""
    _allowed(user, step)
    return _render(request, db, din, step)


@router.post("/products/{din}/steps/{step}/correct")
def save_correction(request: Request, din: str, step: str, user: StaffUser, db: DbSession,
                    form: Form) -> Response:
    """Only the values typed differently from the record are corrected, with the reason."""
    _allowed(user, step)
    recorded = _recorded(db, din, step)
    submission = forms.read_step_form(STEPS[step], form, site_zone(), now())
    reason = field(form, "reason")
    changes: dict[str, object] = {}
    for name, text in submission.typed.items():
        if text == recorded.get(name, ""):
            continue
        value = submission.values.get(name)
        changes[name] = value.isoformat() if isinstance(value, datetime) else value
    if submission.errors:
        return _render(request, db, din, step, typed=submission.typed, reason=reason,
                       errors=submission.errors, status_code=422,
                       error="Some values cannot be read; nothing was corrected.")
    try:
        result = correct_step(db, actor=user, din=din, step=step, changes=changes,
                              reason=reason)
    except StepDataInvalid as invalid:
        return _render(request, db, din, step, typed=submission.typed, reason=reason,
                       errors=dict(invalid.errors), status_code=422,
                       error="The corrected values cannot be right; nothing was corrected.")
    except DomainError as refused:
        return _render(request, db, din, step, typed=submission.typed, reason=reason,
                       error=refused.detail, status_code=422)
    message = f"{STEPS[step].label} corrected."
    if result.release_suspended:
        message += " The release is suspended: QA must review and re-release the product."
    return redirect(f"/products/{result.product.din}", message)
