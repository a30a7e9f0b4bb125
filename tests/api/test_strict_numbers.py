"""JSON true/false are not numbers: a step's number fields refuse them, yes/no fields take them."""

from __future__ import annotations

from tests.api.conftest import product_in, refusal
from tests.api.test_steps import body, perform
from tests.factories import PASSWORDS, snapshot


def test_true_as_a_temperature_on_receipt_is_refused_naming_the_field(api):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)
    submission = body(api, product, "receive")
    submission["values"]["temperature_c"] = True

    response = api.post(f"/products/{product.din}/steps/receive", user="tech1", json=submission)

    assert refusal(response, 422) == "invalid_input"
    assert response.json()["fields"] == {
        "body.values.temperature_c": "Value error, a number is needed here, not true or false"}
    assert snapshot(api.session, product.din) == before


def test_true_as_a_number_of_washes_or_false_as_a_temperature_is_refused(api):
    product = product_in(api, "rbc_reduced", "BM-MNC")
    before = snapshot(api.session, product.din)
    submission = body(api, product, "isolate_mnc")
    submission["values"] |= {"washes": True, "temperature_c": False}

    response = api.post(f"/products/{product.din}/steps/isolate_mnc", user="tech1",
                        json=submission)

    assert refusal(response, 422) == "invalid_input"
    assert set(response.json()["fields"]) == {"body.values.washes",
                                              "body.values.temperature_c"}
    assert snapshot(api.session, product.din) == before


def test_a_yes_no_field_still_takes_true_and_a_number_field_a_whole_number(api):
    product = product_in(api, "rbc_reduced", "BM-MNC")
    submission = body(api, product, "isolate_mnc")
    submission["values"] |= {"brake_off": True, "temperature_c": 20, "washes": 2}

    response = perform(api, product, "isolate_mnc", values=submission["values"],
                       witness="tech2", witness_password=PASSWORDS["tech2"])

    assert response.status_code == 200, response.text
    assert response.json()["product"]["state"] == "mnc_isolated"
