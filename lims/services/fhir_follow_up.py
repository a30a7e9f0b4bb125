"""Follow-up after administration: laboratory values as Observations about the patient
(LOINC), adverse events as AdverseEvents with the product as suspect.

LOINC codes of the values the scores use (MELD, MELD-Na, Child-Pugh) and of the enzymes,
each found alike in several independent code tables (docs/fhir/README.md): bilirubin
total 1975-2, albumin 1751-7, INR 6301-6, creatinine 2160-0, sodium 2951-2, platelets
777-3, alkaline phosphatase 6768-6, ALT 1742-6, AST 1920-8. Every value also carries
the lab's local analyte code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lims.models import AdverseEvent, LabValue
from lims.services.fhir_common import (
    AE_SERIOUSNESS,
    CLINICAL_TRIALS,
    LOCAL,
    LOCAL_CODES,
    LOINC,
    RECORD_ID,
    UCUM,
    Entry,
    concept,
    entry,
    fhir_time,
    identifier,
    local_concept,
    without_empty,
)
from lims.services.fhir_observations import LABORATORY
from workflows.liver_scores import ANALYTES

# workflows.liver_scores.ANALYTES key -> (LOINC code, its long common name)
ANALYTE_LOINC: Mapping[str, tuple[str, str]] = {
    "bilirubin": ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma"),
    "albumin": ("1751-7", "Albumin [Mass/volume] in Serum or Plasma"),
    "inr": ("6301-6", "INR in Platelet poor plasma by Coagulation assay"),
    "creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma"),
    "sodium": ("2951-2", "Sodium [Moles/volume] in Serum or Plasma"),
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count"),
    "alkaline_phosphatase": ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] "
                                       "in Serum or Plasma"),
    "alt": ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or "
                      "Plasma"),
    "ast": ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or "
                      "Plasma"),
}
# The canonical units of workflows.liver_scores -> UCUM.
UNIT_UCUM: Mapping[str, str] = {
    "mg/dL": "mg/dL", "g/dL": "g/dL", "ratio": "{INR}", "mmol/L": "mmol/L",
    "10^9/L": "10*9/L", "U/L": "U/L", "g/L": "g/L", "µmol/L": "umol/L",
}
CTCAE_GRADE = f"{LOCAL}/StructureDefinition/ctcae-grade"


def lab_code(analyte: str) -> dict[str, Any]:
    known = ANALYTES.get(analyte)
    words = known.label if known else analyte.replace("_", " ")
    codings: list[dict[str, str]] = []
    if analyte in ANALYTE_LOINC:
        code, name = ANALYTE_LOINC[analyte]
        codings.append({"system": LOINC, "code": code, "display": name})
    codings.append({"system": f"{LOCAL_CODES}/analyte", "code": analyte, "display": words})
    return {"coding": codings, "text": words}


def lab_entries(subject_key: str, values: list[LabValue], patient: Entry) -> list[Entry]:
    """One Observation per current laboratory value (a correction replaces what it corrects)."""
    found = []
    for value in values:
        if value.superseded:
            continue
        made = entry("Observation", identifier(RECORD_ID, f"{subject_key}-lab-{value.id}"))
        quantity: dict[str, Any] = {"value": value.value, "unit": value.unit}
        ucum = UNIT_UCUM.get(value.unit)
        if ucum is not None:
            quantity |= {"system": UCUM, "code": ucum}
        made.resource = without_empty({
            "resourceType": "Observation",
            "identifier": [made.match],
            "status": "corrected" if value.corrects_id else "final",
            "category": [LABORATORY],
            "code": lab_code(value.analyte),
            "subject": patient.reference(),
            "effectiveDateTime": fhir_time(value.sampled_at),
            "issued": fhir_time(value.recorded_at),
            "valueQuantity": quantity,
        })
        found.append(made)
    return found


def adverse_event_entries(subject_key: str, events: list[AdverseEvent], patient: Entry,
                          protocol_code: str, products: Mapping[int, Entry]) -> list[Entry]:
    """Each adverse event with its CTCAE grade, seriousness, outcome and relatedness to the
    product (`products`: product id -> its final container's entry)."""
    found = []
    for event in events:
        made = entry("AdverseEvent", identifier(RECORD_ID, f"{subject_key}-ae-{event.id}"))
        suspect = products.get(event.product_id) if event.product_id else None
        made.resource = without_empty({
            "resourceType": "AdverseEvent",
            "extension": [{"url": CTCAE_GRADE, "valueInteger": event.grade}],
            "identifier": [made.match],
            "status": "completed" if event.resolved_on else "in-progress",
            "actuality": "actual",
            "code": {"text": event.description},
            "subject": patient.reference(),
            "occurrenceDateTime": fhir_time(event.onset_on),
            "recordedDate": fhir_time(event.reported_at),
            "seriousness": concept(AE_SERIOUSNESS, *(
                ("serious", "Serious") if event.serious else ("non-serious", "Non-serious"))),
            "outcome": [local_concept("ae-outcome", event.outcome,
                                      event.outcome.replace("_", " "))],
            "suspectEntity": [without_empty({
                "instanceReference": suspect.reference(),
                "causality": {"entityRelatedness": local_concept(
                    "ae-relatedness", event.relatedness, event.relatedness.replace("_", " "))},
            })] if suspect else [],
            "study": [{"identifier": identifier(CLINICAL_TRIALS, protocol_code)}],
        })
        found.append(made)
    return found
