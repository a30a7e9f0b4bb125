"""QC results of the final product against its specification, and the end of QC testing."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from lims.models import User
from lims.services.common import product_by_din
from lims.services.qc import (
    QC_ROLES,
    awaiting_verification,
    complete_qc,
    current_results,
    final_volume,
    record_qc_result,
)
from lims.services.qc_sample import dose_weight_kg
from lims.services.qc_verification import verify_qc_correction
from lims.services.specifications import specification_of
from lims.web.deps import DbSession, Form, PageForbidden, StaffUser, field
from lims.web.forms import TIME_HINT, TimeEntryError, parse_time
from lims.web.render import now, redirect, render, site_zone
from workflows.errors import DomainError
from workflows.qc_methods import QC_METHODS
from workflows.specifications import QC_TESTS, allowed_tests, limit_text, required_tests

router = APIRouter()


def _allowed(user: User) -> None:
    if user.role not in QC_ROLES:
        raise PageForbidden(f"A {user.role} may not enter QC results.")


def _render(request: Request, db: Session, din: str, errors: dict[str, str] | None = None,
            typed: dict[str, str] | None = None, error: str = "",
            status_code: int = 200) -> HTMLResponse:
    product = product_by_din(db, din)
    spec, version = specification_of(db, product)
    weight = dose_weight_kg(db, product)  # the weight taken at formulation
    volume = final_volume(db, product)
    results = current_results(db, product)
    required = required_tests(spec)
    rows = [{"test": QC_TESTS[name], "required": name in required,
             "limit": limit_text(name, spec, weight_kg=weight, volume_ml=volume),
             "result": results.get(name), "methods": tuple(QC_METHODS.get(name, {}))}
            for name in allowed_tests(spec)]
    missing = [QC_TESTS[n].label for n in required if n not in results]
    unverified = awaiting_verification(db, product)
    users = {r.analyst_id: db.get(User, r.analyst_id) for r in unverified}
    return render(request, "qc.html", {
        "product": product, "rows": rows, "spec_version": version, "missing": missing,
        "unverified": unverified, "users": users, "qc_tests": QC_TESTS,
        "errors": errors or {}, "typed": typed or {}, "error": error,
        "time_hint": TIME_HINT,
    }, status_code=status_code)


@router.get("/products/{din}/qc")
def qc_page(request: Request, din: str, user: StaffUser, db: DbSession) -> HTMLResponse:
    """Enter QC results; each is judged against the specification as it is saved."""
    _allowed(user)
    return _render(request, db, din)


@router.post("/products/{din}/qc")
def save_results(request: Request, din: str, user: StaffUser, db: DbSession,
                 form: Form) -> Response:
    """Save every result typed in; a change of an existing result needs a reason."""
    _allowed(user)
    product = product_by_din(db, din)
    current = current_results(db, product)
    reason = field(form, "reason")
    errors: dict[str, str] = {}
    typed: dict[str, str] = {key: field(form, key) for key in ("sample_drawn_at",)}
    drawn, drawn_error = _drawn_at(typed["sample_drawn_at"])
    saved = 0
    for name in QC_TESTS:
        value = field(form, f"qc_{name}")
        typed[name] = value
        for key in (f"method_{name}", f"instrument_{name}", f"volume_{name}"):
            typed[key] = field(form, key)
        previous = current.get(name)
        if not value or (previous is not None and previous.value == value):
            continue
        try:
            record_qc_result(db, actor=user, din=din, test=name, value=value,
                             method=typed[f"method_{name}"],
                             instrument=typed[f"instrument_{name}"], sample_drawn_at=drawn,
                             sample_volume_ml=_volume(typed[f"volume_{name}"]),
                             reason=reason or None)
            saved += 1
        except ValueError as error:  # a volume that is not a number
            errors[name] = str(error)
        except DomainError as error:
            errors[name] = f"{drawn_error} {error.detail}".strip()
    if errors:
        return _render(request, db, din, errors=errors, typed=typed, status_code=422,
                       error=f"{saved} result(s) saved; {len(errors)} need attention.")
    return redirect(f"/products/{din}/qc", f"{saved} QC result(s) saved.")


def _drawn_at(text: str) -> tuple[datetime | None, str]:
    """The sample draw time as typed (like a step's times), or why it cannot be read."""
    if not text.strip():
        return None, ""
    try:
        return parse_time(text, site_zone(), now()), ""
    except TimeEntryError as error:
        return None, f"Sample drawn at: {error}."


def _volume(text: str) -> float | None:
    """A typed sample volume in ml; ValueError naming what was typed if it is no number."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"Sample volume: type a number of ml (e.g. 0.5), got {text!r}."
                         ) from None


@router.post("/products/{din}/qc/complete")
def finish(request: Request, din: str, user: StaffUser, db: DbSession, form: Form) -> Response:
    """All required results are in: the product joins the QA queue."""
    _allowed(user)
    try:
        product = complete_qc(db, actor=user, din=din)
    except DomainError as error:
        return _render(request, db, din, error=error.detail, status_code=409)
    return redirect(f"/products/{product.din}",
                    "QC complete: the product is in the QA queue for review and release.")


@router.post("/products/{din}/qc/{result_id}/verify")
def verify(request: Request, din: str, result_id: int, user: StaffUser, db: DbSession,
           form: Form) -> Response:
    """A second person verifies a correction of an out-of-specification result (signed)."""
    if field(form, "username") != user.username:
        return _render(request, db, din, status_code=403,
                       error="A signature can only be applied by its owner: sign in as yourself.")
    try:
        verify_qc_correction(db, actor=user, result_id=result_id,
                             password=str(form.get("password") or ""), note=field(form, "note"))
    except DomainError as error:
        return _render(request, db, din, error=error.detail, status_code=409)
    return redirect(f"/products/{din}/qc",
                    f"Correction verified and signed by {user.full_name}.")
