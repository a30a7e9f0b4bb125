"""The physician reports an adverse event (serious ones flagged and notified by the
service) and records a liver transplant, an HCC diagnosis or a death, from the patient's
follow-up page. Each form is read whole first (lims.web.follow_up_form); a refusal comes
back in words with what was typed; a saved record redirects to the follow-up page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.models import AdverseEvent, Patient, Product, User
from lims.services.adverse_events import (
    record_clinical_event,
    report_adverse_event,
    update_adverse_event,
)
from lims.services.common import get_or_404
from lims.services.follow_up_common import RECORDERS, patient_by_subject
from lims.web.deps import DbSession, Form, require
from lims.web.follow_up_form import (
    Entry,
    ae_typed,
    read_adverse_event,
    read_ae_update,
    read_clinical_event,
)
from lims.web.render import redirect, render
from workflows.errors import DomainError, NotFound
from workflows.follow_up import AE_OUTCOMES, CTCAE_GRADES, EVENT_WORDS, RELATEDNESS, EventKind
from workflows.product import ProductState

router = APIRouter(route_class=OneThreadRoute)
Recorder = Annotated[User, Depends(require(RECORDERS, "recording the clinical follow-up"))]
# CTCAE v5.0 general grade words.
GRADE_WORDS = {1: "1 — mild", 2: "2 — moderate", 3: "3 — severe or medically significant",
               4: "4 — life-threatening", 5: "5 — death related to the event"}


def _url(subject_id: str) -> str:
    return f"/patients/{quote(subject_id, safe='')}/follow-up"


def _administered(db: DbSession, patient: Patient) -> tuple[str, ...]:
    return tuple(db.exec(select(Product.din).where(
        Product.patient_id == patient.id, Product.state == ProductState.ADMINISTERED)
        .order_by(col(Product.id))))


def _words(value: str) -> str:
    return value.replace("_", " ")


def _page(request: Request, db: DbSession, subject_id: str, template: str,
          entry: Entry | None = None, error: str = "", status_code: int = 200,
          **more: Any) -> HTMLResponse:
    patient = patient_by_subject(db, subject_id)
    context: dict[str, Any] = {**more,
        "patient": patient, "url": _url(patient.subject_id), "error": error,
        "typed": entry.typed if entry else {}, "errors": entry.errors if entry else {},
        "grades": [(str(g), GRADE_WORDS[g]) for g in CTCAE_GRADES],
        "relatedness": [(r, _words(r)) for r in RELATEDNESS],
        "outcomes": [(o, _words(o)) for o in AE_OUTCOMES],
        "dins": [(din, din) for din in _administered(db, patient)],
        "kinds": [(k.value, EVENT_WORDS[k]) for k in EventKind]}
    return render(request, template, context, status_code=status_code)


def _unread(entry: Entry, done: str = "recorded") -> str:
    count = len(entry.errors)
    what = "1 field marked below needs" if count == 1 else f"{count} fields marked below need"
    return f"Nothing was {done}: {what} attention."


@router.get("/patients/{subject_id}/follow-up/adverse-events/new")
def new_adverse_event(request: Request, subject_id: str, user: Recorder,
                      db: DbSession) -> HTMLResponse:
    return _page(request, db, subject_id, "follow_up_adverse_event.html")


@router.post("/patients/{subject_id}/follow-up/adverse-events")
def save_adverse_event(request: Request, subject_id: str, user: Recorder, db: DbSession,
                       form: Form) -> Response:
    """Report an adverse event; a serious one notifies QA and the physician (service)."""
    patient = patient_by_subject(db, subject_id)
    entry = read_adverse_event(form, _administered(db, patient))
    if entry.errors:
        return _page(request, db, subject_id, "follow_up_adverse_event.html", entry,
                     _unread(entry), 422)
    if (entry.onset_on is None or entry.grade is None or entry.serious is None
            or entry.relatedness is None or entry.outcome is None):
        return _page(request, db, subject_id, "follow_up_adverse_event.html", entry,
                     _unread(entry), 422)
    try:
        ae = report_adverse_event(
            db, actor=user, subject_id=patient.subject_id, description=entry.description,
            onset_on=entry.onset_on, grade=entry.grade, serious=entry.serious,
            relatedness=entry.relatedness, outcome=entry.outcome, din=entry.din,
            resolved_on=entry.resolved_on)
    except DomainError as refused:
        return _page(request, db, subject_id, "follow_up_adverse_event.html", entry,
                     f"Not recorded: {refused.detail}.", status_of(refused.code))
    serious = ("SERIOUS adverse event reported: QA and the physician are notified."
               if ae.serious else "Adverse event reported.")
    return redirect(_url(patient.subject_id), f"{serious} Grade {ae.grade}, onset "
                                              f"{ae.onset_on.isoformat()}.")


def _adverse_event(db: DbSession, patient: Patient, adverse_event_id: int) -> AdverseEvent:
    ae = get_or_404(db, AdverseEvent, adverse_event_id, "adverse event")
    if ae.patient_id != patient.id:
        raise NotFound(f"adverse event {adverse_event_id} is not an adverse event of patient "
                       f"{patient.subject_id}")
    return ae


@router.get("/patients/{subject_id}/follow-up/adverse-events/{adverse_event_id}")
def adverse_event_form(request: Request, subject_id: str, adverse_event_id: int,
                       user: Recorder, db: DbSession) -> HTMLResponse:
    """Update what is known of an adverse event, the form filled with what is recorded and
    the version it shows (a form gone stale is refused rather than overwriting)."""
    patient = patient_by_subject(db, subject_id)
    ae = _adverse_event(db, patient, adverse_event_id)
    return _page(request, db, subject_id, "follow_up_adverse_event_update.html",
                 Entry(typed=ae_typed(ae)), ae=ae)


@router.post("/patients/{subject_id}/follow-up/adverse-events/{adverse_event_id}")
def save_adverse_event_update(request: Request, subject_id: str, adverse_event_id: int,
                              user: Recorder, db: DbSession, form: Form) -> Response:
    """Each changed field audited old → new with the reason (service); becoming serious
    notifies as a report does."""
    patient = patient_by_subject(db, subject_id)
    ae = _adverse_event(db, patient, adverse_event_id)
    entry = read_ae_update(form)
    template = "follow_up_adverse_event_update.html"
    if entry.errors or entry.changes is None:
        return _page(request, db, subject_id, template, entry, _unread(entry, "updated"), 422,
                     ae=ae)
    was_serious = ae.serious
    try:
        done = update_adverse_event(db, actor=user, adverse_event_id=adverse_event_id,
                                    changes=entry.changes, reason=entry.reason,
                                    expected_version=entry.version)
    except DomainError as refused:
        db.refresh(ae)
        return _page(request, db, subject_id, template, entry,
                     f"Not updated: {refused.detail}.", status_of(refused.code), ae=ae)
    serious = " It is now SERIOUS: QA and the physician are notified." if (
        done.serious and not was_serious) else ""
    return redirect(_url(patient.subject_id),
                    f"Adverse event {done.id} updated (version {done.version}).{serious}")


@router.get("/patients/{subject_id}/follow-up/events/new")
def new_clinical_event(request: Request, subject_id: str, user: Recorder,
                       db: DbSession) -> HTMLResponse:
    return _page(request, db, subject_id, "follow_up_event.html")


@router.post("/patients/{subject_id}/follow-up/events")
def save_clinical_event(request: Request, subject_id: str, user: Recorder, db: DbSession,
                        form: Form) -> Response:
    """Record a transplant, an HCC diagnosis or a death (death and transplant end
    follow-up; HCC flags it)."""
    patient = patient_by_subject(db, subject_id)
    entry = read_clinical_event(form)
    if entry.errors or entry.kind is None or entry.occurred_on is None:
        return _page(request, db, subject_id, "follow_up_event.html", entry, _unread(entry),
                     422)
    try:
        event = record_clinical_event(db, actor=user, subject_id=patient.subject_id,
                                      kind=entry.kind, occurred_on=entry.occurred_on,
                                      note=entry.note)
    except DomainError as refused:
        return _page(request, db, subject_id, "follow_up_event.html", entry,
                     f"Not recorded: {refused.detail}.", status_of(refused.code))
    return redirect(_url(patient.subject_id),
                    f"Recorded: {EVENT_WORDS[EventKind(event.kind)]} on "
                    f"{event.occurred_on.isoformat()}.")
