"""Clinical follow-up after administration: the visit schedule each administration starts,
visits the physician records, the patient's one timeline, and overdue visits for the
physician's worklist. Laboratory values and findings: follow_up_records; adverse and
clinical events: adverse_events; scores: follow_up_scores.

The schedule is created in the same transaction as the administration (steps._write
calls `schedule_follow_up` before its commit), so an administered product always has its
visits, and visits never exist for an administration that was not saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import (
    AdverseEvent,
    ClinicalEvent,
    FollowUpVisit,
    Patient,
    Product,
    StepRecord,
    User,
)
from lims.services.common import aware, get_or_404, parameters_of
from lims.services.follow_up_common import (
    check_time,
    clean_text,
    finish,
    patient_by_subject,
    refusals_recorded,
    refuse_after_death,
    require_reader,
    require_recorder,
)
from workflows.errors import Conflict, InvalidInput
from workflows.follow_up import (
    EventKind,
    VisitState,
    VisitStatus,
    days_overdue,
    follow_up_end,
    in_window,
    visit_plan,
    visit_status,
)


def administration_day(values: Mapping[str, object]) -> date:
    """The day an administration's follow-up is counted from: the day the infusion
    started, in the zone it was recorded in (the patient's day, not the server's)."""
    start = values.get("infusion_start")
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    if not isinstance(start, datetime):
        raise InvalidInput("the administration has no infusion start to count follow-up from")
    return start.date()


def schedule_follow_up(session: Session, *, product: Product, administered_on: date,
                       user_id: int | None, username: str,
                       now: datetime | None = None) -> list[FollowUpVisit]:
    """Stage the protocol's visits for one administration (no commit: the caller's
    transaction is the administration's). Audited as one FOLLOW_UP_SCHEDULED event."""
    assert product.id is not None
    now = aware(now)
    params = parameters_of(session, product.protocol_id)
    visits = [FollowUpVisit(patient_id=product.patient_id, product_id=product.id,
                            code=p.code, label=p.label, day=p.day, due_on=p.due_on,
                            window_days=p.window_days, kind=p.kind.value, scheduled_at=now)
              for p in visit_plan(administered_on, params)]
    session.add_all(visits)
    session.flush()
    codes = ", ".join(f"{v.code} {v.due_on.isoformat()}" for v in visits)
    append(session, [PendingEvent(AuditAction.FOLLOW_UP_SCHEDULED, "product", product.din,
                                  "follow_up_visits", None, len(visits),
                                  reason=f"from {administered_on.isoformat()}: {codes}")],
           user_id=user_id, username=username)
    return visits


def record_visit(session: Session, *, actor: User, visit_id: int, done_at: datetime,
                 note: str = "", now: datetime | None = None,
                 commit: bool = True) -> FollowUpVisit:
    """The physician records that a scheduled visit took place (once; a visit is never
    undone). A visit before its administration, or in the future, is refused."""
    with refusals_recorded(session, actor, "follow_up_visit", str(visit_id), "record visit",
                           record=commit):
        require_recorder(actor, "record follow-up visits")
        visit = get_or_404(session, FollowUpVisit, visit_id, "follow-up visit")
        patient = get_or_404(session, Patient, visit.patient_id, "patient")
        check_time(session, patient, done_at, "the visit time")
        refuse_after_death(session, patient, done_at.date(), "the visit")
        if visit.done_at is not None:
            raise Conflict(f"visit {visit.code} was already recorded on "
                           f"{visit.done_at.date().isoformat()}")
        if done_at.date() < visit.due_on - timedelta(days=visit.day):
            raise InvalidInput(f"visit {visit.code} cannot be before the administration")
        visit.done_at, visit.note = done_at, clean_text(note, "the note")
        visit.recorded_by_id, visit.recorded_at = actor.id, aware(now)
        session.add(visit)
        late = "" if in_window(_state(visit), done_at.date()) else " (outside its window)"
        append(session, [PendingEvent(AuditAction.FOLLOW_UP_VISIT_RECORDED, "follow_up_visit",
                                      str(visit.id), "done_at", None, done_at.isoformat(),
                                      reason=f"{visit.code}{late}")],
               user_id=actor.id, username=actor.username)
        finish(session, commit)
    return visit


def _state(visit: FollowUpVisit) -> VisitState:
    return VisitState(visit.due_on, visit.window_days, visit.done_at is not None)


def visits_of(session: Session, patient: Patient) -> list[FollowUpVisit]:
    """Every scheduled visit of the patient, of every administration, as one timeline:
    by due date, the earlier administration first on the same day."""
    return list(session.exec(select(FollowUpVisit)
                             .where(FollowUpVisit.patient_id == patient.id)
                             .order_by(col(FollowUpVisit.due_on),
                                       col(FollowUpVisit.product_id),
                                       col(FollowUpVisit.day))))


def clinical_events_of(session: Session, patient: Patient) -> list[ClinicalEvent]:
    """The patient's transplant, HCC and death records in force (corrections replace)."""
    return list(session.exec(select(ClinicalEvent)
                             .where(ClinicalEvent.patient_id == patient.id,
                                    col(ClinicalEvent.superseded).is_(False))
                             .order_by(col(ClinicalEvent.occurred_on),
                                       col(ClinicalEvent.id))))


def ended_on(events: list[ClinicalEvent]) -> date | None:
    """The day follow-up ended (death or transplant), or None (workflows.follow_up)."""
    return follow_up_end((EventKind(e.kind), e.occurred_on) for e in events)


@dataclass(frozen=True)
class TimelineVisit:
    visit: FollowUpVisit
    din: str  # the administration this visit follows
    status: VisitStatus
    days_overdue: int
    hcc_flag: bool  # due after an HCC diagnosis: the analysis treats the patient apart


@dataclass(frozen=True)
class FollowUpTimeline:
    patient: Patient
    administrations: tuple[tuple[str, date], ...]  # (DIN, administration day)
    visits: tuple[TimelineVisit, ...]
    adverse_events: tuple[AdverseEvent, ...]
    clinical_events: tuple[ClinicalEvent, ...]
    ended_on: date | None  # death or transplant: no later visit is expected
    hcc_on: date | None


def follow_up_timeline(session: Session, *, actor: User, subject_id: str,
                       today: date | None = None) -> FollowUpTimeline:
    """One patient's follow-up, all administrations together: visits with their status
    on `today`, adverse events and clinical events. Scores per visit come from
    follow_up_scores.visit_scores (computed, never stored)."""
    require_reader(actor)
    patient = patient_by_subject(session, subject_id)
    today = today or aware(None).date()
    visits = visits_of(session, patient)
    dins = _dins(session, patient)
    events = clinical_events_of(session, patient)
    end = ended_on(events)
    hcc = min((e.occurred_on for e in events if e.kind == EventKind.HCC), default=None)
    rows = tuple(TimelineVisit(v, dins.get(v.product_id, "?"),
                               visit_status(_state(v), today, end),
                               days_overdue(_state(v), today) if v.done_at is None else 0,
                               hcc is not None and v.due_on >= hcc)
                 for v in visits)
    ae = tuple(session.exec(select(AdverseEvent).where(AdverseEvent.patient_id == patient.id)
                            .order_by(col(AdverseEvent.onset_on), col(AdverseEvent.id))))
    return FollowUpTimeline(patient, _administrations(session, patient, dins), rows, ae,
                            tuple(events), end, hcc)


def _dins(session: Session, patient: Patient) -> dict[int, str]:
    rows = session.exec(select(Product.id, Product.din).where(Product.patient_id == patient.id))
    return {pid: din for pid, din in rows if pid is not None}


def _administrations(session: Session, patient: Patient,
                     dins: Mapping[int, str]) -> tuple[tuple[str, date], ...]:
    records = session.exec(select(StepRecord).where(
        col(StepRecord.product_id).in_(list(dins)), StepRecord.step == "administer",
        col(StepRecord.superseded).is_(False)).order_by(col(StepRecord.performed_at)))
    return tuple((dins[r.product_id], administration_day(r.values)) for r in records)


@dataclass(frozen=True)
class OverdueVisit:
    """One line of the physician's worklist."""

    subject_id: str
    patient_name: str
    din: str
    visit_id: int
    code: str
    label: str
    due_on: date
    window_days: int
    days_overdue: int
    treating_physician_id: int | None


def overdue_visits(session: Session, *, actor: User, today: date | None = None,
                   mine_only: bool = False) -> list[OverdueVisit]:
    """Visits whose window has closed without the visit, for patients whose follow-up has
    not ended (death, transplant), most overdue first. `mine_only`: the actor's own
    patients (treating physician), for a physician's worklist."""
    require_reader(actor)
    today = today or aware(None).date()
    query = (select(FollowUpVisit, Patient, Product)
             .join(Patient, col(Patient.id) == FollowUpVisit.patient_id)
             .join(Product, col(Product.id) == FollowUpVisit.product_id)
             .where(col(FollowUpVisit.done_at).is_(None), FollowUpVisit.due_on < today))
    if mine_only:
        query = query.where(Patient.treating_physician_id == actor.id)
    rows = list(session.exec(query))
    ends = _ends(session, {patient.id for _, patient, _ in rows if patient.id is not None})
    found = []
    for visit, patient, product in rows:
        assert visit.id is not None and patient.id is not None
        status = visit_status(_state(visit), today, ends.get(patient.id))
        if status == VisitStatus.OVERDUE:
            found.append(OverdueVisit(patient.subject_id, patient.name, product.din, visit.id,
                                      visit.code, visit.label, visit.due_on,
                                      visit.window_days, days_overdue(_state(visit), today),
                                      patient.treating_physician_id))
    return sorted(found, key=lambda o: (-o.days_overdue, o.subject_id, o.due_on))


def _ends(session: Session, patient_ids: set[int]) -> dict[int, date]:
    if not patient_ids:
        return {}
    events = session.exec(select(ClinicalEvent).where(
        col(ClinicalEvent.patient_id).in_(sorted(patient_ids)),
        col(ClinicalEvent.superseded).is_(False)))
    by_patient: dict[int, list[tuple[EventKind, date]]] = {}
    for event in events:
        by_patient.setdefault(event.patient_id, []).append((EventKind(event.kind),
                                                            event.occurred_on))
    return {pid: end for pid, pairs in by_patient.items()
            if (end := follow_up_end(pairs)) is not None}
