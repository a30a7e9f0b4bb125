"""MELD, MELD-Na and Child-Pugh of a patient at a visit or on a date, computed from the
laboratory values and clinical findings in force (workflows.liver_scores), never stored
and never typed: a corrected value corrects every score computed after it.

Which values a score uses:
- at a visit: the values recorded for that visit (the latest of each analyte), and the
  findings recorded for it;
- at a time: the latest value of each analyte sampled at or before it, no older than
  SCORE_LAB_MAX_AGE (values days apart do not describe one state of the liver) [Prop].
A score whose inputs are missing is not computed; `missing` says what is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from lims.models import ClinicalFinding, FollowUpVisit, LabValue, Patient
from workflows.liver_scores import ChildPugh, Meld, MeldNa, child_pugh, meld, meld_na

SCORE_LAB_MAX_AGE = timedelta(days=7)  # [Prop] no published figure for this trial


@dataclass(frozen=True)
class Scores:
    """The scores of one moment, what they used, and what is missing for the others."""

    meld: Meld | None
    meld_na: MeldNa | None
    child_pugh: ChildPugh | None
    used: dict[str, LabValue]  # analyte → the laboratory value in force that was used
    finding: ClinicalFinding | None
    missing: tuple[str, ...]  # e.g. "MELD-Na: sodium"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: each score with its inputs, for the API and the exports."""
        return {
            "meld": None if self.meld is None else {
                "score": self.meld.score, "unrounded": round(self.meld.unrounded, 3),
                "bilirubin_mg_dl": self.meld.bilirubin_used, "inr": self.meld.inr_used,
                "creatinine_mg_dl": self.meld.creatinine_used, "notes": list(self.meld.notes),
                "formula": "UNOS MELD: 10 × (0.957 ln Cr + 0.378 ln bili + 1.120 ln INR "
                           "+ 0.643), Kamath 2001 / OPTN Policy 9.1"},
            "meld_na": None if self.meld_na is None else {
                "score": self.meld_na.score, "meld_i": self.meld_na.meld_i,
                "sodium_mmol_l": self.meld_na.sodium_used,
                "sodium_applied": self.meld_na.sodium_applied,
                "notes": list(self.meld_na.notes),
                "formula": "OPTN 2016: MELD(i) + 1.32 (137 − Na) − 0.033 MELD(i) (137 − Na)"},
            "child_pugh": None if self.child_pugh is None else {
                "points": self.child_pugh.points, "class": self.child_pugh.child_class,
                "formula": "Pugh 1973 (INR bands 1.7 / 2.3)"},
            "lab_value_ids": {k: v.id for k, v in self.used.items()},
            "clinical_finding_id": self.finding.id if self.finding else None,
            "missing": list(self.missing),
        }


def compute_scores(values: Iterable[LabValue], finding: ClinicalFinding | None) -> Scores:
    """The scores from these values (the latest of each analyte wins) and finding."""
    used: dict[str, LabValue] = {}
    for value in sorted(values, key=lambda v: (v.sampled_at, v.id or 0)):
        used[value.analyte] = value
    number = {name: row.value for name, row in used.items()}
    missing: list[str] = []
    dialysis = bool(finding and finding.dialysis_twice_past_week)
    meld_needs = [a for a in ("bilirubin", "inr", "creatinine") if a not in number]
    the_meld = the_na = the_cp = None
    if meld_needs:
        missing.append("MELD: " + ", ".join(meld_needs))
    else:
        the_meld = meld(number["bilirubin"], number["inr"], number["creatinine"],
                        dialysis_twice_past_week=dialysis)
    na_needs = [*meld_needs, *(["sodium"] if "sodium" not in number else [])]
    if na_needs:
        missing.append("MELD-Na: " + ", ".join(na_needs))
    else:
        the_na = meld_na(number["bilirubin"], number["inr"], number["creatinine"],
                         number["sodium"], dialysis_twice_past_week=dialysis)
    cp_needs = [a for a in ("bilirubin", "albumin", "inr") if a not in number]
    if finding is None:
        cp_needs.append("ascites and encephalopathy grades")
    if cp_needs:
        missing.append("Child-Pugh: " + ", ".join(cp_needs))
    else:
        assert finding is not None
        the_cp = child_pugh(number["bilirubin"], number["albumin"], number["inr"],
                            ascites=finding.ascites, encephalopathy=finding.encephalopathy)
    return Scores(the_meld, the_na, the_cp, used, finding, tuple(missing))


def visit_scores(session: Session, visit: FollowUpVisit) -> Scores:
    """The scores of one visit, from the values and findings recorded for it."""
    values = session.exec(select(LabValue).where(LabValue.visit_id == visit.id,
                                                 col(LabValue.superseded).is_(False)))
    finding = session.exec(select(ClinicalFinding).where(
        ClinicalFinding.visit_id == visit.id, col(ClinicalFinding.superseded).is_(False))
        .order_by(col(ClinicalFinding.observed_at).desc(),
                  col(ClinicalFinding.id).desc())).first()
    return compute_scores(values, finding)


def scores_at(session: Session, patient: Patient, at: datetime) -> Scores:
    """The scores of the patient at `at`: the latest values sampled within
    SCORE_LAB_MAX_AGE before it, and the latest finding observed in that time."""
    since = at - SCORE_LAB_MAX_AGE
    values = session.exec(select(LabValue).where(
        LabValue.patient_id == patient.id, col(LabValue.superseded).is_(False),
        col(LabValue.sampled_at) <= at, col(LabValue.sampled_at) >= since))
    finding = session.exec(select(ClinicalFinding).where(
        ClinicalFinding.patient_id == patient.id, col(ClinicalFinding.superseded).is_(False),
        col(ClinicalFinding.observed_at) <= at, col(ClinicalFinding.observed_at) >= since)
        .order_by(col(ClinicalFinding.observed_at).desc(),
                  col(ClinicalFinding.id).desc())).first()
    return compute_scores(values, finding)
