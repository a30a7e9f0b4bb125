"""Laboratory values and clinical findings of the follow-up, recorded by the physician.

A laboratory value is read like every typed number of the system (the step field
cleaner: digits only, no commas, finite, within what a human serum can hold in the unit
entered), kept as entered and converted to the analyte's canonical unit by the one
explicit conversion table (workflows.liver_scores.ANALYTES). A correction is a new
record; the one it corrects is superseded, kept, and the reason is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append, content_hash
from lims.audit_actions import AuditAction
from lims.models import ClinicalFinding, FollowUpVisit, LabValue, Patient, User
from lims.services.common import aware, get_or_404
from lims.services.follow_up_common import (
    check_time,
    clean_text,
    finish,
    patient_by_subject,
    refusals_recorded,
    refuse_after_death,
    require_recorder,
)
from workflows.errors import Conflict, DomainError, ErrorCode, InvalidInput
from workflows.liver_scores import (
    ANALYTES,
    ASCITES_GRADES,
    ENCEPHALOPATHY_GRADES,
    UnitError,
    canonical_unit,
    plausible_range,
)
from workflows.step_cleaning import clean_values
from workflows.step_model import Field, StepDataError, StepSpec


@dataclass(frozen=True)
class LabEntry:
    """One value as the physician typed it: the analyte, the number and its unit."""

    analyte: str
    value: object  # a number, or the text typed into a form
    unit: str


def read_lab_entry(entry: LabEntry) -> tuple[float, str, float]:
    """(value as entered, unit as the table spells it, value in the canonical unit);
    InvalidInput naming the analyte for an unknown analyte or unit, a value that is not a
    number, or one no human serum holds (a typo or the wrong unit)."""
    analyte = ANALYTES.get(entry.analyte)
    if analyte is None:
        raise InvalidInput(f"{entry.analyte!r} is not a laboratory value of the follow-up: "
                           f"one of {', '.join(ANALYTES)}")
    try:
        unit = canonical_unit(analyte, entry.unit)
    except UnitError as error:
        raise InvalidInput(str(error)) from None
    low, high = plausible_range(analyte, unit)
    field = Field(analyte.name, analyte.label, "number", unit=unit, min=low, max=high)
    try:
        number = clean_values(StepSpec("lab_value", "Laboratory value", (field,), ()),
                              {analyte.name: entry.value})[analyte.name]
    except StepDataError as error:
        raise InvalidInput(f"{analyte.label}: {error.errors[analyte.name]}") from None
    assert isinstance(number, float)
    return number, unit, number / analyte.units[unit]


def lab_content(row: LabValue) -> dict[str, Any]:
    """What a laboratory value's hash covers."""
    return {"patient_id": row.patient_id, "visit_id": row.visit_id, "analyte": row.analyte,
            "value_entered": row.value_entered, "unit_entered": row.unit_entered,
            "value": row.value, "unit": row.unit, "sampled_at": row.sampled_at.isoformat()}


def record_lab_values(session: Session, *, actor: User, subject_id: str,
                      sampled_at: datetime, entries: Sequence[LabEntry],
                      visit_id: int | None = None,
                      now: datetime | None = None, commit: bool = True) -> list[LabValue]:
    """Record one sampling's laboratory values (all or none: one bad value refuses the
    lot, naming it). `visit_id`, when given, must be a visit of this patient."""
    with refusals_recorded(session, actor, "patient", subject_id, "record laboratory values",
                           record=commit):
        require_recorder(actor, "record laboratory values")
        patient = patient_by_subject(session, subject_id)
        check_time(session, patient, sampled_at, "the sampling time")
        refuse_after_death(session, patient, sampled_at.date(), "the sampling")
        _visit_of(session, patient, visit_id)
        if not entries:
            raise InvalidInput("no laboratory value to record")
        seen = [e.analyte for e in entries]
        twice = sorted({a for a in seen if seen.count(a) > 1})
        if twice:
            raise InvalidInput(f"one value per analyte per sampling: {', '.join(twice)} twice")
        rows = [_lab_row(patient, entry, sampled_at, visit_id, actor, aware(now))
                for entry in entries]
        session.add_all(rows)
        session.flush()
        append(session, [PendingEvent(AuditAction.LAB_VALUE_RECORDED, "lab_value", str(r.id),
                                      r.analyte, None, f"{r.value_entered:g} {r.unit_entered}",
                                      reason=f"patient {patient.subject_id}, sampled "
                                             f"{sampled_at.isoformat()}")
                         for r in rows], user_id=actor.id, username=actor.username)
        finish(session, commit)
    return rows


def _lab_row(patient: Patient, entry: LabEntry, sampled_at: datetime, visit_id: int | None,
             actor: User, now: datetime) -> LabValue:
    assert patient.id is not None and actor.id is not None
    entered, unit, value = read_lab_entry(entry)
    row = LabValue(patient_id=patient.id, visit_id=visit_id, analyte=entry.analyte,
                   value_entered=entered, unit_entered=unit, value=value,
                   unit=ANALYTES[entry.analyte].unit, sampled_at=sampled_at,
                   recorded_by_id=actor.id, recorded_at=now, content_hash="")
    row.content_hash = content_hash(lab_content(row))
    return row


def correct_lab_value(session: Session, *, actor: User, lab_value_id: int, value: object,
                      unit: str, reason: str, now: datetime | None = None) -> LabValue:
    """Replace a laboratory value (a typo, the wrong unit): a new record with the reason;
    the old one is superseded and kept. Scores computed later use the new value."""
    with refusals_recorded(session, actor, "lab_value", str(lab_value_id),
                           "correct a laboratory value"):
        require_recorder(actor, "correct laboratory values")
        old = get_or_404(session, LabValue, lab_value_id, "laboratory value")
        why = clean_text(reason, "the reason", limit=500)
        if not why:
            raise DomainError(ErrorCode.REASON_REQUIRED, "a correction needs its reason")
        if old.superseded:
            raise Conflict(f"laboratory value {lab_value_id} was corrected already: correct "
                           "the value in force")
        patient = get_or_404(session, Patient, old.patient_id, "patient")
        new = _lab_row(patient, LabEntry(old.analyte, value, unit), old.sampled_at,
                       old.visit_id, actor, aware(now))
        new.corrects_id, new.reason = old.id, why
        old.superseded = True
        session.add_all([old, new])
        session.flush()
        append(session, [PendingEvent(AuditAction.LAB_VALUE_CORRECTED, "lab_value", str(new.id),
                                      old.analyte, f"{old.value_entered:g} {old.unit_entered}",
                                      f"{new.value_entered:g} {new.unit_entered}",
                                      reason=f"corrects {old.id}: {why}")],
               user_id=actor.id, username=actor.username)
        session.commit()
    return new


def lab_values_of(session: Session, patient: Patient, *,
                  include_superseded: bool = False) -> list[LabValue]:
    """The patient's laboratory values by sampling time (those in force unless asked)."""
    query = select(LabValue).where(LabValue.patient_id == patient.id)
    if not include_superseded:
        query = query.where(col(LabValue.superseded).is_(False))
    return list(session.exec(query.order_by(col(LabValue.sampled_at), col(LabValue.id))))


def finding_content(row: ClinicalFinding) -> dict[str, Any]:
    return {"patient_id": row.patient_id, "visit_id": row.visit_id, "ascites": row.ascites,
            "encephalopathy": row.encephalopathy,
            "dialysis_twice_past_week": row.dialysis_twice_past_week,
            "observed_at": row.observed_at.isoformat(), "note": row.note}


def record_clinical_finding(session: Session, *, actor: User, subject_id: str, ascites: str,
                            encephalopathy: str, observed_at: datetime,
                            dialysis_twice_past_week: bool = False,
                            visit_id: int | None = None, note: str = "",
                            corrects_id: int | None = None, reason: str = "",
                            now: datetime | None = None,
                            commit: bool = True) -> ClinicalFinding:
    """Record the ascites and encephalopathy grades (Child-Pugh) and whether the patient
    was dialysed at least twice in the past week (MELD). With `corrects_id` and a
    `reason`, it replaces an earlier finding of the same patient (kept, superseded)."""
    with refusals_recorded(session, actor, "patient", subject_id, "record clinical findings",
                           record=commit):
        require_recorder(actor, "record clinical findings")
        patient = patient_by_subject(session, subject_id)
        assert patient.id is not None and actor.id is not None
        check_time(session, patient, observed_at, "the time of the findings")
        refuse_after_death(session, patient, observed_at.date(), "the findings")
        _visit_of(session, patient, visit_id)
        if ascites not in ASCITES_GRADES:
            raise InvalidInput(f"ascites must be one of {', '.join(ASCITES_GRADES)}")
        if encephalopathy not in ENCEPHALOPATHY_GRADES:
            raise InvalidInput("encephalopathy must be one of "
                               f"{', '.join(ENCEPHALOPATHY_GRADES)}")
        if not isinstance(dialysis_twice_past_week, bool):
            raise InvalidInput("dialysis in the past week must be yes or no")
        row = ClinicalFinding(patient_id=patient.id, visit_id=visit_id, ascites=ascites,
                              encephalopathy=encephalopathy,
                              dialysis_twice_past_week=dialysis_twice_past_week,
                              observed_at=observed_at, note=clean_text(note, "the note"),
                              recorded_by_id=actor.id, recorded_at=aware(now),
                              content_hash="")
        action = AuditAction.CLINICAL_FINDING_RECORDED
        old_text = None
        if corrects_id is not None:
            old = _finding_to_correct(session, patient, corrects_id, reason)
            row.corrects_id, row.reason = old.id, clean_text(reason, "the reason", limit=500)
            old.superseded = True
            session.add(old)
            action, old_text = AuditAction.CLINICAL_FINDING_CORRECTED, _finding_text(old)
        row.content_hash = content_hash(finding_content(row))
        session.add(row)
        session.flush()
        append(session, [PendingEvent(action, "clinical_finding", str(row.id), "grades",
                                      old_text, _finding_text(row),
                                      reason=row.reason or f"patient {patient.subject_id}")],
               user_id=actor.id, username=actor.username)
        finish(session, commit)
    return row


def _finding_text(row: ClinicalFinding) -> str:
    dialysis = ", dialysed twice in the past week" if row.dialysis_twice_past_week else ""
    return f"ascites {row.ascites}, encephalopathy {row.encephalopathy}{dialysis}"


def _finding_to_correct(session: Session, patient: Patient, finding_id: int,
                        reason: str) -> ClinicalFinding:
    old = get_or_404(session, ClinicalFinding, finding_id, "clinical finding")
    if old.patient_id != patient.id:
        raise InvalidInput(f"clinical finding {finding_id} is another patient's")
    if old.superseded:
        raise Conflict(f"clinical finding {finding_id} was corrected already")
    if not reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED, "a correction needs its reason")
    return old


def findings_of(session: Session, patient: Patient) -> list[ClinicalFinding]:
    """The patient's clinical findings in force, by the time they were observed."""
    return list(session.exec(select(ClinicalFinding).where(
        ClinicalFinding.patient_id == patient.id, col(ClinicalFinding.superseded).is_(False))
        .order_by(col(ClinicalFinding.observed_at), col(ClinicalFinding.id))))


def _visit_of(session: Session, patient: Patient, visit_id: int | None) -> None:
    if visit_id is None:
        return
    visit = session.get(FollowUpVisit, visit_id)
    if visit is None or visit.patient_id != patient.id:
        raise InvalidInput(f"visit {visit_id} is not a follow-up visit of patient "
                           f"{patient.subject_id}")


def visit_records(session: Session, visit: FollowUpVisit
                  ) -> tuple[list[LabValue], list[ClinicalFinding]]:
    """The laboratory values and findings in force recorded for one visit."""
    values = session.exec(select(LabValue).where(LabValue.visit_id == visit.id,
                                                 col(LabValue.superseded).is_(False))
                          .order_by(col(LabValue.sampled_at), col(LabValue.id)))
    findings = session.exec(select(ClinicalFinding).where(
        ClinicalFinding.visit_id == visit.id, col(ClinicalFinding.superseded).is_(False))
        .order_by(col(ClinicalFinding.observed_at), col(ClinicalFinding.id)))
    return list(values), list(findings)


def lab_value_intact(row: LabValue) -> bool:
    """Whether a laboratory value is as it was recorded (its hash still matches): a
    direct write to the database that changed it shows here."""
    return row.content_hash == content_hash(lab_content(row))
