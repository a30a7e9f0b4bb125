"""A process step: scan, only that step's fields, check (computed values, warnings), save.

Enter in any field runs the check; the save is a separate, deliberate button on the
confirmation that follows a clean check, next to the witness's sign-in when the step
needs a witness.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from lims.api.routing import OneThreadRoute
from lims.models import Patient, User
from lims.services import submissions
from lims.services.common import product_by_din
from lims.services.steps import StepDataInvalid, StepResult, perform_step
from lims.services.witness import PHYSICIAN_SIGNED_STEPS
from lims.web import drafts, forms, stepcheck
from lims.web.deps import DbSession, Form, PageForbidden, StaffUser, field
from lims.web.nextstep import STEP_TITLES, next_action
from lims.web.render import local, now, redirect, render, site_zone
from lims.web.vocab import computed_rows
from workflows.errors import DomainError, ErrorCode, IdentityMismatch
from workflows.identity import WRISTBAND_STEPS
from workflows.product import TRIGGER_ROLES, Trigger, requires_witness
from workflows.steps import STEPS
from workflows.words import state_words

router = APIRouter(route_class=OneThreadRoute)

WITNESS_CODES = frozenset({ErrorCode.WITNESS_REQUIRED, ErrorCode.WITNESS_SAME_USER,
                           ErrorCode.WITNESS_NOT_AUTHENTICATED,
                           ErrorCode.AUTHENTICATION_FAILED, ErrorCode.ACCOUNT_LOCKED,
                           ErrorCode.FORBIDDEN})
# Refusals of the administering physician's own signature, shown beside its fields.
SIGNATURE_CODES = frozenset({ErrorCode.SIGNATURE_REQUIRED, ErrorCode.SIGNATURE_INVALID,
                             ErrorCode.SIGNATURE_NOT_AUTHENTICATED})


def _allowed(user: User, step: str) -> None:
    if step not in STEPS:
        raise PageForbidden(f"There is no step called {step!r}.")
    if user.role not in TRIGGER_ROLES[Trigger(step)]:
        raise PageForbidden(f"A {user.role} may not perform the {STEPS[step].label.lower()} "
                            "step.")


def _not_now(db: Session, din: str, step: str) -> Response | None:
    """A redirect to the product page when the product does not wait for this step."""
    preview = stepcheck.load(db, din, step)
    product = preview.context.product
    action = next_action(product.state, product.arm)
    if action.step != step:
        return redirect(f"/products/{product.din}",
                        f"{STEP_TITLES[step]} is not possible now: the product is at "
                        f"\"{state_words(product.state)}\" and waits for {action.title}.")
    return None


@router.get("/products/{din}/steps/{step}")
def step_form(request: Request, din: str, step: str, user: StaffUser, db: DbSession,
              scan: str = "", wristband: str = "", check: str = "",
              change: str = "") -> Response:
    """The step's form; a scan carried from the scan box is checked and shown. `check` is
    the page of a clean check (Save confirms it), `change` its values back in the form."""
    _allowed(user, step)
    held = _held(db, user, din, step, check or change)
    if held is not None and held.saved_at is not None:
        return _already_saved(db, din, step, held.saved_at)
    if (elsewhere := _not_now(db, din, step)) is not None:
        return elsewhere
    if held is not None:
        entered = held.entered
        submission = forms.read_step_form(STEPS[step], _as_form(entered), site_zone(), now())
        scan, wristband = str(entered.get("scan", "")), str(entered.get("wristband", ""))
        if change:  # the values back in the form, the scans still confirmed
            preview = stepcheck.check(db, actor=user, din=din, step=step, scan=scan,
                                      wristband=wristband, values={}, time_errors={},
                                      now=now(), record=False)
            return render_step(request, db, preview, user=user, scan=scan,
                               wristband=wristband, typed=submission.typed)
        preview = stepcheck.check(db, actor=user, din=din, step=step, scan=scan,
                                  wristband=wristband, values=submission.values,
                                  time_errors=submission.errors, now=now(), record=False)
        phase = "confirm" if preview.ready else "entry"
        return render_step(request, db, preview, user=user, scan=scan, wristband=wristband,
                           typed=submission.typed, phase=phase, token=held.token)
    preview = stepcheck.load(db, din, step)
    wristband = wristband if preview.wristband != "none" else ""
    if (scan and preview.container is not None) or wristband:
        # A scan from the scan box: a container, or the wristband at the bedside.
        preview = stepcheck.check(db, actor=user, din=din, step=step, scan=scan,
                                  wristband=wristband, values={}, time_errors={}, now=now(),
                                  record=False)
    # What this person typed before their session ended comes back into the fields.
    assert user.id is not None
    restored = drafts.restore(db, user.id, request.url.path)
    return render_step(request, db, preview, user=user, scan=scan, wristband=wristband,
                       typed=restored.values if restored else None, restored=restored)


@router.post("/products/{din}/steps/{step}")
def submit_step(request: Request, din: str, step: str, user: StaffUser, db: DbSession,
                form: Form) -> Response:
    """Check the entry (Enter) or save it (the Save button after a clean check)."""
    _allowed(user, step)
    action = field(form, "action") or "check"
    if action == "discard":  # what came back after the session ended
        assert user.id is not None
        drafts.forget(db, user.id, request.url.path)
        return redirect(request.url.path,
                        "What you typed before your session ended was discarded.")
    token = field(form, "submission")
    held = _held(db, user, din, step, token) if action in ("save", "edit") else None
    if held is not None and held.saved_at is not None:  # Save pressed again, Back and Save
        return _already_saved(db, din, step, held.saved_at)
    if (elsewhere := _not_now(db, din, step)) is not None:
        return elsewhere
    moment = now()
    submission = forms.read_step_form(STEPS[step], form, site_zone(), moment)
    scan, wristband = field(form, "scan"), field(form, "wristband")
    if action == "save":
        return _save(request, db, user, din, step, form, submission, scan, wristband, token)
    if action == "edit":
        if held is not None:
            return redirect(f"{_page(din, step)}?change={held.token}")
        preview = stepcheck.load(db, din, step)
        return render_step(request, db, preview, user=user, scan=scan, wristband=wristband,
                           typed=submission.typed)
    preview = stepcheck.check(db, actor=user, din=din, step=step, scan=scan,
                              wristband=wristband, values=submission.values,
                              time_errors=submission.errors, now=moment)
    if preview.ready:
        # Post/redirect/get: the confirmation is a page of its own (Back never resubmits).
        assert user.id is not None
        token = submissions.hold(db, user_id=user.id, page=_page(din, step), entered={
            "scan": scan, "wristband": wristband,
            **{f"v_{name}": text for name, text in submission.typed.items()}})
        return redirect(f"{_page(din, step)}?check={token}")
    return render_step(request, db, preview, user=user, scan=scan, wristband=wristband,
                       typed=submission.typed, phase="entry",
                       status_code=409 if preview.refusal else 200)


def _page(din: str, step: str) -> str:
    return f"/products/{din}/steps/{step}"


def _as_form(entered: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in entered.items()}


def _held(db: Session, user: User, din: str, step: str,
          token: str) -> submissions.Checked | None:
    assert user.id is not None
    return submissions.held(db, user_id=user.id, page=_page(din, step), token=token)


def _already_saved(db: Session, din: str, step: str, saved_at: datetime) -> Response:
    """The same Save a second time: it was saved once, and the page says so."""
    product = product_by_din(db, din)
    return redirect(f"/products/{product.din}",
                    f"{STEPS[step].label}: already saved at {local(saved_at, '%H:%M')}. "
                    f"The product is now: {state_words(product.state)}.")


def _save(request: Request, db: Session, user: User, din: str, step: str, form: Any,
          submission: forms.Submission, scan: str, wristband: str, token: str) -> Response:
    version = field(form, "version")
    context: dict[str, Any] = {"user": user, "scan": scan, "wristband": wristband,
                               "typed": submission.typed, "token": token}
    try:
        result = perform_step(
            db, actor=user, din=din, step=step, scan=scan or None, values=submission.values,
            witness=field(form, "witness_username") or None,
            witness_password=str(form.get("witness_password") or "") or None,
            wristband=wristband or None,
            expected_version=int(version) if version.isdigit() else None,
            physician=field(form, "physician_username") or None,
            physician_password=str(form.get("physician_password") or "") or None,
            submission=submissions.Submission(_page(din, step), token) if token else None)
    except IdentityMismatch as error:
        preview = stepcheck.load(db, din, step)
        preview.refusal, preview.scan = error, "refused"
        return render_step(request, db, preview, status_code=409, **context)
    except StepDataInvalid as error:
        preview = stepcheck.load(db, din, step)
        preview.field_errors = dict(error.errors)
        return render_step(request, db, preview, status_code=422, **context)
    except DomainError as error:
        db.rollback()
        # Two presses of Save at once: the other one saved it while this one waited.
        held = _held(db, user, din, step, token)
        if held is not None and held.saved_at is not None:
            return _already_saved(db, din, step, held.saved_at)
        moment = now()
        preview = stepcheck.check(db, actor=user, din=din, step=step, scan=scan,
                                  wristband=wristband, values=submission.values,
                                  time_errors=submission.errors, now=moment, record=False)
        witness_error = error.detail if error.code in WITNESS_CODES else ""
        signature_error = error.detail if error.code in SIGNATURE_CODES else ""
        if not witness_error and not signature_error:
            preview.blocking.append(error.detail)
        phase = "confirm" if preview.ready else "entry"
        return render_step(request, db, preview, phase=phase, witness_error=witness_error,
                           signature_error=signature_error, status_code=409, **context)
    assert user.id is not None
    drafts.forget(db, user.id, request.url.path)  # saved: nothing more to bring back
    # The witness by their printed name, as the record shows it, not their user name.
    signer = db.get(User, result.record.witness_id) if result.record.witness_id else None
    witness = signer.full_name if signer is not None else ""
    return redirect(f"/products/{result.product.din}", _saved(result, step, user, witness))


def _saved(result: StepResult, step: str, user: User, witness: str) -> str:
    message = f"{STEPS[step].label} saved by {user.full_name}"
    if witness:
        message += f", witnessed by {witness}"
    message += f". The product is now: {state_words(result.product.state)}."
    if result.warnings:
        message += " Warnings recorded for QA: " + "; ".join(result.warnings) + "."
    if result.new_containers:
        message += " Print the labels of the new containers and scan them back."
    return message


def render_step(request: Request, db: Session, preview: stepcheck.Preview, *, user: User,
                scan: str = "",
                wristband: str = "", typed: dict[str, str] | None = None, phase: str = "entry",
                witness_error: str = "", signature_error: str = "", token: str = "",
                restored: drafts.Restored | None = None,
                status_code: int = 200) -> HTMLResponse:
    ctx = preview.context
    product = ctx.product
    spec = STEPS[preview.step]
    if preview.refusal is not None and preview.scan == "ok":
        # A refusal (a wrong wristband at the bedside) clears the scans: the container's
        # confirmation goes with it, so nothing shows as confirmed that must be scanned again.
        preview.scan = "missing"
    # The bedside check (and the harvest) shows who the product is for, to compare with the
    # patient before the wristband is scanned.
    patient = db.get(Patient, product.patient_id) if preview.step in WRISTBAND_STEPS else None
    fields = [{"f": f, "type": forms.input_type(f), "mode": forms.input_mode(f),
               "hint": forms.hint(f), "options": forms.options(f)} for f in spec.fields]
    typed = typed or {}
    return render(request, "step.html", {
        "product": product, "subject_id": ctx.subject_id, "spec": spec, "step": preview.step,
        "preview": preview, "fields": fields, "typed": typed, "scan": scan,
        "wristband": wristband, "phase": phase, "witness": requires_witness(preview.step),
        "witness_error": witness_error, "computed": computed_rows(preview.computed, preview.step),
        "physician_signs": preview.step in PHYSICIAN_SIGNED_STEPS,
        "signature_error": signature_error,
        "patient": patient, "time_zone": site_zone().key,
        "time_hint": forms.TIME_HINT, "spec_names": {f.name for f in spec.fields},
        "has_times": any(f.kind == "datetime" for f in spec.fields),
        "focus": _focus(preview, scan, wristband, typed), "token": token,
        "restored": restored,
    }, status_code=status_code)


def _focus(preview: stepcheck.Preview, scan: str, wristband: str, typed: dict[str, str]) -> str:
    """Where the cursor starts: the scan still missing, else the first value to fix or type."""
    if preview.scan in ("missing", "refused") and (not scan or preview.refusal):
        return "scan"
    if preview.wristband in ("missing", "refused") and (
            not wristband or preview.wristband == "refused"):
        return "wristband"
    fields = STEPS[preview.step].fields
    for f in fields:
        if f.name in preview.field_errors:
            return f.name
    for f in fields:
        if not typed.get(f.name):
            return f.name
    return fields[0].name
