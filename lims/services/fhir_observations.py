"""QC results of a product as Observations about its final container.

LOINC where a code was checked (docs/fhir/README.md): the Gram stain is 664-3
"Microscopic observation [Identifier] in Specimen by Gram stain". The other release tests
(viability by 7-AAD, viable dose, CD133+ purity, endotoxin, sterility culture of a cell
product, mycoplasma) carry the lab's local code: no LOINC term for them in a cellular
therapy product was confirmed, and a near miss (a blood culture, a CD34 count in blood)
would say something the lab did not measure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lims.models import Product, QcResult
from lims.services.fhir_common import (
    INTERPRETATION,
    LOCAL_CODES,
    LOINC,
    OBSERVATION_CATEGORY,
    RECORD_ID,
    Entry,
    concept,
    entry,
    fhir_time,
    identifier,
    without_empty,
)
from workflows.specifications import QC_TESTS

QC_CODE_SYSTEM = f"{LOCAL_CODES}/qc-test"
# test -> (LOINC code, its long common name)
QC_LOINC: Mapping[str, tuple[str, str]] = {
    "gram_stain": ("664-3", "Microscopic observation [Identifier] in Specimen by Gram stain"),
}
# The units QC results are entered in -> UCUM (EU/ml has no UCUM unit: sent as text only).
QC_UCUM: Mapping[str, str] = {"%": "%", "cells": "{cells}"}
LABORATORY = concept(OBSERVATION_CATEGORY, "laboratory", "Laboratory")


def qc_code(test: str) -> dict[str, Any]:
    words = QC_TESTS[test].label if test in QC_TESTS else test
    codings = []
    if test in QC_LOINC:
        code, name = QC_LOINC[test]
        codings.append({"system": LOINC, "code": code, "display": name})
    codings.append({"system": QC_CODE_SYSTEM, "code": test, "display": words})
    return {"coding": codings, "text": words}


def qc_entries(product: Product, results: list[QcResult], subject: Entry | None
               ) -> list[Entry]:
    """One Observation per current QC result (a corrected one replaces the one it corrects)."""
    return [_qc_entry(product, result, subject) for result in results if not result.superseded]


def _qc_entry(product: Product, result: QcResult, subject: Entry | None) -> Entry:
    found = entry("Observation", identifier(RECORD_ID, f"{product.din}-qc-{result.id}"))
    definition = QC_TESTS.get(result.test)
    pending = result.passed is None
    found.resource = without_empty({
        "resourceType": "Observation",
        "identifier": [found.match],
        # A sterility culture still incubating is preliminary; a correction says so.
        "status": "preliminary" if pending else ("corrected" if result.reason else "final"),
        "category": [LABORATORY],
        "code": qc_code(result.test),
        "subject": subject.reference() if subject else None,
        "effectiveDateTime": fhir_time(result.sample_drawn_at or result.tested_at),
        "issued": fhir_time(result.entered_at),
        **_value(result, definition.kind if definition else "text"),
        "interpretation": [] if pending else [concept(
            INTERPRETATION, "N" if result.passed else "A",
            "Normal" if result.passed else "Abnormal",
            "meets specification" if result.passed else "outside specification")],
        "method": {"text": result.method} if result.method else None,
        "note": [{"text": f"Instrument {result.instrument}"}] if result.instrument else [],
    })
    return found


def _value(result: QcResult, kind: str) -> dict[str, Any]:
    if kind == "number":
        try:
            number = float(result.value)
        except ValueError:
            return {"valueString": result.value}
        value: dict[str, Any] = {"value": number, "unit": result.unit}
        if result.unit in QC_UCUM:
            value |= {"system": "http://unitsofmeasure.org", "code": QC_UCUM[result.unit]}
        return {"valueQuantity": value}
    return {"valueString": result.value}
