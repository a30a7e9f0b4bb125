"""Strict input over HTTP: numbers are numbers (not true/false, not text, not NaN or
Infinity), a DIN is read whole in every form a person types it, a second person's wrong
password is not the caller's sign-in failing, and what is not a wristband says what it is."""

from __future__ import annotations

import json
from urllib.parse import quote

from sqlmodel import select

from lims.models import Deviation, Patient, User
from tests.api.conftest import product_in, refusal
from tests.api.test_quality import awaiting_release
from tests.api.test_steps import body, perform
from tests.factories import PASSWORDS, audit_count, coi_events, qc_json, snapshot
from workflows.isbt128 import check_character, parse_din


def _raw(api, path, text, user="tech1"):
    """A body sent as written (Python's JSON reader takes NaN and Infinity literals)."""
    return api.post(path, user=user, content=text, headers={"Content-Type": "application/json"})


def test_nan_or_infinity_as_a_step_value_is_refused_naming_the_field(api):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)
    submission = json.dumps(body(api, product, "receive"))

    for literal in ("NaN", "Infinity", "-Infinity"):
        edited = json.loads(submission)
        edited["values"]["temperature_c"] = "@@"
        response = _raw(api, f"/products/{product.din}/steps/receive",
                        json.dumps(edited).replace('"@@"', literal))

        assert refusal(response, 422) == "invalid_input"
        assert "body.values.temperature_c" in response.json()["fields"]
    assert snapshot(api.session, product.din) == before


def test_text_for_a_number_is_refused(api):
    product = product_in(api, "collected", "BM-MNC")
    submission = body(api, product, "receive")
    submission["values"]["temperature_c"] = "4"

    response = api.post(f"/products/{product.din}/steps/receive", user="tech1", json=submission)

    assert refusal(response, 422) == "invalid_input"
    assert response.json()["fields"]["body.values.temperature_c"] == (
        "Value error, a number is needed here, not text ('4')")


def test_nan_as_a_patient_weight_or_a_qc_sample_volume_is_refused(api):
    product = product_in(api, "formulated", "BM-MNC")
    sample = {"test": "viability", "value": "97", **qc_json(api.session, product.din,
                                                             "viability")}
    sample["sample_volume_ml"] = "@@"

    response = _raw(api, f"/products/{product.din}/qc-results",
                    json.dumps(sample).replace('"@@"', "NaN"), user="tech2")

    assert refusal(response, 422) == "invalid_input"
    assert "body.sample_volume_ml" in response.json()["fields"]


def test_a_qc_value_of_infinity_or_in_full_width_digits_is_refused(api):
    product = product_in(api, "formulated", "BM-MNC")
    before = snapshot(api.session, product.din)

    for value in ("inf", "1e999", "NaN", "９７"):
        response = api.post(f"/products/{product.din}/qc-results", user="tech2",
                            json={"test": "viability", "value": value,
                                  **qc_json(api.session, product.din, "viability")})
        assert refusal(response, 422) == "invalid_input", value
    assert "full-width digit nine ‘９’" in response.json()["detail"]
    assert snapshot(api.session, product.din) == before


def test_the_din_as_printed_in_lower_case_filters_notifications_and_a_wrong_one_is_refused(api):
    product = product_in(api, "received", "BM-MNC")
    din = parse_din(product.din)
    printed = f"{din.eye_readable()} {din.check}".lower()
    wrong = f"{product.din}{'A' if din.check != 'A' else 'B'}"

    listed = api.get("/notifications", user="qa1", params={"din": printed})
    refused = api.get("/notifications", user="qa1", params={"din": wrong})

    assert listed.status_code == 200, listed.text
    assert refusal(refused, 422) == "din_invalid"


def test_the_audit_trail_is_filtered_by_the_din_as_printed(api):
    product = product_in(api, "received", "BM-MNC")
    printed = f"{parse_din(product.din).eye_readable()} {check_character(product.din)}"

    response = api.get("/audit/events", user="qa1", params={"din": printed})

    assert response.status_code == 200, response.text
    assert response.json()["total"] > 0


def test_a_look_alike_in_a_din_path_acts_on_nothing(api):
    product = product_in(api, "received", "BM-MNC")
    before = snapshot(api.session, product.din)
    look_alike = "Х" + product.din[1:]  # a Cyrillic Х

    response = api.post(f"/products/{quote(look_alike)}/hold", user="tech1",
                        json={"reason": "check"})

    assert response.status_code == 422
    assert snapshot(api.session, product.din) == before


# --- a second person's password -------------------------------------------------------------

def test_a_witness_wrong_password_is_403_without_ending_the_callers_session(api):
    product = product_in(api, "received", "BM-MNC")

    response = perform(api, product, "sediment", witness="tech2", witness_password="wrong-one")

    assert refusal(response, 403) == "witness_not_authenticated"
    assert "WWW-Authenticate" not in response.headers
    assert "the witness's user name or password is incorrect" in response.json()["detail"]
    assert api.get("/worklist", user="tech1").status_code == 200  # still signed in


def test_a_witness_who_fails_repeatedly_waits_and_is_never_locked(api):
    product = product_in(api, "received", "BM-MNC")

    for _ in range(5):
        assert refusal(perform(api, product, "sediment", witness="tech2",
                               witness_password="wrong-one"), 403)
    locked = perform(api, product, "sediment", witness="tech2",
                     witness_password=PASSWORDS["tech2"])

    assert refusal(locked, 403) == "witness_not_authenticated"
    assert "wait 2 seconds" in locked.json()["detail"]
    api.session.commit()
    tech2 = api.session.exec(select(User).where(User.username == "tech2")
                             .execution_options(populate_existing=True)).one()
    assert tech2.locked_at is None
    assert audit_count(api.session, "signin_throttled") == 1


def test_an_approving_physicians_wrong_password_is_403_and_signs_nothing(api):
    product = awaiting_release(api, endotoxin="500")
    before = snapshot(api.session, product.din)

    response = api.post(f"/products/{product.din}/exceptional-release", user="qa1", json={
        "password": PASSWORDS["qa1"], "justification": "no alternative product",
        "physician": "doc2", "physician_password": "not-it"})

    assert refusal(response, 403) == "signature_not_authenticated"
    assert "WWW-Authenticate" not in response.headers
    assert snapshot(api.session, product.din) == before


# --- the wristband ------------------------------------------------------------------------------

def test_an_mrn_typed_into_the_wristband_field_says_so_and_is_recorded_not_as_a_near_miss(api):
    product = product_in(api, "issued", "BM-MNC")
    patient = api.session.get(Patient, product.patient_id)
    before = snapshot(api.session, product.din)

    response = perform(api, product, "administer", user="doc1", wristband=patient.mrn,
                       witness="doc2", witness_password=PASSWORDS["doc2"])

    assert refusal(response, 422) == "coi_bad_scan"
    assert response.json()["detail"].startswith(
        "this reads like the patient's MRN typed in, not the wristband's barcode")
    assert snapshot(api.session, product.din) == before
    [event] = coi_events(api.session, product)
    assert (event.code, event.scanned) == ("coi_bad_scan", patient.mrn)
    assert api.session.exec(select(Deviation).where(
        Deviation.product_id == product.id)).all() == []
