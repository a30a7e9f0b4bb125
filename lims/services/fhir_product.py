"""BiologicallyDerivedProduct: one resource per container of a DIN, linked child to parent
(marrow bag → RBC-reduced → MNC → CD133+ target → final syringe), as ISBT 128 labels each
new container with the same DIN and its own product code.

R5 has no `processing` element (R4 had): the step that made a container is given as
`property` entries (step, its period, the volume it put in). R5's `collection` has no
procedure reference either: the harvest Procedure (lims.services.fhir_procedures) carries
the DIN as its identifier, the donation event `biologicalSourceEvent` names.
QC sample tubes are not products: their results are Observations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lims.models import Container, Product, StepRecord
from lims.services.fhir_common import (
    CONTAINER_ID,
    ISBT_COLLECTION_TYPE,
    ISBT_DIN,
    ISBT_PRODUCT_CODE,
    UCUM,
    Entry,
    coding,
    concept,
    entry,
    fhir_time,
    identifier,
    local_concept,
    period,
    quantity,
    without_empty,
)
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.product import ProductState
from workflows.protocol import ProtocolParameters
from workflows.steps import STEPS

PRODUCT_CATEGORY = "http://hl7.org/fhir/product-category"
PRODUCT_STATUS = "http://hl7.org/fhir/biologicallyderived-product-status"
NOT_PRODUCTS = frozenset({ContainerKind.QC_SAMPLE.value, ContainerKind.RETENTION_SAMPLE.value})
# The step whose record made a container of this kind.
MADE_BY: Mapping[str, str] = {
    ContainerKind.MARROW_BAG: "harvest", ContainerKind.RBC_REDUCED: "sediment",
    ContainerKind.MNC: "isolate_mnc", ContainerKind.CD133_TARGET: "enrich",
    ContainerKind.CD133_NEGATIVE: "enrich", ContainerKind.FINAL_PRODUCT: "formulate",
}
# Where each step records when it began and ended.
STEP_TIMES: Mapping[str, tuple[str, str]] = {
    "harvest": ("harvest_start", "harvest_end"), "enrich": ("run_start", "run_end"),
    "issue": ("time_issued", "time_issued"), "administer": ("infusion_start", "infusion_end"),
}
_STATUS_OF_CONTAINER = {"consumed": "processed", "administered": "applied",
                        "discarded": "discarded"}
_USABLE = frozenset({ProductState.RELEASED, ProductState.ISSUED})


def container_key(din: str, container: Container) -> str:
    return f"{din}-{container.product_code}-{container.flags}"


def step_period(record: StepRecord | None) -> dict[str, str] | None:
    if record is None:
        return None
    start, end = STEP_TIMES.get(record.step, ("started_at", "ended_at"))
    return period(record.values.get(start), record.values.get(end))


def product_entries(product: Product, containers: list[Container],
                    records: Mapping[str, StepRecord], params: ProtocolParameters, *,
                    patient: Entry, facility: tuple[str, str]) -> dict[int, Entry]:
    """Container id → its BiologicallyDerivedProduct entry, parents before children."""
    found: dict[int, Entry] = {}
    for container in containers:
        if container.kind in NOT_PRODUCTS or container.id is None:
            continue
        made = entry("BiologicallyDerivedProduct",
                     identifier(CONTAINER_ID, container_key(product.din, container)))
        parent = found.get(container.parent_id) if container.parent_id else None
        made.resource = _resource(product, container, records, params, made, parent,
                                  patient, facility)
        found[container.id] = made
    return found


def _resource(product: Product, container: Container, records: Mapping[str, StepRecord],
              params: ProtocolParameters, made: Entry, parent: Entry | None, patient: Entry,
              facility: tuple[str, str]) -> dict[str, Any]:
    final = container.kind == ContainerKind.FINAL_PRODUCT
    harvest_record = records.get("harvest")
    fin, facility_name = facility
    return without_empty({
        "resourceType": "BiologicallyDerivedProduct",
        "productCategory": coding(PRODUCT_CATEGORY, "cells", "Cells"),
        "productCode": concept(ISBT_PRODUCT_CODE, container.product_code,
                               text=_kind_words(container.kind)),
        "parent": [parent.reference()] if parent else [],
        "identifier": [identifier(ISBT_DIN, product.din), made.match],
        "biologicalSourceEvent": identifier(ISBT_DIN, product.din),
        "processingFacility": [{"identifier": {"value": fin}, "display": facility_name}],
        "productStatus": coding(PRODUCT_STATUS, _status(product, container)),
        "expirationDate": fhir_time(product.expires_at) if final else None,
        "collection": without_empty({
            "source": patient.reference(),
            "collectedPeriod": step_period(harvest_record),
        }),
        "storageTempRequirements": {
            "low": quantity(params.storage_temperature_min_c, "°C", "Cel"),
            "high": quantity(params.storage_temperature_max_c, "°C", "Cel"),
        } if final else None,
        "property": _properties(container, records.get(MADE_BY.get(container.kind, ""))),
    })


def _kind_words(kind: str) -> str:
    try:
        return KIND_LABELS[ContainerKind(kind)]
    except (KeyError, ValueError):
        return kind


def _status(product: Product, container: Container) -> str:
    if container.status in _STATUS_OF_CONTAINER:
        return _STATUS_OF_CONTAINER[container.status]
    usable = container.kind == ContainerKind.FINAL_PRODUCT and product.state in _USABLE
    return "available" if usable else "unavailable"


def _properties(container: Container, made_by: StepRecord | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [{
        # ISBT 128 collection type 1: "For Autologous Use Only" (ST-001 Table 7).
        "type": local_concept("product-property", "collection-type", "Collection type"),
        "valueCodeableConcept": concept(ISBT_COLLECTION_TYPE, "1", "For Autologous Use Only"),
    }]
    if container.volume_ml is not None:
        found.append({"type": local_concept("product-property", "volume", "Volume"),
                      "valueQuantity": {"value": container.volume_ml, "unit": "mL",
                                        "system": UCUM, "code": "mL"}})
    if made_by is not None:
        spec = STEPS.get(made_by.step)
        found.append({"type": local_concept("product-property", "processing-step",
                                            "Processing step"),
                      "valueCodeableConcept": local_concept(
                          "processing-step", made_by.step, spec.label if spec else made_by.step)})
        when = step_period(made_by)
        if when:
            found.append({"type": local_concept("product-property", "processing-period",
                                                "Processing period"),
                          "valuePeriod": when})
    return found
