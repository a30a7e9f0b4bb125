"""Text that cannot be real is refused over HTTP: identifiers (lot numbers, equipment IDs,
MRN, subject ID, bag sample ID, QC instrument, a DIN in a URL) in printable ASCII only,
look-alike characters named; free text in any script but without control characters."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import product_in, refusal
from tests.api.test_patients_and_products import enrolment
from tests.api.test_steps import body
from tests.factories import PASSWORDS, audit_count, qc_json, snapshot

CYRILLIC_A = "Cyrillic capital letter A ‘А’ (U+0410, looks like A)"


def test_an_mrn_with_a_cyrillic_letter_is_refused_naming_the_letter_and_nothing_is_written(api):
    before = audit_count(api.session)

    response = api.post("/patients", user="doc1", json=enrolment(mrn="70099А0"))

    assert refusal(response, 422) == "invalid_input"
    assert f"MRN: it has {CYRILLIC_A} at position 6" in response.json()["detail"]
    assert audit_count(api.session) == before


def test_a_subject_id_with_a_full_width_digit_is_refused_naming_it(api):
    response = api.post("/patients", user="doc1", json=enrolment(subject_id="RYN-９00"))

    assert refusal(response, 422) == "invalid_input"
    assert ("subject ID: it has full-width digit nine ‘９’ (U+FF19, looks like 9) at "
            "position 5") in response.json()["detail"]


def test_a_patient_with_a_persian_name_is_enrolled_with_the_name_as_written(api):
    name = "زهرا محمدی\u200cنژاد"  # a zero-width non-joiner belongs to the name

    response = api.post("/patients", user="doc1", json=enrolment(name=name))

    assert response.status_code == 201, response.text
    assert api.get("/patients/RYN-900", user="doc1").json()["name"] == name


def test_a_name_with_an_escape_character_is_refused(api):
    response = api.post("/patients", user="doc1", json=enrolment(name="API\x1bPatient"))

    assert refusal(response, 422) == "invalid_input"
    assert "name: it has a ESC control character (U+001B) at position 4" in (
        response.json()["detail"])


def test_a_step_with_a_look_alike_lot_number_is_refused_naming_it_and_changes_nothing(api):
    product = product_in(api, "received", "BM-MNC")
    payload = body(api, product, "sediment", witness="tech2",
                   witness_password=PASSWORDS["tech2"])
    payload["values"]["agent_lot"] = "HЕS2401"  # a Cyrillic Е
    before = snapshot(api.session, product.din)

    response = api.post(f"/products/{product.din}/steps/sediment", user="tech1", json=payload)

    assert refusal(response, 422) == "step_data_invalid"
    assert ("it has Cyrillic capital letter Ie ‘Е’ (U+0415, looks like E) at position 2"
            in response.json()["detail"])
    assert snapshot(api.session, product.din) == before


def test_free_text_of_a_step_with_an_escape_character_is_refused_naming_it(api):
    product = product_in(api, "enriched", "CD133")
    payload = body(api, product, "formulate", witness="tech2",
                   witness_password=PASSWORDS["tech2"])
    payload["values"]["diluent"] = "saline\x1b[2J"

    response = api.post(f"/products/{product.din}/steps/formulate", user="tech1", json=payload)

    assert refusal(response, 422) == "step_data_invalid"
    assert ("diluent: it has a ESC control character (U+001B) at position 7"
            in response.json()["detail"])


def test_a_formulation_with_zero_total_cells_is_refused(api):
    product = product_in(api, "enriched", "CD133")
    payload = body(api, product, "formulate")
    payload["values"]["total_cells"] = 0

    response = api.post(f"/products/{product.din}/steps/formulate", user="tech1", json=payload)

    # the step's schema (generated from the step's fields) refuses it before the service
    assert refusal(response, 422) == "invalid_input"
    assert response.json()["fields"] == {
        "body.values.total_cells": "Input should be greater than 0"}


def test_a_din_in_a_url_with_a_cyrillic_letter_is_refused_naming_it(api):
    product = product_in(api, "received", "BM-MNC")
    look_alike = product.din[:-1] + "А" if product.din[-1] == "A" else "Х" + product.din[1:]

    response = api.get(f"/products/{quote(look_alike)}", user="tech1")

    assert refusal(response, 422) == "din_invalid"
    detail = response.json()["detail"]
    assert detail.startswith("the DIN has Cyrillic capital letter")
    assert "at position" in detail and "pattern" not in detail


def test_a_din_in_a_url_with_a_control_character_is_refused_naming_it(api):
    product = product_in(api, "received", "BM-MNC")

    response = api.post(f"/products/{product.din[:6]}%01{product.din[7:]}/hold", user="tech1",
                        json={"reason": "check"})

    assert refusal(response, 422) == "din_invalid"
    assert "a SOH control character (U+0001) at position 7" in response.json()["detail"]


def test_a_reagent_lot_with_a_look_alike_lot_number_is_refused(api):
    lot = {"reagent": "Ficoll-Paque", "lot": "FP24О4", "material": "density_gradient_medium",
           "expires_on": "2030-06-30"}

    response = api.post("/reagent-lots", user="super1", json=lot)

    assert refusal(response, 422) == "invalid_input"
    assert ("lot number: it has Cyrillic capital letter O ‘О’ (U+041E, looks like O) at "
            "position 5") in response.json()["detail"]


def test_equipment_with_a_control_character_in_its_id_is_refused(api):
    equipment = {"code": "CF-\x0709", "kind": "Centrifuge", "serial": "S1",
                 "calibration_due": "2030-06-30"}

    response = api.post("/equipment", user="super1", json=equipment)

    assert refusal(response, 422) == "invalid_input"
    assert ("equipment ID: it has a BEL control character (U+0007) at position 4"
            in response.json()["detail"])


def test_a_qc_result_with_a_look_alike_instrument_is_refused(api):
    product = product_in(api, "formulated", "BM-MNC")
    sample = qc_json(api.session, product.din, "viability")
    sample["instrument"] = "FC-0１"

    response = api.post(f"/products/{product.din}/qc-results", user="tech2",
                        json={"test": "viability", "value": "95", **sample})

    assert refusal(response, 422) == "invalid_input"
    assert "instrument: it has full-width digit one ‘１’ (U+FF11, looks like 1)" in (
        response.json()["detail"])
