"""What every FHIR R5 mapping shares: code-system and identifier-system URIs, stable
resource UUIDs, references and date-times.

Sources of the URIs (docs/fhir/README.md lists them with their status):
* ISBT 128 DIN: `https://www.isbt128.org/uri/DonationIdentificationNumber` and the
  collection type `https://www.isbt128.org/uri/CollectionType`, as in the official R5
  BiologicallyDerivedProduct examples (docs/standards.md §5.1, S22).
* ISBT 128 product codes: HL7 Terminology's `http://terminology.hl7.org/CodeSystem/ib`
  (OID 2.16.840.1.113883.6.18).
* LOINC `http://loinc.org`, UCUM `http://unitsofmeasure.org`.
* Everything the lab names that has no standard code (QC tests without a LOINC code,
  processing steps, the trial's subject IDs, our record identifiers) is in the LOCAL
  namespace below: it identifies this LIMS's own codes and resolves nowhere.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

ISBT_DIN = "https://www.isbt128.org/uri/DonationIdentificationNumber"
ISBT_COLLECTION_TYPE = "https://www.isbt128.org/uri/CollectionType"
ISBT_PRODUCT_CODE = "http://terminology.hl7.org/CodeSystem/ib"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
CLINICAL_TRIALS = "https://clinicaltrials.gov"

# This LIMS's own namespace: local codes and identifiers, not a resolvable address.
LOCAL = "http://cell-lims.local/fhir"
LOCAL_CODES = f"{LOCAL}/CodeSystem"
LOCAL_IDS = f"{LOCAL}/sid"
CONTAINER_ID = f"{LOCAL_IDS}/container"  # DIN-product code-flags: one bag or syringe
RECORD_ID = f"{LOCAL_IDS}/record"  # our record of a dispense, procedure or result
MRN = f"{LOCAL_IDS}/mrn"

# uuid5 namespace of every fullUrl: the same record gives the same urn:uuid on every
# export, so two exports of one DIN are identical and a later one diffs cleanly.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, LOCAL)


def subject_system(protocol_code: str) -> str:
    """The identifier system of the trial's subject IDs (one per protocol)."""
    return f"{LOCAL_IDS}/{protocol_code}/subject-id"


def full_url(kind: str, key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{kind}/{key}')}"


def identifier(system: str, value: str) -> dict[str, Any]:
    return {"system": system, "value": value}


def coding(system: str, code: str, display: str = "") -> dict[str, Any]:
    found = {"system": system, "code": code}
    return found | {"display": display} if display else found


def concept(system: str, code: str, display: str = "", text: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {"coding": [coding(system, code, display)]}
    return found | {"text": text} if text else found


def local_concept(code_system: str, code: str, display: str) -> dict[str, Any]:
    return concept(f"{LOCAL_CODES}/{code_system}", code, display, display)


def quantity(value: float, unit: str, ucum: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"value": value, "unit": unit}
    return found | {"system": UCUM, "code": ucum} if ucum else found


def fhir_time(moment: datetime | date | str | None) -> str | None:
    """A FHIR dateTime with its offset (stored times are UTC; a naive one is UTC)."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    return moment.isoformat()


def period(start: Any, end: Any) -> dict[str, str] | None:
    found = {k: v for k, v in (("start", fhir_time(start)), ("end", fhir_time(end))) if v}
    return found or None


@dataclass
class Entry:
    """One resource of the transaction, with its stable fullUrl and the identifier its
    conditional PUT matches on (`Type?identifier=system|value`)."""

    resource_type: str
    url: str  # urn:uuid fullUrl
    match: dict[str, Any]  # the identifier of the conditional update
    resource: dict[str, Any] = field(default_factory=dict)

    def reference(self, display: str = "") -> dict[str, str]:
        found = {"reference": self.url}
        return found | {"display": display} if display else found

    def request(self) -> dict[str, str]:
        query = (f"identifier={quote(self.match['system'], safe=':/')}"
                 f"|{quote(self.match['value'], safe='')}")
        return {"method": "PUT", "url": f"{self.resource_type}?{query}"}


def entry(resource_type: str, match: dict[str, Any]) -> Entry:
    return Entry(resource_type, full_url(resource_type, f"{match['system']}|{match['value']}"),
                 match)


def without_empty(data: dict[str, Any]) -> dict[str, Any]:
    """The mapping with its None, empty-string and empty-list fields left out (FHIR has no
    empty elements)."""
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}
