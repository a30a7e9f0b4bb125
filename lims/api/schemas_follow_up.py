"""Request and answer bodies of the clinical follow-up (issue 15)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from lims.api.schemas import MAX_ID, Day, In, Out

Ascites = Literal["none", "mild", "moderate_severe"]
Encephalopathy = Literal["none", "grade_1_2", "grade_3_4"]
Relatedness = Literal["not_related", "unlikely", "possible", "probable", "definite"]
Outcome = Literal["recovering", "recovered", "recovered_with_sequelae", "not_recovered",
                  "fatal", "unknown"]
VisitId = Field(default=None, ge=1, le=MAX_ID,
                description="The scheduled visit these were taken at, if any")


class VisitIn(In):
    done_at: AwareDatetime = Field(description="When the visit took place, with its zone")
    note: str = Field(default="", max_length=2000)


class LabEntryIn(In):
    analyte: str = Field(min_length=1, max_length=40, description=(
        "bilirubin, albumin, inr, creatinine, sodium, platelets, alkaline_phosphatase, alt, "
        "ast"))
    value: float = Field(description="As the laboratory reported it, in `unit`")
    unit: str = Field(default="", max_length=20, description=(
        "bilirubin/creatinine mg/dL or µmol/L; albumin g/dL or g/L; sodium mmol/L or mEq/L; "
        "platelets 10^9/L or 10^3/µL; enzymes U/L; INR none"))


class LabValuesIn(In):
    sampled_at: AwareDatetime
    visit_id: int | None = VisitId
    values: list[LabEntryIn] = Field(min_length=1, max_length=20)


class LabCorrectionIn(In):
    value: float
    unit: str = Field(default="", max_length=20)
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the audit)")


class LabValueOut(Out):
    id: int
    visit_id: int | None
    analyte: str
    value_entered: float
    unit_entered: str
    value: float = Field(description="In the canonical unit the scores use")
    unit: str
    sampled_at: datetime
    recorded_by_id: int
    superseded: bool
    corrects_id: int | None
    reason: str | None


class FindingIn(In):
    ascites: Ascites
    encephalopathy: Encephalopathy
    dialysis_twice_past_week: bool = False
    observed_at: AwareDatetime
    visit_id: int | None = VisitId
    note: str = Field(default="", max_length=2000)
    corrects_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    reason: str = Field(default="", max_length=500)


class FindingOut(Out):
    id: int
    visit_id: int | None
    ascites: str
    encephalopathy: str
    dialysis_twice_past_week: bool
    observed_at: datetime
    note: str
    superseded: bool
    corrects_id: int | None


class AdverseEventIn(In):
    description: str = Field(min_length=1, max_length=2000)
    onset_on: Day
    grade: int = Field(ge=1, le=5, description="CTCAE grade 1-5")
    serious: bool
    relatedness: Relatedness
    outcome: Outcome
    din: str | None = Field(default=None, max_length=24,
                            description="The administered product it follows, if suspected")
    resolved_on: Day | None = None


class AdverseEventUpdateIn(In):
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the audit)")
    expected_version: int | None = Field(default=None, ge=1, le=MAX_ID)
    description: str | None = Field(default=None, min_length=1, max_length=2000)
    onset_on: Day | None = None
    grade: int | None = Field(default=None, ge=1, le=5)
    serious: bool | None = None
    relatedness: Relatedness | None = None
    outcome: Outcome | None = None
    resolved_on: Day | None = None


class AdverseEventOut(Out):
    id: int
    product_id: int | None
    description: str
    onset_on: date
    grade: int
    serious: bool
    relatedness: str
    outcome: str
    resolved_on: date | None
    reported_by_id: int
    version: int


class ClinicalEventIn(In):
    kind: Literal["transplant", "hcc", "death"]
    occurred_on: Day
    note: str = Field(default="", max_length=2000)


class ClinicalEventOut(Out):
    id: int
    kind: str
    occurred_on: date
    note: str


class VisitOut(Out):
    id: int
    din: str = Field(description="The administration this visit follows")
    code: str
    label: str
    kind: str = Field(description="visit (weekly to week 4) or labs (laboratory visit)")
    day: int = Field(description="Days after the administration day")
    due_on: date
    window_days: int
    status: str = Field(description="done, upcoming, due, overdue or not_expected")
    days_overdue: int
    hcc_flag: bool = Field(description="Due after an HCC diagnosis")
    done_at: datetime | None
    note: str
    scores: dict[str, object] = Field(description=(
        "MELD, MELD-Na and Child-Pugh computed from this visit's values and findings "
        "(never typed), with their inputs, formulas and what is missing"))
    lab_values: list[LabValueOut]
    findings: list[FindingOut]


class TimelineOut(Out):
    subject_id: str
    administrations: list[tuple[str, date]] = Field(description="(DIN, administration day)")
    ended_on: date | None = Field(description="Death or transplant: follow-up ended")
    hcc_on: date | None
    visits: list[VisitOut]
    unscheduled_lab_values: list[LabValueOut]
    adverse_events: list[AdverseEventOut]
    clinical_events: list[ClinicalEventOut]


class OverdueOut(Out):
    subject_id: str
    patient_name: str
    din: str
    visit_id: int
    code: str
    label: str
    due_on: date
    window_days: int
    days_overdue: int


class ClinicalEventCorrectionIn(In):
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the audit)")
    occurred_on: Day | None = Field(default=None, description=(
        "The right date; absent: the event is withdrawn (recorded in error)"))
