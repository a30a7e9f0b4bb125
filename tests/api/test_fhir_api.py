"""The read-only FHIR endpoints at /fhir: application/fhir+json that parses as FHIR R5,
signed in as the API is, pseudonymised unless a patient reader asks, OperationOutcome for
every refusal, and no way to write (405)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from fhir.resources import get_fhir_model_class
from sqlmodel import col, select

from lims.app import create_app
from lims.models import Container, Patient
from lims.services.fhir_bundle import dumps, product_bundle
from lims.services.fhir_common import CONTAINER_ID, ISBT_DIN
from tests.api.conftest import Api, product_in

FHIR_JSON = "application/fhir+json"


def fhir_get(api: Api, path: str, user: str | None, **kwargs: Any) -> httpx.Response:
    api.session.commit()  # end the test's read before the app's
    return api.client.get(f"/fhir{path}", headers=api.headers(user), **kwargs)


def parsed(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """The body, after checking the status, the media type, and that it parses as `kind`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == kind
    get_fhir_model_class(kind).model_validate_json(response.text)
    return body


def outcome(response: httpx.Response, status: int) -> str:
    """The OperationOutcome's issue code, after checking it is one."""
    body = parsed(response, status, "OperationOutcome")
    issue = body["issue"][0]
    assert issue["severity"] == "error" and issue["diagnostics"]
    return str(issue["code"])


def test_the_capability_statement_says_r5_and_read_only(api):
    body = parsed(fhir_get(api, "/metadata", None), 200, "CapabilityStatement")
    assert body["fhirVersion"] == "5.0.0"
    interactions = {i["code"] for r in body["rest"][0]["resource"] for i in r["interaction"]}
    assert interactions <= {"read", "search-type"}


def test_the_bundle_of_a_din_is_the_export_pseudonymised(api):
    # given an administered product
    product = product_in(api, "administered", arm="BM-MNC")
    patient = api.session.get(Patient, product.patient_id)
    assert patient is not None

    # when a technician reads its bundle
    response = fhir_get(api, f"/Bundle/{product.din}", "tech1")

    # then it is the transaction bundle `lims fhir export` writes, with no name or MRN
    body = parsed(response, 200, "Bundle")
    assert body["type"] == "transaction"
    assert response.text == dumps(product_bundle(api.session, product.din))
    assert patient.name not in response.text and patient.mrn not in response.text
    assert response.headers["cache-control"] == "no-store"

    # when a technician asks for names, refused; a physician gets them
    refused = fhir_get(api, f"/Bundle/{product.din}", "tech1", params={"identified": "true"})
    assert outcome(refused, 403) == "forbidden"
    named = fhir_get(api, f"/Bundle/{product.din}", "doc1", params={"identified": "true"})
    parsed(named, 200, "Bundle")
    assert patient.name in named.text and patient.mrn in named.text


def test_patient_read_is_pseudonymised_unless_identified(api):
    product = product_in(api, "released")
    patient = api.session.get(Patient, product.patient_id)
    assert patient is not None

    body = parsed(fhir_get(api, f"/Patient/{patient.subject_id}", "tech1"), 200, "Patient")
    assert body["id"] == patient.subject_id
    assert "name" not in body and body["birthDate"] == str(patient.date_of_birth.year)

    named = parsed(fhir_get(api, f"/Patient/{patient.subject_id}", "qa1",
                            params={"identified": "true"}), 200, "Patient")
    assert named["name"][0]["text"] == patient.name
    assert named["birthDate"] == patient.date_of_birth.isoformat()

    assert outcome(fhir_get(api, "/Patient/NOBODY-1", "tech1"), 404) == "not-found"


def test_products_are_read_by_container_id_and_searched_by_din(api):
    # given a product through enrichment
    product = product_in(api, "enriched")
    codes = [c.product_code for c in api.session.exec(
        select(Container).where(Container.product_id == product.id).order_by(col(Container.id)))]

    # when its containers are searched by DIN (with and without the ISBT system)
    for token in (product.din, f"{ISBT_DIN}|{product.din}"):
        found = parsed(fhir_get(api, "/BiologicallyDerivedProduct", "tech1",
                                params={"identifier": token}), 200, "Bundle")
        # then each container is there, with its id DIN-code-flags
        assert found["type"] == "searchset" and found["total"] == len(codes)
        assert [e["resource"]["id"] for e in found["entry"]] == [
            f"{product.din}-{code}-00" for code in codes]

    # when one container is read by its id
    child = f"{product.din}-{codes[1]}-00"  # the RBC-reduced bag, made from the marrow bag
    body = parsed(fhir_get(api, f"/BiologicallyDerivedProduct/{child}", "tech1"), 200,
                  "BiologicallyDerivedProduct")
    # then its references point at the other resources' reads
    assert body["parent"][0]["reference"] == f"BiologicallyDerivedProduct/{product.din}-" \
                                             f"{codes[0]}-00"
    assert body["collection"]["source"]["reference"].startswith("Patient/")
    assert {"system": CONTAINER_ID, "value": child} in body["identifier"]

    # a container id search finds the one, an unknown DIN or system finds none
    one = parsed(fhir_get(api, "/BiologicallyDerivedProduct", "tech1",
                          params={"identifier": f"{CONTAINER_ID}|{child}"}), 200, "Bundle")
    assert one["total"] == 1
    for token in ("X999926999999", "http://elsewhere.example|" + product.din, "nonsense"):
        none = parsed(fhir_get(api, "/BiologicallyDerivedProduct", "tech1",
                               params={"identifier": token}), 200, "Bundle")
        assert none["total"] == 0
    assert outcome(fhir_get(api, f"/BiologicallyDerivedProduct/{product.din}-X", "tech1"),
                   404) == "not-found"


@pytest.mark.parametrize("path", ["", "/metadata", "/Patient/RYN-001", "/Bundle/X999926000001",
                                  "/BiologicallyDerivedProduct", "/Bundle", "/Observation"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_nothing_can_be_written(api, path, method):
    response = api.client.request(method, f"/fhir{path}", headers=api.headers("qa1"),
                                  content=json.dumps({"resourceType": "Patient"}))
    assert outcome(response, 405) == "not-supported"


def test_refusals_are_operation_outcomes(api):
    product = product_in(api, "received")
    # not signed in
    anonymous = fhir_get(api, f"/Bundle/{product.din}", None)
    assert outcome(anonymous, 401) == "login"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    # the administrator reads no lab records
    assert outcome(fhir_get(api, f"/Bundle/{product.din}", "admin"), 403) == "forbidden"
    # unknown DIN, unknown resource type, an id FHIR does not allow, a search without a value
    assert outcome(fhir_get(api, "/Bundle/X999926999999", "tech1"), 404) == "not-found"
    assert outcome(fhir_get(api, "/Observation/1", "tech1"), 404) == "not-found"
    assert outcome(fhir_get(api, "/Patient/a%20b", "tech1"), 422) == "invalid"
    assert outcome(fhir_get(api, "/BiologicallyDerivedProduct", "tech1"), 422) == "invalid"


def test_with_the_web_ui_fhir_refusals_are_still_outcomes_not_pages(api, api_engine):
    # given the whole application, pages included
    with TestClient(create_app(engine=api_engine, web=True)) as client:
        # then a refusal on /fhir is an OperationOutcome, not the pages' HTML or sign-in
        response = client.get("/fhir/Bundle/X999926000001")
        assert outcome(response, 401) == "login"
        assert outcome(client.post("/fhir/Patient"), 405) == "not-supported"
        assert parsed(client.get("/fhir/metadata"), 200, "CapabilityStatement")
