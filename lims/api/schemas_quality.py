"""Request and response models: QC, dispositions, QA decisions, deviations, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from lims.api.schemas import In, Out, ProductOut
from workflows.qc_methods import QC_METHODS, SAMPLE_VOLUME_MAX_ML
from workflows.specifications import QC_TESTS

Password = Field(min_length=1, max_length=256, description="Your password, re-entered to sign")


class QcResultIn(In):
    test: str = Field(min_length=1, max_length=40,
                      description="One of: " + ", ".join(QC_TESTS))
    value: str = Field(min_length=1, max_length=60,
                       description="A number, or the result's word (e.g. 'no growth')")
    method: str = Field(default="", max_length=120, description=(
        "How the test was performed, one of the test's methods: " + "; ".join(
            f"{test}: {' | '.join(methods)}" for test, methods in QC_METHODS.items())
        + ". Required for a first result; a correction keeps the earlier one's"))
    instrument: str = Field(default="", max_length=120, description=(
        "Equipment code of the instrument (registered, of the type the method needs, in "
        "calibration); empty for a method without one"))
    tested_at: AwareDatetime | None = Field(default=None, description="Default: now")
    sample_drawn_at: AwareDatetime | None = Field(default=None, description=(
        "When the QC sample was drawn from the final product: not before the formulation, "
        "not in the future. Required for a first result"))
    sample_volume_ml: float | None = Field(default=None, gt=0, le=SAMPLE_VOLUME_MAX_ML,
                                           allow_inf_nan=False, description=(
        "Volume the sample took, ml (no longer in the product). Required for a first result"))
    reason: str | None = Field(default=None, max_length=500,
                               description="Required to correct an earlier result")


class QcResultOut(Out):
    id: int
    test: str
    value: str
    unit: str
    passed: bool | None = Field(description="None while pending")
    method: str
    instrument: str
    tested_at: datetime | None
    sample_drawn_at: datetime | None
    sample_volume_ml: float | None
    late: bool
    reason: str | None
    entered_at: datetime
    superseded: bool
    needs_verification: bool = Field(
        description="A correction of an out-of-specification result: counts once verified")
    verified_by_id: int | None
    verified_at: datetime | None


class SignIn(In):
    password: str = Password


class VerifyIn(In):
    password: str = Password
    note: str = Field(default="", max_length=500, description="What was checked")


class ReReleaseIn(In):
    password: str = Password
    note: str = Field(default="", max_length=500,
                      description="What lifted the suspension (e.g. the verified correction)")


class RejectIn(In):
    password: str = Password
    reason: str = Field(min_length=1, max_length=500)


class DiscardIn(In):
    """A discard is a signed decision: the reason is the signature's justification."""

    reason: str = Field(min_length=1, max_length=500,
                        description="Why the product is destroyed (recorded and signed)")
    password: str = Password


class ExceptionalReleaseIn(In):
    password: str = Password
    justification: str = Field(min_length=1, max_length=2000)
    physician: str = Field(min_length=1, max_length=64,
                           description="User name of the approving physician")
    physician_password: str = Field(min_length=1, max_length=256)


class DeviationIn(In):
    step: str = Field(min_length=1, max_length=30)
    description: str = Field(min_length=1, max_length=2000)
    classification: Literal["minor", "major", "critical"]
    immediate_action: str = Field(default="", max_length=2000)
    impact_assessment: str = Field(default="", max_length=2000)


class DeviationCloseIn(In):
    disposition: str = Field(min_length=1, max_length=2000)
    password: str = Password
    impact_assessment: str | None = Field(default=None, max_length=2000)


class DeviationOut(Out):
    id: int
    step: str
    description: str
    classification: str
    kind: str = Field(default="manual", description="manual, or what opened it automatically: "
                      "near_miss, dose_discrepancy, cell_balance, volume_balance")
    immediate_action: str
    impact_assessment: str
    status: str
    disposition: str | None
    raised_at: datetime
    closed_at: datetime | None


class AlertOut(Out):
    id: int
    product_id: int
    kind: str
    message: str
    raised_at: datetime
    acknowledged_at: datetime | None
    severity: str = Field(default="release", description="release (QA must decide) or "
                          "clinical (already administered: the physician must act)")


class AcknowledgeIn(In):
    password: str = Password
    note: str = Field(default="", max_length=2000)


class QueueItemOut(Out):
    din: str
    subject_id: str
    arm: str
    state: str
    exceptions: int = Field(description="How many exceptions the review will show")
    alert: str | None = Field(description="An unacknowledged post-release alert, if any")


class ReviewExceptionOut(Out):
    kind: str = Field(description="out_of_spec, pending, deviation, correction, late_entry, "
                      "warning, witness, time_window, coi_refusal, near_miss (a wrong "
                      "patient's or product's container refused, and its deviation), "
                      "reprint, alert, independence")
    text: str


class ReviewSummaryOut(Out):
    din: str
    subject_id: str
    arm: str
    state: str
    specification: str = Field(description="The specification version the product is judged by")
    exceptions: list[ReviewExceptionOut] = Field(description="What the reviewer must look at")
    missing_tests: list[str]
    failed_tests: list[str]
    failed_criteria: list[str] = Field(
        default_factory=list, description="Criteria failing outside the QC results (the dose "
        "computed from the formulation counts)")
    open_alerts: list[AlertOut]
    releasable: bool = Field(description="Every required QC result is in and passed, and the "
                             "computed dose meets the specification")


CorrectedValue = (Annotated[str, StringConstraints(max_length=500)]
                  | Annotated[float, Field(allow_inf_nan=False)] | bool | None)


class StepCorrectionIn(In):
    changes: dict[Annotated[str, StringConstraints(min_length=1, max_length=60)],
                  CorrectedValue] = Field(
        min_length=1, max_length=60,
        description="Field name → corrected value, in the step's own form (e.g. "
                    "{\"final_volume_ml\": 4.8}); null clears an optional field")
    reason: str = Field(min_length=1, max_length=500,
                        description="Why the recorded value was wrong and where the right one "
                                    "comes from; recorded with each old → new value")


class StepCorrectionOut(Out):
    product: ProductOut
    record_ids: list[int] = Field(description="The new records: the corrected step, then any "
                                  "later step whose figures were recomputed from it")
    warnings: list[str] = Field(description="Out-of-limit values accepted with a warning")
    release_suspended: bool = Field(description="The correction changed what QA released: the "
                                    "release is suspended until QA re-releases")
