"""Clinical follow-up after an administration: the visit schedule, laboratory values,
clinical findings (ascites, encephalopathy), adverse events and the clinical events
(transplant, HCC, death) that end or change follow-up.

Scores (MELD, MELD-Na, Child-Pugh) are never stored: they are computed from these records
(workflows.liver_scores) each time they are shown, so a corrected laboratory value
corrects every score that used it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel, UniqueConstraint

from lims.models.base import now_utc, utc_column


class FollowUpVisit(SQLModel, table=True):
    """One visit of the protocol's schedule, created with the administration that calls
    for it (workflows.follow_up.visit_plan); done once the physician records it."""

    __tablename__ = "follow_up_visit"
    __table_args__ = (UniqueConstraint("product_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    # The administration (its product) whose infusion started this visit's clock.
    product_id: int = Field(foreign_key="product.id", index=True)
    code: str = Field(max_length=20)  # "W1" ... "W24": week after that administration
    label: str = Field(max_length=120)
    day: int  # days after the administration day
    due_on: date
    window_days: int  # ± days around due_on still counted as on time (protocol parameter)
    # "visit" (clinical, weekly to week 4) or "labs" (laboratory visit to week 24)
    kind: str = Field(default="visit", max_length=10)
    scheduled_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    done_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    recorded_by_id: int | None = Field(default=None, foreign_key="user.id")
    recorded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    note: str = Field(default="", max_length=2000)


class LabValue(SQLModel, table=True):
    """One laboratory result of a patient, as entered and in the canonical unit the
    scores use; a correction is a new row, the corrected one is superseded (kept)."""

    __tablename__ = "lab_value"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="follow_up_visit.id", index=True)
    analyte: str = Field(max_length=40)  # workflows.liver_scores.ANALYTES key
    value_entered: float
    unit_entered: str = Field(max_length=20)
    value: float  # in the analyte's canonical unit (conversion in workflows.liver_scores)
    unit: str = Field(max_length=20)
    sampled_at: datetime = Field(sa_column=utc_column())
    recorded_by_id: int = Field(foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    content_hash: str = Field(max_length=64)
    superseded: bool = False
    corrects_id: int | None = Field(default=None, foreign_key="lab_value.id")
    reason: str | None = Field(default=None, max_length=500)


class ClinicalFinding(SQLModel, table=True):
    """What the physician found at the bedside that the scores need: the ascites and
    hepatic encephalopathy grades (Child-Pugh) and dialysis in the past week (MELD)."""

    __tablename__ = "clinical_finding"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="follow_up_visit.id", index=True)
    ascites: str = Field(max_length=20)  # none, mild, moderate_severe
    encephalopathy: str = Field(max_length=20)  # none, grade_1_2, grade_3_4
    dialysis_twice_past_week: bool = False  # MELD: creatinine counted as 4.0 mg/dL
    observed_at: datetime = Field(sa_column=utc_column())
    note: str = Field(default="", max_length=2000)
    recorded_by_id: int = Field(foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    content_hash: str = Field(max_length=64)
    superseded: bool = False
    corrects_id: int | None = Field(default=None, foreign_key="clinical_finding.id")
    reason: str | None = Field(default=None, max_length=500)


class AdverseEvent(SQLModel, table=True):
    """An adverse event after administration (CTCAE grade 1-5). Updates (outcome,
    grade, relatedness ...) change this row; each changed field is audited old → new and
    `version` counts them. A serious one notifies QA and the physician."""

    __tablename__ = "adverse_event"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    product_id: int | None = Field(default=None, foreign_key="product.id", index=True)
    description: str = Field(max_length=2000)
    onset_on: date
    grade: int  # CTCAE 1-5
    serious: bool = False
    relatedness: str = Field(max_length=20)  # workflows.follow_up.RELATEDNESS
    outcome: str = Field(max_length=30)  # workflows.follow_up.AE_OUTCOMES
    resolved_on: date | None = None
    reported_by_id: int = Field(foreign_key="user.id")
    reported_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    updated_by_id: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    version: int = 1
    content_hash: str = Field(max_length=64)


class ClinicalEvent(SQLModel, table=True):
    """Liver transplant, hepatocellular carcinoma or death: ends (transplant, death) or
    flags (HCC) the patient's follow-up (workflows.follow_up.EVENT_EFFECTS)."""

    __tablename__ = "clinical_event"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    kind: str = Field(max_length=20)  # transplant, hcc, death
    occurred_on: date
    note: str = Field(default="", max_length=2000)
    recorded_by_id: int = Field(foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    content_hash: str = Field(max_length=64)
    superseded: bool = False
    corrects_id: int | None = Field(default=None, foreign_key="clinical_event.id")
    reason: str | None = Field(default=None, max_length=500)
