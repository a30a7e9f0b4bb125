"""Every identified FHIR answer over the API is accounted for in the audit trail: one
'patient_identity_disclosed' event per patient named, with who asked and through which
interface; pseudonymised answers and refusals record none, and the trail still verifies
and reconciles."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from lims.audit import verify_chain
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Patient, Product, User
from lims.services.verification import verify_all
from tests.api.conftest import Api, product_in
from tests.api.test_fhir_api import fhir_get

DISCLOSED = AuditAction.PATIENT_IDENTITY_DISCLOSED


def disclosures(api: Api) -> list[AuditEvent]:
    api.session.commit()  # a fresh read: the app committed in its own session
    return list(api.session.exec(select(AuditEvent).where(AuditEvent.action == DISCLOSED)
                                 .order_by(col(AuditEvent.seq))))


def subject_of(api: Api, product: Product) -> str:
    patient = api.session.get(Patient, product.patient_id)
    assert patient is not None
    return patient.subject_id


def recorded(event: AuditEvent) -> dict[str, Any]:
    assert event.new_value is not None
    value: dict[str, Any] = json.loads(event.new_value)
    return value


def user_id(api: Api, username: str) -> int | None:
    return api.session.exec(select(User.id).where(User.username == username)).one()


def test_an_identified_bundle_records_one_disclosure_per_patient_naming_who_and_how(api):
    # given two administered products of two patients
    first = product_in(api, "administered", arm="BM-MNC")
    second = product_in(api, "administered", arm="CD133")

    # when a physician exports the first identified and QA the second
    assert fhir_get(api, f"/Bundle/{first.din}", "doc1",
                    params={"identified": "true"}).status_code == 200
    assert fhir_get(api, f"/Bundle/{second.din}", "qa1",
                    params={"identified": "true"}).status_code == 200

    # then one event each names the patient, the DIN, the interface and the reader
    events = disclosures(api)
    assert [(e.entity, e.entity_id, e.username, e.user_id) for e in events] == [
        ("patient", subject_of(api, first), "doc1", user_id(api, "doc1")),
        ("patient", subject_of(api, second), "qa1", user_id(api, "qa1"))]
    assert [recorded(e) for e in events] == [
        {"din": first.din, "interface": "api", "resource": "Bundle"},
        {"din": second.din, "interface": "api", "resource": "Bundle"}]
    # and the chain still verifies, and the records reconcile with it
    assert verify_chain(api.session).ok
    report = verify_all(api.session)
    assert report.ok, report.lines


def test_pseudonymised_answers_and_refusals_record_no_disclosure(api):
    # given an administered product
    product = product_in(api, "administered", arm="BM-MNC")
    subject = subject_of(api, product)

    # when it is read pseudonymised, by a physician too, and a technician is refused names
    for path, user, params in (
            (f"/Bundle/{product.din}", "tech1", {}),
            (f"/Bundle/{product.din}", "doc1", {"identified": "false"}),
            (f"/Patient/{subject}", "doc1", {}),
            ("/BiologicallyDerivedProduct", "doc1", {"identifier": product.din})):
        assert fhir_get(api, path, user, params=params).status_code == 200
    refused = [fhir_get(api, f"/Bundle/{product.din}", "tech1", params={"identified": "true"}),
               fhir_get(api, f"/Patient/{subject}", "tech1", params={"identified": "true"})]

    # then nothing was disclosed, so nothing is recorded
    assert [r.status_code for r in refused] == [403, 403]
    assert disclosures(api) == []


def test_an_identified_patient_read_records_its_disclosure_without_a_product(api):
    # given a released product's patient
    product = product_in(api, "released")
    subject = subject_of(api, product)

    # when QA reads the patient identified
    response = fhir_get(api, f"/Patient/{subject}", "qa1", params={"identified": "true"})

    # then the name was given, and one event records it: the patient, no product
    assert response.status_code == 200 and "name" in response.json()
    [event] = disclosures(api)
    assert (event.entity, event.entity_id, event.username) == ("patient", subject, "qa1")
    assert recorded(event) == {"din": None, "interface": "api", "resource": "Patient"}
    # an unknown patient asked for identified is not found, and nothing more recorded
    assert fhir_get(api, "/Patient/NOBODY-1", "qa1",
                    params={"identified": "true"}).status_code == 404
    assert len(disclosures(api)) == 1
