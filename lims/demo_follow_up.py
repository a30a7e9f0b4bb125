"""The demo's clinical follow-up (issue 15): both administered patients with baseline and
post-infusion laboratory values (one in SI units, to show the conversions), clinical
findings, one non-serious adverse event and the scores computed from them.

The demo's products are given today, so no weekly visit is due yet: the values are the
baseline (sampled before the infusion) and the first post-infusion sampling, each with the
ascites and encephalopathy grades Child-Pugh needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from sqlmodel import Session

from lims.models import Patient, Product, User
from lims.services.adverse_events import report_adverse_event
from lims.services.common import utcnow
from lims.services.follow_up_records import LabEntry, record_clinical_finding, record_lab_values
from lims.services.follow_up_scores import scores_at

# (analyte, unit, baseline, after the infusion) per administered demo patient, in order.
VALUES = (
    (("bilirubin", "mg/dL", 2.4, 2.2), ("albumin", "g/dL", 2.9, 3.0), ("inr", "", 1.5, 1.4),
     ("creatinine", "mg/dL", 1.1, 1.0), ("sodium", "mmol/L", 133, 134),
     ("platelets", "10^9/L", 88, 91)),
    (("bilirubin", "µmol/L", 51.3, 47.9), ("albumin", "g/L", 28, 29), ("inr", "", 1.7, 1.6),
     ("creatinine", "µmol/L", 106, 97), ("sodium", "mmol/L", 131, 132),
     ("platelets", "10^9/L", 72, 75)),
)
FINDINGS = (("mild", "none"), ("mild", "grade_1_2"))


def follow_demo_patients(session: Session, products: Sequence[Product],
                         users: dict[str, User], say: Callable[[str], None]) -> None:
    """Baseline and post-infusion values and findings of each administered demo patient,
    and a non-serious adverse event for the first; recorded by the treating physician."""
    doctor = users["doc1"]
    now = utcnow()
    given = [p for p in products if p.state == "administered"]
    for index, product in enumerate(given[:len(VALUES)]):
        patient = session.get(Patient, product.patient_id)
        assert patient is not None
        for column, when in ((2, now - timedelta(days=3)), (3, now - timedelta(minutes=5))):
            record_lab_values(session, actor=doctor, subject_id=patient.subject_id,
                              sampled_at=when, entries=[
                                  LabEntry(name, row[column], unit)
                                  for row in VALUES[index] for name, unit in [row[:2]]])
            ascites, encephalopathy = FINDINGS[index]
            record_clinical_finding(session, actor=doctor, subject_id=patient.subject_id,
                                    ascites=ascites, encephalopathy=encephalopathy,
                                    observed_at=when)
            scores = scores_at(session, patient, when)
            say(f"follow-up of {patient.subject_id} on {when.date().isoformat()}: "
                + "; ".join(_shown(scores.as_dict())))
        if index == 0:
            report_adverse_event(session, actor=doctor, subject_id=patient.subject_id,
                                 description="Mild pain at the puncture site",
                                 onset_on=date.today(), grade=1, serious=False,
                                 relatedness="probable", outcome="recovering",
                                 din=product.din)
            say(f"adverse event (grade 1, not serious) recorded for {patient.subject_id}")


def _shown(scores: dict[str, object]) -> list[str]:
    shown = []
    for name, label, key in (("meld", "MELD", "score"), ("meld_na", "MELD-Na", "score"),
                             ("child_pugh", "Child-Pugh", "class")):
        value = scores.get(name)
        if isinstance(value, dict):
            shown.append(f"{label} {value[key]}")
    return shown
