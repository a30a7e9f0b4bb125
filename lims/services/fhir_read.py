"""The resources the read-only /fhir endpoints serve: a patient by subject ID, a container
by its id (DIN-product code-flags), the containers of a DIN. Each is the resource the
product's Bundle carries, with its logical id. Only an identified Patient read writes: the
record of its disclosure (lims.services.fhir_disclosure). Containers are never identified."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, select

from lims.models import Patient, Product, Protocol, User
from lims.services.common import get_or_404, product_by_din
from lims.services.fhir_bundle import product_entries_of, validated
from lims.services.fhir_common import CONTAINER_ID, ISBT_DIN, Entry
from lims.services.fhir_disclosure import Interface, disclosure_for, record_disclosure
from lims.services.fhir_patient import patient_entry
from workflows.errors import DomainError, NotFound

# A FHIR logical id: letters, digits, '-' and '.', at most 64.
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
_CONTAINER = re.compile(r"^(?P<din>[A-Z0-9]{13})-(?P<code>[A-Z0-9]{8})-(?P<flags>[A-Z0-9]{2})$")


def patient_resource(session: Session, subject_id: str, *, reader: User,
                     identified: bool = False, interface: Interface | None = None
                     ) -> dict[str, Any]:
    """A Patient by subject ID; identified only for a patient reader, and recorded."""
    disclosure = disclosure_for(reader, identified=identified, interface=interface)
    patient = session.exec(select(Patient).where(Patient.subject_id == subject_id)).first()
    if patient is None:
        raise NotFound(f"no Patient {subject_id}")
    protocol = get_or_404(session, Protocol, patient.protocol_id, "protocol")
    resource = with_id(patient_entry(patient, protocol, identified=disclosure is not None),
                       subject_id)
    if disclosure is not None:
        record_disclosure(session, disclosure, patient, din=None, resource="Patient")
        session.commit()  # the disclosure's record, before the name leaves
    return resource


def container_resource(session: Session, logical_id: str) -> dict[str, Any]:
    """A BiologicallyDerivedProduct by its id `DIN-productcode-flags`."""
    match = _CONTAINER.match(logical_id)
    if match is None:
        raise NotFound(f"no BiologicallyDerivedProduct {logical_id}: the id is "
                       "DIN-product code-flags, e.g. X999926000001-D0006100-00")
    entries = product_entries_of(session, _product(session, match["din"]), disclosure=None)
    for found in entries:
        if found.resource_type == "BiologicallyDerivedProduct" and \
                found.match["value"] == logical_id:
            return validated(_with_id_data(found, _relative_urls(entries)))
    raise NotFound(f"no BiologicallyDerivedProduct {logical_id}")


def search_containers(session: Session, token: str) -> dict[str, Any]:
    """A searchset Bundle of the containers whose identifier matches `token`
    (`[system|]value`: a DIN, or a container id)."""
    system, _, value = token.rpartition("|")
    entries: list[Entry] = []
    if system in ("", ISBT_DIN, CONTAINER_ID):
        try:
            entries = product_entries_of(session, _product(session, value[:13]),
                                         disclosure=None)
        except NotFound:
            entries = []
    found = [e for e in entries
             if e.resource_type == "BiologicallyDerivedProduct" and _matches(e, system, value)]
    urls = _relative_urls(entries)
    return validated({"resourceType": "Bundle", "type": "searchset", "total": len(found),
                      "entry": [{"fullUrl": e.url, "resource": _with_id_data(e, urls),
                                 "search": {"mode": "match"}} for e in found]})


def _matches(found: Entry, system: str, value: str) -> bool:
    return any(i["value"] == value and system in ("", i["system"])
               for i in found.resource.get("identifier", []))


def _product(session: Session, din: str) -> Product:
    try:
        return product_by_din(session, din)
    except DomainError as error:  # a malformed DIN: nothing has that identifier
        raise NotFound(f"no product with DIN {din}") from error


def _relative_urls(entries: list[Entry]) -> dict[str, str]:
    """urn:uuid fullUrl -> `Type/id`: a resource read alone points at the others' reads."""
    return {e.url: f"{e.resource_type}/{e.match['value']}" for e in entries}


def _relative(value: Any, urls: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: (urls.get(v, v) if k == "reference" and isinstance(v, str)
                    else _relative(v, urls)) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, urls) for v in value]
    return value


def _with_id_data(found: Entry, urls: dict[str, str]) -> dict[str, Any]:
    resource = _relative(found.resource, urls)
    return {"resourceType": found.resource_type, "id": found.match["value"],
            **{k: v for k, v in resource.items() if k != "resourceType"}}


def with_id(found: Entry, logical_id: str) -> dict[str, Any]:
    return validated(_with_id_data(found, {}) | {"id": logical_id})
