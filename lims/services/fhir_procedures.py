"""The harvest and the portal-vein infusion as Procedures, and the issue to the procedure
room as a BiologicallyDerivedProductDispense.

No SNOMED CT codes are sent: none was checked for "bone-marrow harvest for autologous
cell therapy" or "infusion of cells into the portal vein", so the procedures carry the
lab's local codes with their words (docs/fhir/README.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from lims.models import Product, StepRecord
from lims.services.fhir_common import (
    ISBT_DIN,
    RECORD_ID,
    Entry,
    entry,
    fhir_time,
    identifier,
    local_concept,
    quantity,
    without_empty,
)
from lims.services.fhir_product import step_period


def harvest_entry(product: Product, records: Mapping[str, StepRecord], patient: Entry
                  ) -> Entry | None:
    record = records.get("harvest")
    if record is None:
        return None
    found = entry("Procedure", identifier(RECORD_ID, f"{product.din}-harvest"))
    values = record.values
    found.resource = without_empty({
        "resourceType": "Procedure",
        # The DIN identifies the donation event: the products' biologicalSourceEvent.
        "identifier": [found.match, identifier(ISBT_DIN, product.din)],
        "status": "completed",
        "code": local_concept("procedure", "bone-marrow-harvest",
                              "Bone-marrow harvest (autologous)"),
        "subject": patient.reference(),
        "occurrencePeriod": step_period(record),
        "note": [{"text": f"Volume aspirated {values['volume_ml']} mL; "
                          f"anticoagulant {values.get('anticoagulant', '')}"}]
        if values.get("volume_ml") is not None else [],
    })
    return found


def dispense_entry(product: Product, records: Mapping[str, StepRecord], patient: Entry,
                   final: Entry | None) -> Entry | None:
    """The issue to the procedure room; None before the product has been issued."""
    issue = records.get("issue")
    if issue is None or final is None:
        return None
    found = entry("BiologicallyDerivedProductDispense",
                  identifier(RECORD_ID, f"{product.din}-issue"))
    values, formulate = issue.values, records.get("formulate")
    conditions = [text for text in (
        values.get("transport_conditions"),
        f"transport temperature {values['temperature_c']} °C"
        if values.get("temperature_c") is not None else None) if text]
    final_volume = formulate.values.get("final_volume_ml") if formulate else None
    found.resource = without_empty({
        "resourceType": "BiologicallyDerivedProductDispense",
        "identifier": [found.match],
        # Issued after QA release: R5 counts a dispense complete once issued.
        "status": "issued",
        "product": final.reference(),
        "patient": patient.reference(),
        "quantity": quantity(final_volume, "mL", "mL") if final_volume is not None else None,
        "preparedDate": fhir_time(formulate.values.get("ended_at")) if formulate else None,
        "whenHandedOver": fhir_time(values.get("time_issued")),
        "note": [{"text": "; ".join(conditions)}] if conditions else [],
        "usageInstruction": "For autologous use only: infusion into the portal vein.",
    })
    return found


def administration_entry(product: Product, records: Mapping[str, StepRecord], patient: Entry,
                         final: Entry | None, dispense: Entry | None) -> Entry | None:
    """The portal-vein infusion; None before the product has been administered."""
    record = records.get("administer")
    if record is None or final is None:
        return None
    found = entry("Procedure", identifier(RECORD_ID, f"{product.din}-administration"))
    values = record.values
    notes = [f"Volume injected {values['volume_injected_ml']} mL"
             if values.get("volume_injected_ml") is not None else "",
             "sonography-guided" if values.get("sonography_guided") else "",
             f"immediate adverse events: {values['adverse_events']}"
             if values.get("adverse_events") else ""]
    found.resource = without_empty({
        "resourceType": "Procedure",
        "identifier": [found.match],
        "status": "completed",
        "code": local_concept("procedure", "portal-vein-infusion",
                              "Infusion of autologous bone-marrow cells into the portal vein"),
        "subject": patient.reference(),
        "occurrencePeriod": step_period(record),
        "bodySite": [{"text": str(values.get("route") or "portal vein")}],
        "used": [{"reference": final.reference()}],
        "supportingInfo": [dispense.reference()] if dispense else [],
        "note": [{"text": "; ".join(n for n in notes if n)}] if any(notes) else [],
    })
    return found
