"""Signed decisions over HTTP: the physician's bedside signature, the signed discard and the
re-authenticated eligibility checker. A signer's wrong password is a 403 coded refusal,
never a 401 with WWW-Authenticate (the caller's own session is still good)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import func, select

from lims.models import Patient, Signature
from lims.services.common import utcnow
from tests.api.conftest import product_in, refusal
from tests.factories import (
    PASSWORDS,
    audit_count,
    scan_of,
    snapshot,
    step_time,
    step_values,
    wristband_of,
)
from workflows.eligibility import complete_checklist


def bedside(api, product, **overrides):
    body = {"scan": scan_of(api.session, product, "final_product", "in_use"),
            "values": step_values("administer", product.arm, step_time(product, "administer")),
            "wristband": wristband_of(api.session.get(Patient, product.patient_id)),
            "witness": "doc2", "witness_password": PASSWORDS["doc2"],
            "physician": "doc1", "physician_password": PASSWORDS["doc1"],
            "expected_version": product.version}
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    return api.post(f"/products/{product.din}/steps/administer", user="doc1", json=body)


def signed(api, product, meaning):
    api.session.commit()
    return api.session.exec(select(Signature).where(
        Signature.product_id == product.id, Signature.meaning == meaning)).all()


def test_the_administration_over_http_is_signed_by_the_physician(api):
    product = product_in(api, "issued", "BM-MNC")

    response = bedside(api, product)

    assert response.status_code == 200, response.text
    [signature] = signed(api, product, "Administered")
    assert signature.record_id == str(response.json()["record_id"])
    assert signature.printed_name == api.run.user("doc1").full_name


def test_a_wrong_bedside_password_is_a_403_that_leaves_the_session_alone(api):
    product = product_in(api, "issued", "BM-MNC")
    before = snapshot(api.session, product.din)

    for password in ("wrong-password", PASSWORDS["doc2"]):
        response = bedside(api, product, physician_password=password)
        assert refusal(response, 403) == "signature_not_authenticated"
        assert "www-authenticate" not in response.headers
    assert snapshot(api.session, product.din) == before
    # the signed-in physician is still signed in: the right password goes through
    assert bedside(api, product).status_code == 200


def test_a_physician_cannot_sign_the_administration_for_another_over_http(api):
    product = product_in(api, "issued", "BM-MNC")
    before = snapshot(api.session, product.din)

    response = bedside(api, product, physician="doc2", physician_password=PASSWORDS["doc2"])

    assert refusal(response, 403) == "signature_invalid"
    assert snapshot(api.session, product.din) == before


def test_an_administration_without_the_signature_is_refused_by_the_schema(api):
    product = product_in(api, "issued", "BM-MNC")
    before = snapshot(api.session, product.din)

    response = bedside(api, product, physician=None, physician_password=None)

    assert refusal(response, 422) == "invalid_input"
    assert {"body.physician", "body.physician_password"} <= set(response.json()["fields"])
    assert snapshot(api.session, product.din) == before


def test_the_discard_over_http_is_signed_and_a_wrong_password_changes_nothing(api):
    product = product_in(api, "received", "BM-MNC")
    path = f"/products/{product.din}/discard"
    before = snapshot(api.session, product.din)

    unsigned = api.post(path, user="super1", json={"reason": "bag punctured"})
    wrong = api.post(path, user="super1", json={"reason": "bag punctured",
                                                 "password": PASSWORDS["qa1"]})
    blank = api.post(path, user="super1", json={"reason": "   ",
                                                 "password": PASSWORDS["super1"]})

    assert refusal(unsigned, 422) == "invalid_input"
    assert refusal(wrong, 403) == "signature_not_authenticated"
    assert "www-authenticate" not in wrong.headers
    assert refusal(blank, 422) == "reason_required"
    assert snapshot(api.session, product.din) == before

    done = api.post(path, user="super1", json={"reason": "bag punctured",
                                                "password": PASSWORDS["super1"]})
    assert done.json()["state"] == "discarded"
    [signature] = signed(api, product, "Discarded")
    assert signature.justification == "bag punctured"
    # replayed: refused, and signed only once
    again = api.post(path, user="super1", json={"reason": "bag punctured",
                                                 "password": PASSWORDS["super1"]})
    assert refusal(again, 409) == "invalid_transition"
    assert len(signed(api, product, "Discarded")) == 1


def enrolment(**overrides):
    body = {"subject_id": "RYN-960", "mrn": "7009600", "date_of_birth": "1961-04-02",
            "name": "API Patient", "sex": "F", "weight_kg": 68.5,
            "consent_date": (utcnow().date() - timedelta(days=3)).isoformat(), "arm": "CD133",
            "eligibility": complete_checklist(),
            "infectious_markers": {"HIV": "negative", "HBV": "negative", "HCV": "negative"},
            "checked_by": "doc2", "checked_by_password": PASSWORDS["doc2"]}
    return {**body, **overrides}


def patients(api):
    api.session.commit()
    return api.session.exec(select(func.count()).select_from(Patient)).one()


def test_the_eligibility_checker_is_re_authenticated_at_enrolment_over_http(api):
    before = patients(api), audit_count(api.session, "patient_enrolled")

    wrong = api.post("/patients", user="doc1",
                     json=enrolment(checked_by_password=PASSWORDS["doc1"]))
    technician = api.post("/patients", user="doc1", json=enrolment(
        checked_by="tech1", checked_by_password=PASSWORDS["tech1"]))
    missing = api.post("/patients", user="doc1",
                       json={k: v for k, v in enrolment().items()
                             if k != "checked_by_password"})

    assert refusal(wrong, 403) == "signature_not_authenticated"
    assert "www-authenticate" not in wrong.headers
    assert refusal(technician, 403) == "forbidden"
    assert refusal(missing, 422) == "invalid_input"
    assert (patients(api), audit_count(api.session, "patient_enrolled")) == before

    enrolled = api.post("/patients", user="doc1", json=enrolment())
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["eligibility_checked_at"] is not None
