"""The physician's follow-up screens: one patient's timeline across administrations (visits
due, done or overdue, laboratory values, the scores computed from them, findings, adverse
and clinical events), the forms that record them, MELD and Child-Pugh charted from
baseline, and the per-arm outcome table. The arm is shown as the protocol's blinding lets
the reader see it (workflows.blinding)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.config import get_settings
from lims.models import FollowUpVisit, LabValue, User
from lims.services.common import get_or_404
from lims.services.follow_up import follow_up_timeline
from lims.services.follow_up_common import READERS, RECORDERS, patient_by_subject
from lims.services.follow_up_entries import Grades, record_follow_up
from lims.services.follow_up_records import correct_lab_value, lab_values_of
from lims.services.outcomes import PatientOutcome, arm_comparison, patient_outcome
from lims.web.charts import Chart, Point, svg
from lims.web.deps import DbSession, Form, require
from lims.web.follow_up_form import ClinicalEntry, read_clinical, unit_field, value_field
from lims.web.forms import looks_scanned
from lims.web.render import now, redirect, render, site_zone
from workflows.errors import DomainError, NotFound
from workflows.follow_up import EVENT_WORDS
from workflows.liver_scores import ANALYTES, ASCITES_GRADES, ENCEPHALOPATHY_GRADES, GRADE_WORDS
from workflows.outcomes import BASELINE, SCORE_WORDS, SCORES

router = APIRouter(route_class=OneThreadRoute)
Reader = Annotated[User, Depends(require(READERS, "the clinical follow-up"))]
Recorder = Annotated[User, Depends(require(RECORDERS, "recording the clinical follow-up"))]


def _today() -> date:
    return now().astimezone(site_zone()).date()


def _url(subject_id: str) -> str:
    return f"/patients/{quote(subject_id, safe='')}/follow-up"


def score_charts(outcome: PatientOutcome) -> list[dict[str, Any]]:
    """MELD and Child-Pugh of the patient over time from baseline, one chart each (their
    scales differ): each point one visit at the time its values were taken."""
    out = []
    for score, unit in (("meld", "points"), ("child_pugh", "points")):
        points = []
        for seen in outcome.visits:
            value = seen.value(score)
            if value is None or seen.when is None:
                continue
            klass = seen.scores.child_pugh
            extra = f"(class {klass.child_class})" if score == "child_pugh" and klass else ""
            points.append(Point(seen.label, value, True, extra, when=seen.when))
        chart = Chart(f"{SCORE_WORDS[score]} of {outcome.patient.subject_id} from baseline",
                      unit, points, time_axis="date the values were taken (each point one "
                      "visit)", when_words="taken", points_are="visits by date")
        out.append({"chart": chart, "svg": svg(chart, site_zone()), "score": score,
                    "name": SCORE_WORDS[score]})
    return out


@router.get("/patients/{subject_id}/follow-up")
def follow_up_page(request: Request, subject_id: str, user: Reader,
                   db: DbSession) -> HTMLResponse:
    """The patient's follow-up on one timeline, with the scores of each visit."""
    return _follow_up(request, db, user, subject_id)


def _follow_up(request: Request, db: DbSession, user: User, subject_id: str,
               correcting: dict[str, Any] | None = None,
               status_code: int = 200) -> HTMLResponse:
    """The follow-up page; `correcting`: a refused correction of a laboratory value shown
    again on its row (its id, what was typed, the refusal in words)."""
    timeline = follow_up_timeline(db, actor=user, subject_id=subject_id, today=_today())
    outcome = patient_outcome(db, actor=user, patient=timeline.patient)
    scored = {seen.visit.id: seen for seen in outcome.visits if seen.visit is not None}
    labels = {row.visit.id: (seen.label if (seen := scored.get(row.visit.id)) else
                             row.visit.label) for row in timeline.visits}
    return render(request, "follow_up.html", {
        "timeline": timeline, "outcome": outcome, "patient": timeline.patient,
        "baseline": outcome.visits[0], "scored": scored, "charts": score_charts(outcome),
        "analytes": ANALYTES, "grades": GRADE_WORDS, "can_record": user.role in RECORDERS,
        "event_words": EVENT_WORDS,
        "lab_values": lab_values_of(db, timeline.patient, include_superseded=True),
        "visit_labels": labels, "correcting": correcting or {},
        "url": _url(timeline.patient.subject_id)}, status_code=status_code)


def _entry_form(request: Request, db: DbSession, user: User, subject_id: str,
                visit: FollowUpVisit | None, entry: ClinicalEntry | None = None,
                error: str = "", status_code: int = 200) -> HTMLResponse:
    patient = patient_by_subject(db, subject_id)
    return render(request, "follow_up_entry.html", {
        "patient": patient, "visit": visit, "url": _url(patient.subject_id),
        "typed": entry.typed if entry else {}, "errors": entry.errors if entry else {},
        "error": error, "analytes": ANALYTES, "value_field": value_field,
        "unit_field": unit_field,
        "ascites_options": [(g, GRADE_WORDS[g]) for g in ASCITES_GRADES],
        "encephalopathy_options": [(g, GRADE_WORDS[g]) for g in ENCEPHALOPATHY_GRADES],
    }, status_code=status_code)


def _visit(db: DbSession, subject_id: str, visit_id: int) -> FollowUpVisit:
    patient = patient_by_subject(db, subject_id)
    visit = get_or_404(db, FollowUpVisit, visit_id, "follow-up visit")
    if visit.patient_id != patient.id:
        raise NotFound(f"visit {visit_id} is not a visit of patient {patient.subject_id}")
    return visit


@router.get("/patients/{subject_id}/follow-up/visits/{visit_id}")
def visit_form(request: Request, subject_id: str, visit_id: int, user: Recorder,
               db: DbSession) -> HTMLResponse:
    """Record a visit: when it took place, the laboratory values and the grades."""
    return _entry_form(request, db, user, subject_id, _visit(db, subject_id, visit_id))


@router.get("/patients/{subject_id}/follow-up/values")
def values_form(request: Request, subject_id: str, user: Recorder,
                db: DbSession) -> HTMLResponse:
    """Laboratory values and grades outside a visit: baseline (before the first
    administration) or an unscheduled sampling."""
    return _entry_form(request, db, user, subject_id, None)


@router.post("/patients/{subject_id}/follow-up/visits/{visit_id}")
def save_visit(request: Request, subject_id: str, visit_id: int, user: Recorder,
               db: DbSession, form: Form) -> Response:
    visit = _visit(db, subject_id, visit_id)
    return _save(request, db, user, subject_id, visit, form)


@router.post("/patients/{subject_id}/follow-up/values")
def save_values(request: Request, subject_id: str, user: Recorder, db: DbSession,
                form: Form) -> Response:
    return _save(request, db, user, subject_id, None, form)


def _save(request: Request, db: DbSession, user: User, subject_id: str,
          visit: FollowUpVisit | None, form: Form) -> Response:
    """Everything is read first; only a form that can be read whole is recorded: the visit,
    its values and its grades in one audited transaction."""
    entry = read_clinical(form, site_zone(), now(), need_values=visit is None)
    if entry.errors or entry.at is None:
        count = len(entry.errors)
        what = "1 field marked below needs" if count == 1 else f"{count} fields marked below need"
        return _entry_form(request, db, user, subject_id, visit, entry, status_code=422,
                           error=f"Nothing was recorded: {what} attention.")
    grades = (Grades(entry.ascites, entry.encephalopathy, entry.dialysed)
              if entry.has_finding and entry.ascites and entry.encephalopathy else None)
    try:
        done = record_follow_up(db, actor=user, subject_id=subject_id, at=entry.at,
                                visit_id=None if visit is None else visit.id,
                                visit_note=entry.note, labs=entry.labs, grades=grades,
                                grades_note="" if visit is not None else entry.note)
    except DomainError as refused:
        if visit is not None:
            db.refresh(visit)
        return _entry_form(request, db, user, subject_id, visit, entry,
                           status_code=status_of(refused.code),
                           error=f"Nothing was recorded: {refused.detail}.")
    return redirect(_url(subject_id), f"Recorded for {subject_id}: {', '.join(done)}.")


@router.post("/patients/{subject_id}/follow-up/values/{lab_value_id}/correct")
def correct_value(request: Request, subject_id: str, lab_value_id: int, user: Recorder,
                  db: DbSession, form: Form) -> Response:
    """Correct a laboratory value in force (a typo, the wrong unit): a new record with the
    reason; the corrected one is kept, superseded, and the scores use the new one."""
    patient = patient_by_subject(db, subject_id)
    old = get_or_404(db, LabValue, lab_value_id, "laboratory value")
    if old.patient_id != patient.id:
        raise NotFound(f"laboratory value {lab_value_id} is not a value of patient "
                       f"{patient.subject_id}")
    typed = {name: value.strip() if isinstance(value := form.get(name), str) else ""
             for name in ("value", "unit", "reason")}
    correcting: dict[str, Any] = {"id": old.id, "typed": typed}
    if looks_scanned(typed["value"]):
        correcting["error"] = "the value holds a barcode scan: clear it and type the value"
        return _follow_up(request, db, user, patient.subject_id, correcting, 422)
    try:
        new = correct_lab_value(db, actor=user, lab_value_id=lab_value_id,
                                value=typed["value"], unit=typed["unit"],
                                reason=typed["reason"])
    except DomainError as refused:
        correcting["error"] = refused.detail
        return _follow_up(request, db, user, patient.subject_id, correcting,
                          status_of(refused.code))
    label = ANALYTES[new.analyte].label
    return redirect(f"{_url(patient.subject_id)}#lab-values",
                    f"Corrected for {patient.subject_id}: {label} "
                    f"{old.value_entered:g} {old.unit_entered} → {new.value_entered:g} "
                    f"{new.unit_entered}; the scores are computed again.")


@router.get("/outcomes")
def outcomes(request: Request, user: Reader, db: DbSession, score: str = "meld") -> HTMLResponse:
    """The per-arm comparison of a score at baseline and each visit (pooled for a
    blinded reader)."""
    score = score if score in SCORES else "meld"
    comparison = arm_comparison(db, actor=user, protocol_code=get_settings().protocol_code,
                                score=score)
    return render(request, "outcomes.html", {
        "comparison": comparison, "table": comparison.table, "score": score,
        "scores": SCORE_WORDS, "baseline": BASELINE})
