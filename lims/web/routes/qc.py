"""QC results of the final product against its specification, and the end of QC testing."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from lims.api.routing import OneThreadRoute
from lims.models import User
from lims.services import submissions
from lims.services.common import product_by_din
from lims.services.qc import (
    QC_ROLES,
    awaiting_verification,
    complete_qc,
    current_results,
    final_volume,
    judge_typed,
    record_qc_result,
)
from lims.services.qc_sample import dose_weight_kg
from lims.services.qc_verification import verify_qc_correction
from lims.services.specifications import specification_of
from lims.web import drafts
from lims.web.deps import DbSession, Form, PageForbidden, StaffUser, field
from lims.web.forms import TIME_HINT, TimeEntryError, parse_time
from lims.web.render import local, now, redirect, render, site_zone
from workflows.errors import DomainError
from workflows.qc_methods import QC_METHODS
from workflows.specifications import QC_TESTS, allowed_tests, limit_text, required_tests

router = APIRouter(route_class=OneThreadRoute)


def _allowed(user: User) -> None:
    if user.role not in QC_ROLES:
        raise PageForbidden(f"A {user.role} may not enter QC results.")


def _render(request: Request, db: Session, din: str, errors: dict[str, str] | None = None,
            typed: dict[str, str] | None = None, error: str = "",
            restored: drafts.Restored | None = None,
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
        "time_hint": TIME_HINT, "restored": restored,
        "focus": _focus(rows, errors or {}, results, product.state),
    }, status_code=status_code)


def _focus(rows: list[dict[str, Any]], errors: dict[str, str], results: dict[str, Any],
           state: str) -> str:
    """Where the cursor starts: the first result to fix, else the first required result
    still missing, else the end of QC testing when all are in (never a button)."""
    names: list[str] = [str(row["test"].name) for row in rows]
    for name in names:
        if name in errors:
            return name
    for row in rows:
        if row["required"] and row["test"].name not in results:
            return str(row["test"].name)
    return "complete" if state == "formulated" else (names[0] if names else "")


@router.get("/products/{din}/qc")
def qc_page(request: Request, din: str, user: StaffUser, db: DbSession,
            change: str = "") -> HTMLResponse:
    """Enter QC results; each is checked and judged against the specification on a check
    page before it is saved (`change`: that check's values back in the form)."""
    _allowed(user)
    # What this person typed before their session ended comes back into the fields.
    assert user.id is not None
    held = submissions.held(db, user_id=user.id, page=_page(din), token=change)
    if held is not None and held.saved_at is None:  # "Change values" on the check page
        return _render(request, db, din, typed=_for_form(held.entered))
    restored = drafts.restore(db, user.id, request.url.path)
    return _render(request, db, din, typed=restored.values if restored else None,
                   restored=restored)


@router.post("/products/{din}/qc")
def save_results(request: Request, din: str, user: StaffUser, db: DbSession,
                 form: Form) -> Response:
    """Check every result typed in (nothing is saved here): the check page follows."""
    _allowed(user)
    assert user.id is not None
    if field(form, "action") == "discard":  # what came back after the session ended
        drafts.forget(db, user.id, request.url.path)
        return redirect(request.url.path,
                        "What you typed before your session ended was discarded.")
    typed = _typed(form)
    checked, errors, problem = _check(db, din, typed)
    if errors or problem or not checked:
        if not problem:
            problem = (f"Nothing saved: {len(errors)} value(s) need attention." if errors
                       else "Nothing to check: type a new result first.")
        return _render(request, db, din, errors=errors, typed=_for_form(typed),
                       status_code=422, error=problem)
    # Post/redirect/get: the check is a page of its own; only its confirmation saves.
    token = submissions.hold(db, user_id=user.id, page=_page(din), entered=typed)
    return redirect(f"/products/{din}/qc/check?c={token}")


def _page(din: str) -> str:
    return f"/products/{din}/qc"


# Every field of the QC form, as typed: the check holds them and the confirmation resends them.
TYPED_KEYS = ("sample_drawn_at", "reason",
              *(f"{prefix}{name}" for name in QC_TESTS
                for prefix in ("qc_", "method_", "instrument_", "volume_")))


def _typed(form: Any) -> dict[str, str]:
    return {key: field(form, key) for key in TYPED_KEYS}


def _for_form(entered: dict[str, Any]) -> dict[str, str]:
    """Held values as the form shows them (a result under its test's name)."""
    return {key.removeprefix("qc_"): str(value) for key, value in entered.items()}


def _check(db: Session, din: str, typed: dict[str, str]
           ) -> tuple[list[dict[str, Any]], dict[str, str], str]:
    """Each new result judged as the save would judge it (nothing written): the rows of the
    check page, the errors by test, and what is wrong with the sample's draw time."""
    product = product_by_din(db, din)
    current = current_results(db, product)
    drawn, drawn_error = _drawn_at(typed["sample_drawn_at"])
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for name, test in QC_TESTS.items():
        value = typed[f"qc_{name}"]
        previous = current.get(name)
        if not value or (previous is not None and previous.value == value):
            continue
        try:
            volume = _volume(typed[f"volume_{name}"])
            judged = judge_typed(db, din=din, test=name, value=value, reason=typed["reason"])
        except ValueError as error:  # a volume that is not a number
            errors[name] = str(error)
            continue
        except DomainError as error:
            errors[name] = error.detail
            continue
        if previous is None and (volume is None or (drawn is None and not drawn_error)):
            errors[name] = ("required for a first result: when the sample was drawn from the "
                            "final product (Sample drawn at) and its volume in ml")
            continue
        rows.append({"test": test, "judged": judged, "volume": volume,
                     "method": typed[f"method_{name}"],
                     "instrument": typed[f"instrument_{name}"]})
    return rows, errors, drawn_error


@router.get("/products/{din}/qc/check")
def check_page(request: Request, din: str, user: StaffUser, db: DbSession,
               c: str = "") -> Response:
    """The values as they would be saved, each judged: confirm to save, or change them."""
    _allowed(user)
    assert user.id is not None
    held = submissions.held(db, user_id=user.id, page=_page(din), token=c)
    if held is None:
        return redirect(_page(din), "That check is no longer current: nothing was saved. "
                                    "Enter the values again.")
    if held.saved_at is not None:
        return _already_saved(held.saved_at, din)
    entered = {key: str(held.entered.get(key, "")) for key in TYPED_KEYS}
    rows, errors, problem = _check(db, din, entered)
    if errors or problem or not rows:  # the results changed since the check
        return _render(request, db, din, errors=errors, typed=_for_form(entered),
                       status_code=409, error=problem or "The results changed since the "
                       "check: nothing was saved. Check the values again.")
    product = product_by_din(db, din)
    return render(request, "qc_check.html", {
        "product": product, "rows": rows, "entered": entered, "token": held.token,
        "seal": submissions.seal(user_id=user.id, page=_page(din), token=held.token,
                                 entered=entered),
        "drawn": _drawn_at(entered["sample_drawn_at"])[0],
        "out_of_spec": [r for r in rows if r["judged"].passed is False],
    })


@router.post("/products/{din}/qc/confirm")
def confirm_results(request: Request, din: str, user: StaffUser, db: DbSession,
                    form: Form) -> Response:
    """Save exactly what the check page showed; a change of an existing result needs a
    reason (given on the form)."""
    _allowed(user)
    assert user.id is not None
    typed, token = _typed(form), field(form, "submission")
    held = submissions.held(db, user_id=user.id, page=_page(din), token=token)
    if held is not None and held.saved_at is not None:  # Save pressed twice, Back and Save
        return _already_saved(held.saved_at, din)
    sealed = submissions.seal(user_id=user.id, page=_page(din), token=token, entered=typed)
    if (held is None or not hmac.compare_digest(field(form, "seal"), sealed)
            or {key: str(held.entered.get(key, "")) for key in TYPED_KEYS} != typed):
        shown = _for_form(held.entered) if held is not None else None
        return _render(request, db, din, typed=shown, status_code=409,
                       error="These are not the values that were checked (the check was "
                             "replaced or the form changed): nothing was saved. Check the "
                             "values again.")
    product = product_by_din(db, din)
    current = current_results(db, product)
    reason = typed["reason"]
    errors: dict[str, str] = {}
    drawn, drawn_error = _drawn_at(typed["sample_drawn_at"])
    saved: list[str] = []
    for name in QC_TESTS:
        value = typed[f"qc_{name}"]
        previous = current.get(name)
        if not value or (previous is not None and previous.value == value):
            continue
        try:
            row = record_qc_result(db, actor=user, din=din, test=name, value=value,
                                   method=typed[f"method_{name}"],
                                   instrument=typed[f"instrument_{name}"],
                                   sample_drawn_at=drawn,
                                   sample_volume_ml=_volume(typed[f"volume_{name}"]),
                                   reason=reason or None)
            saved.append(f"{QC_TESTS[name].label} {row.value}"
                         f"{' ' + row.unit if row.unit else ''}"
                         f"{' OUT OF SPECIFICATION' if row.passed is False else ''}")
        except ValueError as error:  # a volume that is not a number
            errors[name] = str(error)
        except DomainError as error:
            errors[name] = f"{drawn_error} {error.detail}".strip()
    if errors:
        return _render(request, db, din, errors=errors, typed=_for_form(typed),
                       status_code=422, error=f"{len(saved)} result(s) saved; {len(errors)} "
                                              "need attention.")
    submissions.mark_saved(db, user_id=user.id, page=_page(din), token=token, at=now())
    drafts.forget(db, user.id, _page(din))  # saved: nothing more to bring back
    return redirect(_page(din), f"{len(saved)} QC result(s) saved: {'; '.join(saved)}.")


def _already_saved(saved_at: datetime, din: str) -> Response:
    return redirect(_page(din), "These QC results were already saved at "
                                f"{local(saved_at, '%H:%M')}: nothing was saved twice.")


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
