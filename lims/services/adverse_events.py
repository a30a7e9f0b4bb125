"""Adverse events after administration and the clinical events (transplant, HCC, death)
that end or change follow-up, recorded by the physician.

A serious adverse event, when reported or when an update makes it serious, notifies the
patient's physician and every active QA user with an address through the notification
outbox, staged in the same transaction as the record (never lost, never silent).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append, content_hash
from lims.audit_actions import AuditAction
from lims.models import AdverseEvent, ClinicalEvent, Patient, Product, StepRecord, User
from lims.services.common import aware, din_text, get_or_404
from lims.services.follow_up_common import (
    clean_text,
    patient_by_subject,
    refusals_recorded,
    require_recorder,
)
from lims.services.notifications import stage_notification
from workflows.errors import Conflict, DomainError, ErrorCode, InvalidInput, NotFound
from workflows.follow_up import (
    AE_OUTCOMES,
    CTCAE_GRADES,
    EVENT_EFFECTS,
    EVENT_WORDS,
    RELATEDNESS,
    EventEffect,
    EventKind,
)
from workflows.roles import Role

# What an update may change; the patient, the product and who reported it never change.
UPDATABLE = ("description", "onset_on", "grade", "serious", "relatedness", "outcome",
             "resolved_on")


def ae_content(ae: AdverseEvent) -> dict[str, Any]:
    """What an adverse event's hash covers (recomputed at each update)."""
    return {"patient_id": ae.patient_id, "product_id": ae.product_id,
            "description": ae.description, "onset_on": ae.onset_on.isoformat(),
            "grade": ae.grade, "serious": ae.serious, "relatedness": ae.relatedness,
            "outcome": ae.outcome,
            "resolved_on": ae.resolved_on.isoformat() if ae.resolved_on else None,
            "version": ae.version}


def report_adverse_event(session: Session, *, actor: User, subject_id: str,
                         description: str, onset_on: date, grade: int, serious: bool,
                         relatedness: str, outcome: str, din: str | None = None,
                         resolved_on: date | None = None,
                         now: datetime | None = None) -> AdverseEvent:
    """Report an adverse event (CTCAE grade 1-5, serious or not, relatedness to the
    cell product, outcome). `din`: the administered product it follows, if one is
    suspected. A serious one notifies QA and the physician in the same transaction."""
    with refusals_recorded(session, actor, "patient", subject_id, "report an adverse event"):
        require_recorder(actor, "report adverse events")
        patient = patient_by_subject(session, subject_id)
        assert patient.id is not None and actor.id is not None
        now = aware(now)
        product = _product_of(session, patient, din)
        ae = AdverseEvent(patient_id=patient.id,
                          product_id=product.id if product else None,
                          description=clean_text(description, "the description",
                                                 required=True),
                          onset_on=onset_on, grade=grade, serious=serious,
                          relatedness=relatedness, outcome=outcome, resolved_on=resolved_on,
                          reported_by_id=actor.id, reported_at=now, content_hash="")
        _check(ae, now.date())
        ae.content_hash = content_hash(ae_content(ae))
        session.add(ae)
        session.flush()
        append(session, [PendingEvent(AuditAction.ADVERSE_EVENT_REPORTED, "adverse_event",
                                      str(ae.id), "grade", None, ae.grade,
                                      reason=_summary(ae, patient))],
               user_id=actor.id, username=actor.username)
        if ae.serious:
            _notify_serious(session, ae, patient, product, now)
        session.commit()
    return ae


def update_adverse_event(session: Session, *, actor: User, adverse_event_id: int,
                         changes: Mapping[str, object], reason: str,
                         expected_version: int | None = None,
                         now: datetime | None = None) -> AdverseEvent:
    """Change what is known of an adverse event (its outcome, grade, relatedness ...):
    each changed field audited old → new with the reason; `version` counts updates and a
    stale `expected_version` is refused. Becoming serious notifies as a report does."""
    with refusals_recorded(session, actor, "adverse_event", str(adverse_event_id),
                           "update an adverse event"):
        require_recorder(actor, "update adverse events")
        ae = get_or_404(session, AdverseEvent, adverse_event_id, "adverse event")
        patient = get_or_404(session, Patient, ae.patient_id, "patient")
        if expected_version is not None and ae.version != expected_version:
            raise Conflict(f"adverse event {ae.id} was updated by someone else "
                           f"(now version {ae.version}); reload it")
        unknown = sorted(set(changes) - set(UPDATABLE))
        if unknown:
            raise InvalidInput(f"cannot change {', '.join(unknown)}: one of "
                               f"{', '.join(UPDATABLE)}")
        why = clean_text(reason, "the reason", limit=500)
        if not why:
            raise DomainError(ErrorCode.REASON_REQUIRED, "an update needs its reason")
        now = aware(now)
        was_serious = ae.serious
        before = {name: getattr(ae, name) for name in UPDATABLE}
        for name, value in changes.items():
            if name == "description" and isinstance(value, str):
                value = clean_text(value, "the description", required=True)
            setattr(ae, name, value)
        _check(ae, now.date())
        changed = [name for name in UPDATABLE if getattr(ae, name) != before[name]]
        if not changed:
            raise InvalidInput("nothing to update: every value is as recorded")
        ae.version += 1
        ae.updated_by_id, ae.updated_at = actor.id, now
        ae.content_hash = content_hash(ae_content(ae))
        session.add(ae)
        append(session, [PendingEvent(AuditAction.ADVERSE_EVENT_UPDATED, "adverse_event",
                                      str(ae.id), name, _text(before[name]),
                                      _text(getattr(ae, name)), reason=why)
                         for name in changed], user_id=actor.id, username=actor.username)
        if ae.serious and not was_serious:
            product = session.get(Product, ae.product_id) if ae.product_id else None
            _notify_serious(session, ae, patient, product, now)
        session.commit()
    return ae


def _text(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _check(ae: AdverseEvent, today: date) -> None:
    """Refuse what cannot describe a real adverse event."""
    if isinstance(ae.grade, bool) or ae.grade not in CTCAE_GRADES:
        raise InvalidInput("the grade is a CTCAE grade from 1 to 5")
    if not isinstance(ae.serious, bool):
        raise InvalidInput("serious must be yes or no")
    if ae.relatedness not in RELATEDNESS:
        raise InvalidInput(f"relatedness must be one of {', '.join(RELATEDNESS)}")
    if ae.outcome not in AE_OUTCOMES:
        raise InvalidInput(f"the outcome must be one of {', '.join(AE_OUTCOMES)}")
    if not isinstance(ae.onset_on, date):
        raise InvalidInput("the onset date is required")
    if ae.resolved_on is not None and not isinstance(ae.resolved_on, date):
        raise InvalidInput("the resolution date must be a date")
    if ae.onset_on > today:
        raise DomainError(ErrorCode.TIME_IN_FUTURE, "the onset cannot be after today")
    if ae.resolved_on is not None and (ae.resolved_on < ae.onset_on
                                       or ae.resolved_on > today):
        raise InvalidInput("the resolution date is between the onset and today")
    if (ae.grade == 5) != (ae.outcome == "fatal"):
        raise InvalidInput("a grade 5 adverse event (death related to it) has the outcome "
                           "fatal, and only a grade 5 has it")
    if ae.grade == 5 and not ae.serious:
        raise InvalidInput("an adverse event that results in death is serious (ICH E2A)")
    if not ae.description:
        raise InvalidInput("the description is required")


def _summary(ae: AdverseEvent, patient: Patient) -> str:
    serious = "SERIOUS, " if ae.serious else ""
    return (f"{serious}grade {ae.grade}, {ae.relatedness.replace('_', ' ')}, onset "
            f"{ae.onset_on.isoformat()}, patient {patient.subject_id}: "
            f"{ae.description}")[:1000]


def _product_of(session: Session, patient: Patient, din: str | None) -> Product | None:
    if not din:
        return None
    product = session.exec(select(Product).where(Product.din == din_text(din))).first()
    if product is None or product.patient_id != patient.id:
        raise NotFound(f"no product {din} of patient {patient.subject_id}")
    return product


def physician_of(session: Session, patient: Patient) -> User | None:
    """Who is told for the patient: the treating physician; else the physician who
    administered the patient's latest product; else whoever enrolled the patient."""
    user_id = patient.treating_physician_id
    if user_id is None:
        user_id = session.exec(
            select(StepRecord.operator_id).join(Product, col(Product.id) == StepRecord.product_id)
            .where(Product.patient_id == patient.id, StepRecord.step == "administer",
                   col(StepRecord.superseded).is_(False))
            .order_by(col(StepRecord.performed_at).desc())).first()
    return session.get(User, user_id if user_id is not None else patient.enrolled_by_id)


def _notify_serious(session: Session, ae: AdverseEvent, patient: Patient,
                    product: Product | None, now: datetime) -> None:
    """Stage the serious-adverse-event notifications: the physician first, then every
    active QA user with an address (as post-release alerts do)."""
    physician = physician_of(session, patient)
    qa_users = list(session.exec(select(User).where(
        User.role == Role.QA.value, col(User.active).is_(True), User.email != "")
        .order_by(col(User.id))))
    people = ([physician] if physician is not None else []) + [
        u for u in qa_users if physician is None or u.id != physician.id]
    subject = (f"SERIOUS adverse event: patient {patient.subject_id}, grade {ae.grade}, "
               f"onset {ae.onset_on.isoformat()}")
    body = (f"A serious adverse event was recorded for patient {patient.subject_id}"
            f"{f' after product {product.din}' if product else ''}.\n\n"
            f"Description: {ae.description}\nOnset: {ae.onset_on.isoformat()}\n"
            f"CTCAE grade: {ae.grade}\nRelatedness: {ae.relatedness.replace('_', ' ')}\n"
            f"Outcome: {ae.outcome.replace('_', ' ')}\n\n"
            f"Adverse event {ae.id}: report it as the protocol and the regulations require.")
    for user in people:
        stage_notification(session, recipient=user, subject=subject, body=body,
                           product=product, now=now)


def record_clinical_event(session: Session, *, actor: User, subject_id: str, kind: str,
                          occurred_on: date, note: str = "",
                          now: datetime | None = None) -> ClinicalEvent:
    """Record a liver transplant, an HCC diagnosis or a death. Death and transplant end
    follow-up (no later visit is due or overdue); HCC flags it (workflows.follow_up)."""
    with refusals_recorded(session, actor, "patient", subject_id, "record a clinical event"):
        require_recorder(actor, "record clinical events")
        patient = patient_by_subject(session, subject_id)
        assert patient.id is not None and actor.id is not None
        now = aware(now)
        if kind not in {k.value for k in EventKind}:
            raise InvalidInput(f"the event is one of {', '.join(k.value for k in EventKind)}")
        if occurred_on > now.date():
            raise DomainError(ErrorCode.TIME_IN_FUTURE, "the event cannot be after today")
        in_force = list(session.exec(select(ClinicalEvent).where(
            ClinicalEvent.patient_id == patient.id, ClinicalEvent.kind == kind,
            col(ClinicalEvent.superseded).is_(False))))
        if kind == EventKind.DEATH and in_force:
            raise Conflict(f"the death of patient {patient.subject_id} is recorded already")
        event = ClinicalEvent(patient_id=patient.id, kind=kind, occurred_on=occurred_on,
                              note=clean_text(note, "the note"), recorded_by_id=actor.id,
                              recorded_at=now, content_hash="")
        event.content_hash = content_hash({"patient_id": patient.id, "kind": kind,
                                           "occurred_on": occurred_on.isoformat(),
                                           "note": event.note})
        session.add(event)
        session.flush()
        effect = ("ends follow-up" if EVENT_EFFECTS[EventKind(kind)] == EventEffect.ENDS
                  else "follow-up continues, flagged")
        append(session, [PendingEvent(AuditAction.CLINICAL_EVENT_RECORDED, "clinical_event",
                                      str(event.id), "kind", None, kind,
                                      reason=f"{EVENT_WORDS[EventKind(kind)]} on "
                                             f"{occurred_on.isoformat()}, patient "
                                             f"{patient.subject_id}: {effect}")],
               user_id=actor.id, username=actor.username)
        session.commit()
    return event


def correct_clinical_event(session: Session, *, actor: User, clinical_event_id: int,
                           reason: str, occurred_on: date | None = None,
                           now: datetime | None = None) -> ClinicalEvent | None:
    """Correct a clinical event recorded in error: with `occurred_on`, a new record of the
    same kind on that day replaces it; without, it is withdrawn (kept, superseded, so
    follow-up resumes). Either way the reason is audited. Returns the new record or None."""
    with refusals_recorded(session, actor, "clinical_event", str(clinical_event_id),
                           "correct a clinical event"):
        require_recorder(actor, "correct clinical events")
        old = get_or_404(session, ClinicalEvent, clinical_event_id, "clinical event")
        why = clean_text(reason, "the reason", limit=500)
        if not why:
            raise DomainError(ErrorCode.REASON_REQUIRED, "a correction needs its reason")
        if old.superseded:
            raise Conflict(f"clinical event {old.id} was corrected already")
        now = aware(now)
        if occurred_on is not None and occurred_on > now.date():
            raise DomainError(ErrorCode.TIME_IN_FUTURE, "the event cannot be after today")
        old.superseded = True
        session.add(old)
        new = None
        if occurred_on is not None:
            new = ClinicalEvent(patient_id=old.patient_id, kind=old.kind,
                                occurred_on=occurred_on, note=old.note,
                                recorded_by_id=actor.id or 0, recorded_at=now,
                                corrects_id=old.id, reason=why, content_hash="")
            new.content_hash = content_hash({"patient_id": old.patient_id, "kind": old.kind,
                                             "occurred_on": occurred_on.isoformat(),
                                             "note": old.note})
            session.add(new)
            session.flush()
        append(session, [PendingEvent(AuditAction.CLINICAL_EVENT_CORRECTED, "clinical_event",
                                      str(old.id), "occurred_on", old.occurred_on.isoformat(),
                                      occurred_on.isoformat() if occurred_on else "withdrawn",
                                      reason=f"{old.kind}: {why}")],
               user_id=actor.id, username=actor.username)
        session.commit()
    return new


def adverse_events_of(session: Session, patient: Patient, *,
                      serious_only: bool = False) -> list[AdverseEvent]:
    query = select(AdverseEvent).where(AdverseEvent.patient_id == patient.id)
    if serious_only:
        query = query.where(col(AdverseEvent.serious).is_(True))
    return list(session.exec(query.order_by(col(AdverseEvent.onset_on),
                                            col(AdverseEvent.id))))
