"""Enrolment, harvest scheduling, the worklist, a product and its containers over HTTP."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

from lims.models import Patient, Product
from lims.services.common import utcnow
from tests.api.conftest import product_in, refusal
from tests.factories import PASSWORDS, audit_count, make_patient
from workflows.eligibility import complete_checklist


def enrolment(**overrides):
    body = {"subject_id": "RYN-900", "mrn": "7009900", "date_of_birth": "1961-04-02",
            "name": "API Patient", "sex": "F", "weight_kg": 68.5,
            "consent_date": (utcnow().date() - timedelta(days=3)).isoformat(), "arm": "CD133",
            "eligibility": complete_checklist(),
            "infectious_markers": {"HIV": "negative", "HBV": "negative", "HCV": "negative"},
            "checked_by": "doc2", "checked_by_password": PASSWORDS["doc2"]}
    return {**body, **overrides}


def patients(api):
    api.session.commit()
    return api.session.exec(select(func.count()).select_from(Patient)).one()


def test_a_physician_enrols_an_eligible_patient(api):
    response = api.post("/patients", user="doc1", json=enrolment())

    assert response.status_code == 201
    assert response.json()["subject_id"] == "RYN-900"
    assert response.json()["arm"] == "CD133"
    fetched = api.get("/patients/RYN-900", user="tech1")
    assert fetched.status_code == 200 and fetched.json()["mrn"] == "7009900"


def test_a_technician_may_not_enrol_and_nothing_is_written(api):
    before = patients(api), audit_count(api.session)

    assert refusal(api.post("/patients", user="tech1", json=enrolment()), 403) == "forbidden"
    assert (patients(api), audit_count(api.session)) == before


def test_invalid_enrolment_data_is_refused_with_422_and_nothing_is_written(api):
    before = patients(api), audit_count(api.session)
    cases = [enrolment(weight_kg=5),  # the service's range
             enrolment(sex="Q"),  # the schema's choices
             enrolment(arm="placebo"),
             enrolment(date_of_birth="not a date"),
             enrolment(date_of_birth=0),  # a number is not a day
             enrolment(date_of_birth="1961-04-02T00:00:00"),  # nor a time of a day
             enrolment(consent_date=(utcnow().date() + timedelta(days=2)).isoformat()),
             enrolment(unexpected="field"),
             enrolment(checked_by="nobody-here")]
    statuses = [api.post("/patients", user="doc1", json=case) for case in cases]

    # an unknown checker is refused like a wrong password (no user enumeration): 403
    assert [r.status_code for r in statuses] == [422] * 8 + [403]
    assert (patients(api), audit_count(api.session)) == before


def test_an_ineligible_patient_is_refused_with_the_reasons(api):
    response = api.post("/patients", user="doc1", json=enrolment(
        infectious_markers={"HIV": "positive", "HBV": "negative", "HCV": "negative"}))

    assert refusal(response, 422) == "patient_not_eligible"
    assert "HIV" in response.json()["detail"]


def test_enrolling_the_same_subject_twice_is_a_conflict(api):
    assert api.post("/patients", user="doc1", json=enrolment()).status_code == 201

    assert refusal(api.post("/patients", user="doc1", json=enrolment(mrn="7009901")),
                   409) == "already_exists"


def test_an_unknown_patient_is_404(api):
    assert refusal(api.get("/patients/RYN-404", user="tech1"), 404) == "not_found"


def test_scheduling_a_harvest_assigns_a_din_and_creates_the_collection_bag(api):
    patient = make_patient(api.run, "BM-MNC")

    response = api.post("/harvests", user="tech1", json={"subject_id": patient.subject_id})

    assert response.status_code == 201
    product = response.json()
    assert product["state"] == "scheduled" and product["version"] == 1
    containers = api.get(f"/products/{product['din']}/containers", user="tech1").json()
    assert [c["kind"] for c in containers] == ["marrow_bag"]
    assert product["din"] in containers[0]["code"]


def test_scheduling_is_refused_to_qa_and_for_an_unknown_patient(api):
    patient = make_patient(api.run, "BM-MNC")
    api.session.commit()
    before = api.session.exec(select(func.count()).select_from(Product)).one()

    assert refusal(api.post("/harvests", user="qa1", json={"subject_id": patient.subject_id}),
                   403) == "forbidden"
    assert refusal(api.post("/harvests", user="tech1", json={"subject_id": "RYN-404"}),
                   404) == "not_found"
    assert refusal(api.post("/harvests", user="tech1", json={}), 422) == "invalid_input"
    api.session.commit()
    assert api.session.exec(select(func.count()).select_from(Product)).one() == before


def test_the_worklist_groups_products_by_state_and_filters_by_one_state(api):
    received = product_in(api, "received", "BM-MNC")
    collected = product_in(api, "collected", "CD133")

    grouped = api.get("/worklist", user="tech1").json()["groups"]
    only = api.get("/worklist", user="tech1", params={"state": "collected"}).json()["groups"]

    assert {g["state"]: [i["din"] for i in g["items"]] for g in grouped} == {
        "collected": [collected.din], "received": [received.din]}
    assert [i["din"] for g in only for i in g["items"]] == [collected.din]
    assert refusal(api.get("/worklist", user="tech1", params={"state": "bogus"}), 422)


def test_the_worklist_is_refused_to_the_administrator_and_to_anonymous_callers(api):
    assert refusal(api.get("/worklist", user="admin"), 403) == "forbidden"
    assert refusal(api.get("/worklist", user=None), 401) == "authentication_failed"


def test_a_product_is_read_by_its_din_and_an_unknown_din_is_404(api):
    product = product_in(api, "received", "BM-MNC")

    response = api.get(f"/products/{product.din}", user="qa1")

    assert response.status_code == 200
    assert response.json()["state"] == "received"
    assert response.json()["version"] == product.version
    assert refusal(api.get("/products/X999900999999", user="qa1"), 404) == "not_found"
    assert refusal(api.get("/products/X999900999999/containers", user="qa1"), 404)
