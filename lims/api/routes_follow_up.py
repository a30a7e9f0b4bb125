"""Clinical follow-up after administration (issue 15): the patient's timeline with its
computed scores, visits, laboratory values, clinical findings, adverse and clinical events.
The physician records; QA and the physician read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime
from sqlmodel import Session

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routes_patients import SubjectId
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Id
from lims.api.schemas_follow_up import (
    AdverseEventIn,
    AdverseEventOut,
    AdverseEventUpdateIn,
    ClinicalEventCorrectionIn,
    ClinicalEventIn,
    ClinicalEventOut,
    FindingIn,
    FindingOut,
    LabCorrectionIn,
    LabValueOut,
    LabValuesIn,
    OverdueOut,
    TimelineOut,
    VisitIn,
    VisitOut,
)
from lims.models import Patient, User
from lims.services.adverse_events import (
    correct_clinical_event,
    record_clinical_event,
    report_adverse_event,
    update_adverse_event,
)
from lims.services.common import get_or_404, utcnow
from lims.services.follow_up import (
    TimelineVisit,
    follow_up_timeline,
    overdue_visits,
    record_visit,
)
from lims.services.follow_up_common import (
    READERS,
    RECORDERS,
    patient_by_subject,
    require_reader,
)
from lims.services.follow_up_records import (
    LabEntry,
    correct_lab_value,
    lab_values_of,
    record_clinical_finding,
    record_lab_values,
    visit_records,
)
from lims.services.follow_up_scores import scores_at, visit_scores

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["follow-up"])
Recorder = Annotated[User, Depends(require_roles(*RECORDERS,
                                                 action="record the clinical follow-up"))]
FollowUpReader = Annotated[User, Depends(require_roles(*READERS,
                                                       action="read the clinical follow-up"))]


def _visit_out(session: Session, row: TimelineVisit) -> VisitOut:
    values, findings = visit_records(session, row.visit)
    visit = row.visit
    return VisitOut(id=visit.id or 0, din=row.din, code=visit.code, label=visit.label,
                    kind=visit.kind, day=visit.day, due_on=visit.due_on,
                    window_days=visit.window_days, status=row.status.value,
                    days_overdue=row.days_overdue, hcc_flag=row.hcc_flag,
                    done_at=visit.done_at, note=visit.note,
                    scores=visit_scores(session, visit).as_dict(),
                    lab_values=[LabValueOut.model_validate(v) for v in values],
                    findings=[FindingOut.model_validate(f) for f in findings])


def _timeline(session: Session, actor: User, subject_id: str) -> TimelineOut:
    timeline = follow_up_timeline(session, actor=actor, subject_id=subject_id)
    unscheduled = [v for v in lab_values_of(session, timeline.patient) if v.visit_id is None]
    return TimelineOut(
        subject_id=timeline.patient.subject_id,
        administrations=list(timeline.administrations), ended_on=timeline.ended_on,
        hcc_on=timeline.hcc_on, visits=[_visit_out(session, row) for row in timeline.visits],
        unscheduled_lab_values=[LabValueOut.model_validate(v) for v in unscheduled],
        adverse_events=[AdverseEventOut.model_validate(a) for a in timeline.adverse_events],
        clinical_events=[ClinicalEventOut.model_validate(e) for e in timeline.clinical_events])


@router.get("/patients/{subject_id}/follow-up", responses=errors(401, 403, 404, 422))
def timeline(subject_id: SubjectId, actor: FollowUpReader, session: SessionDep) -> TimelineOut:
    """The patient's follow-up: every administration's visits on one timeline, with scores."""
    return _timeline(session, actor, subject_id)


@router.get("/patients/{subject_id}/follow-up/scores", responses=errors(401, 403, 404, 422))
def scores(subject_id: SubjectId, actor: FollowUpReader, session: SessionDep,
           at: Annotated[AwareDatetime | None, Query(description="The moment (default now)")]
           = None) -> dict[str, object]:
    """MELD, MELD-Na and Child-Pugh at a moment, from the latest values (computed)."""
    require_reader(actor)
    return scores_at(session, patient_by_subject(session, subject_id),
                     at or utcnow()).as_dict()


@router.get("/follow-up/overdue", responses=errors(401, 403, 422))
def overdue(actor: FollowUpReader, session: SessionDep,
            mine: Annotated[bool, Query(description="Only my patients (treating physician)")]
            = False) -> list[OverdueOut]:
    """Visits whose window closed without the visit: the physician's worklist."""
    return [OverdueOut.model_validate(o, from_attributes=True)
            for o in overdue_visits(session, actor=actor, mine_only=mine)]


@router.post("/follow-up/visits/{visit_id}", responses=errors(401, 403, 404, 409, 422))
def visit_done(visit_id: Id, body: VisitIn, actor: Recorder, session: SessionDep) -> VisitOut:
    """Record that a scheduled visit took place."""
    visit = record_visit(session, actor=actor, visit_id=visit_id, done_at=body.done_at,
                         note=body.note)
    patient = get_or_404(session, Patient, visit.patient_id, "patient")
    timeline = follow_up_timeline(session, actor=actor, subject_id=patient.subject_id)
    return _visit_out(session, next(r for r in timeline.visits if r.visit.id == visit_id))


@router.post("/patients/{subject_id}/lab-values", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 422))
def lab_values(subject_id: SubjectId, body: LabValuesIn, actor: Recorder,
               session: SessionDep) -> list[LabValueOut]:
    """Record one sampling's laboratory values (converted to canonical units; all or none)."""
    rows = record_lab_values(session, actor=actor, subject_id=subject_id,
                             sampled_at=body.sampled_at, visit_id=body.visit_id,
                             entries=[LabEntry(v.analyte, v.value, v.unit) for v in body.values])
    return [LabValueOut.model_validate(r) for r in rows]


@router.post("/lab-values/{lab_value_id}/correct", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def correct(lab_value_id: Id, body: LabCorrectionIn, actor: Recorder,
            session: SessionDep) -> LabValueOut:
    """Correct a laboratory value: a new record with the reason; the old one is kept."""
    return LabValueOut.model_validate(correct_lab_value(
        session, actor=actor, lab_value_id=lab_value_id, value=body.value, unit=body.unit,
        reason=body.reason))


@router.post("/patients/{subject_id}/clinical-findings", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def finding(subject_id: SubjectId, body: FindingIn, actor: Recorder,
            session: SessionDep) -> FindingOut:
    """Record ascites and encephalopathy grades and dialysis in the past week."""
    return FindingOut.model_validate(record_clinical_finding(
        session, actor=actor, subject_id=subject_id, **body.model_dump()))


@router.post("/patients/{subject_id}/adverse-events", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 422))
def adverse_event(subject_id: SubjectId, body: AdverseEventIn, actor: Recorder,
                  session: SessionDep) -> AdverseEventOut:
    """Report an adverse event; a serious one notifies QA and the physician."""
    return AdverseEventOut.model_validate(report_adverse_event(
        session, actor=actor, subject_id=subject_id, **body.model_dump()))


@router.post("/adverse-events/{adverse_event_id}/update",
             responses=errors(401, 403, 404, 409, 422))
def adverse_event_update(adverse_event_id: Id, body: AdverseEventUpdateIn, actor: Recorder,
                         session: SessionDep) -> AdverseEventOut:
    """Update an adverse event (outcome, grade ...): each change audited with the reason."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason", "expected_version"})
    return AdverseEventOut.model_validate(update_adverse_event(
        session, actor=actor, adverse_event_id=adverse_event_id, changes=changes,
        reason=body.reason, expected_version=body.expected_version))


@router.post("/patients/{subject_id}/clinical-events", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def clinical_event(subject_id: SubjectId, body: ClinicalEventIn, actor: Recorder,
                   session: SessionDep) -> ClinicalEventOut:
    """Record a transplant, an HCC diagnosis or a death (death and transplant end follow-up)."""
    return ClinicalEventOut.model_validate(record_clinical_event(
        session, actor=actor, subject_id=subject_id, **body.model_dump()))


@router.post("/clinical-events/{clinical_event_id}/correct",
             responses=errors(401, 403, 404, 409, 422))
def clinical_event_correct(clinical_event_id: Id, body: ClinicalEventCorrectionIn,
                           actor: Recorder, session: SessionDep) -> ClinicalEventOut | None:
    """Correct a clinical event's date, or withdraw it (recorded in error), with the reason."""
    new = correct_clinical_event(session, actor=actor, clinical_event_id=clinical_event_id,
                                 reason=body.reason, occurred_on=body.occurred_on)
    return None if new is None else ClinicalEventOut.model_validate(new)
