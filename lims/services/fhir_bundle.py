"""A product's FHIR R5 transaction Bundle: the patient, every container of the DIN, the
harvest, the issue, the portal-vein infusion, the QC results, and the follow-up laboratory
values and adverse events.

Every resource is built as a `fhir.resources` R5 model (so a mapping error fails here,
not at the receiver) and serialised in FHIR's element order. Each entry is a conditional
update (`PUT Type?identifier=system|value`) with a urn:uuid fullUrl derived from that
identifier: the same records give byte-identical bundles, and a later export diffs against
an earlier one.

Pseudonymised unless a patient reader asks for the identified export: then each patient it
names is recorded in the audit trail and committed before the bundle is returned
(lims.services.fhir_disclosure); a pseudonymised export writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fhir.resources import get_fhir_model_class
from sqlalchemy import func
from sqlmodel import Session, col, select

from lims.config import get_settings
from lims.models import (
    AdverseEvent,
    Container,
    LabValue,
    Patient,
    Product,
    Protocol,
    QcResult,
    StepRecord,
    User,
)
from lims.services.common import (
    aware,
    get_or_404,
    parameters_of,
    patient_of,
    product_by_din,
)
from lims.services.fhir_common import ISBT_DIN, Entry, fhir_time
from lims.services.fhir_disclosure import (
    Disclosure,
    Interface,
    disclosure_for,
    record_disclosure,
)
from lims.services.fhir_follow_up import adverse_event_entries, lab_entries
from lims.services.fhir_observations import qc_entries
from lims.services.fhir_patient import patient_entry
from lims.services.fhir_procedures import administration_entry, dispense_entry, harvest_entry
from lims.services.fhir_product import product_entries
from lims.services.queries import qc_results_of
from workflows.identity import ContainerKind

FHIR_JSON = "application/fhir+json"


def product_bundle(session: Session, din: str, *, reader: User | None = None,
                   identified: bool = False, interface: Interface | None = None
                   ) -> dict[str, Any]:
    """The transaction Bundle of DIN, validated, as JSON-ready data. Identified: only for
    a patient reader (403 otherwise), naming the `interface`, and recorded (committed)."""
    disclosure = disclosure_for(reader, identified=identified, interface=interface)
    product = product_by_din(session, din)
    entries = product_entries_of(session, product, disclosure=disclosure)
    bundle = validated({
        "resourceType": "Bundle",
        "identifier": {"system": ISBT_DIN, "value": product.din},
        "type": "transaction",
        # The records' last change, not the clock: re-exports stay identical.
        "timestamp": fhir_time(last_change(session, product)),
        "entry": [{"fullUrl": e.url, "resource": e.resource, "request": e.request()}
                  for e in entries],
    })
    if disclosure is not None:
        session.commit()  # the disclosure's record, before the names leave
    return bundle


def product_entries_of(session: Session, product: Product, *,
                       disclosure: Disclosure | None) -> list[Entry]:
    """Every entry of the product's bundle; the patient identified only for a
    `disclosure`, which is recorded here (in the caller's transaction, never committed)."""
    patient = patient_of(session, product)
    protocol = get_or_404(session, Protocol, product.protocol_id, "protocol")
    settings = get_settings()
    records = current_records(session, product)
    containers = list(session.exec(select(Container).where(Container.product_id == product.id)
                                   .order_by(col(Container.id))))
    who = patient_entry(patient, protocol, identified=disclosure is not None)
    if disclosure is not None:
        record_disclosure(session, disclosure, patient, din=product.din, resource="Bundle")
    harvest = harvest_entry(product, records, who)
    products = product_entries(product, containers, records,
                               parameters_of(session, product.protocol_id), patient=who,
                               facility=(settings.facility_fin, settings.facility_name))
    final = final_entry(containers, products)
    dispense = dispense_entry(product, records, who, final)
    infusion = administration_entry(product, records, who, final, dispense)
    subject_key = f"{protocol.code}-{patient.subject_id}"
    follow_up = [*lab_entries(subject_key, _lab_values(session, patient), who),
                 *adverse_event_entries(subject_key, _adverse_events(session, patient, product),
                                        who, protocol.code,
                                        {product.id: final} if final and product.id else {})]
    return [who, *_present(harvest), *products.values(), *_present(dispense),
            *_present(infusion), *qc_entries(product, qc_results_of(session, product), final),
            *follow_up]


def last_change(session: Session, product: Product) -> datetime:
    """When the newest record the bundle shows was made or changed."""
    times = [product.updated_at, *(session.exec(query).first() for query in (
        select(func.max(StepRecord.performed_at)).where(StepRecord.product_id == product.id),
        select(func.max(QcResult.entered_at)).where(QcResult.product_id == product.id),
        select(func.max(LabValue.recorded_at)).where(LabValue.patient_id == product.patient_id),
        select(func.max(AdverseEvent.reported_at)).where(
            AdverseEvent.patient_id == product.patient_id),
        select(func.max(AdverseEvent.updated_at)).where(
            AdverseEvent.patient_id == product.patient_id)))]
    return max(aware(t) for t in times if t is not None)


def _present(*found: Entry | None) -> list[Entry]:
    return [e for e in found if e is not None]


def final_entry(containers: Iterable[Container], products: dict[int, Entry]) -> Entry | None:
    """The final product's entry; before formulation, the latest container's."""
    made = [c for c in containers if c.id in products]
    finals = [c for c in made if c.kind == ContainerKind.FINAL_PRODUCT]
    chosen = (finals or made)[-1:]
    return products[chosen[0].id] if chosen and chosen[0].id is not None else None


def current_records(session: Session, product: Product) -> dict[str, StepRecord]:
    """Step name -> its current (not superseded) record."""
    rows = session.exec(select(StepRecord).where(
        StepRecord.product_id == product.id, col(StepRecord.superseded).is_(False))
        .order_by(col(StepRecord.id)))
    return {row.step: row for row in rows}


def _lab_values(session: Session, patient: Patient) -> list[LabValue]:
    return list(session.exec(select(LabValue).where(LabValue.patient_id == patient.id)
                             .order_by(col(LabValue.sampled_at), col(LabValue.id))))


def _adverse_events(session: Session, patient: Patient, product: Product
                    ) -> list[AdverseEvent]:
    """The patient's adverse events about this product or about no product in particular."""
    return list(session.exec(select(AdverseEvent).where(
        AdverseEvent.patient_id == patient.id,
        col(AdverseEvent.product_id).is_(None) | (AdverseEvent.product_id == product.id))
        .order_by(col(AdverseEvent.onset_on), col(AdverseEvent.id))))


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """`resource` parsed by its fhir.resources R5 model (ValueError when it does not fit)
    and serialised back in FHIR order."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    result: dict[str, Any] = json.loads(model.model_dump_json())
    return result


def dumps(resource: dict[str, Any]) -> str:
    """The one serialisation: two-space indent, UTF-8 kept, newline at the end."""
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def resource_with_id(found: Entry, logical_id: str) -> dict[str, Any]:
    """An entry's resource as the read endpoints serve it, with its logical id."""
    return validated({"resourceType": found.resource["resourceType"], "id": logical_id,
                      **{k: v for k, v in found.resource.items() if k != "resourceType"}})

