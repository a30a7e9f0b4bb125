"""What an independent corpus of bad inputs still got through, each class closed: a yes/no
answer given as 1 or "yes", master data bodies that ignored unknown fields and took a NUL,
a deviation against a step that does not exist, and bodies that are not JSON answered in
the parser's words."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from lims.models import Deviation, Equipment, ReagentLot
from tests.api.conftest import product_in, refusal
from tests.api.test_steps import body
from tests.factories import audit_count, snapshot


def _count(api, model) -> int:
    api.session.commit()
    return api.session.exec(select(func.count()).select_from(model)).one()


@pytest.mark.parametrize("answer", [1, 0, "true", "yes", "on", [True]])
def test_a_yes_or_no_answer_is_true_or_false_never_a_number_or_a_word(api, answer):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)
    payload = body(api, product, "receive")
    payload["values"]["bag_intact"] = answer

    response = api.post(f"/products/{product.din}/steps/receive", user="tech1", json=payload)

    assert refusal(response, 422) == "invalid_input"
    assert "true or false" in response.json()["fields"]["body.values.bag_intact"]
    assert snapshot(api.session, product.din) == before


@pytest.mark.parametrize(("path", "payload", "field"), [
    ("/reagent-lots", {"reagent": "Ficoll-Paque PREMIUM", "lot": "FP-R1",
                       "material": "density_gradient_medium", "expires_on": "2030-01-01",
                       "colour": "red"}, "body.colour"),
    ("/reagent-lots", {"reagent": "Ficoll-Paque PREMIUM", "lot": "FP\u0000R2",
                       "material": "density_gradient_medium", "expires_on": "2030-01-01"},
     "body"),
    ("/equipment", {"code": "CF-77", "kind": "Centrifuge X", "serial": "S1",
                    "calibration_due": "2030-01-01", "colour": "red"}, "body.colour"),
    ("/equipment", {"code": "CF\u000078", "kind": "Centrifuge X", "serial": "S1",
                    "calibration_due": "2030-01-01"}, "body"),
])
def test_master_data_refuses_unknown_fields_and_nul_characters_like_every_body(
        api, path, payload, field):
    lots, instruments, events = _count(api, ReagentLot), _count(api, Equipment), audit_count(
        api.session)

    response = api.post(path, user="admin", json=payload)

    assert refusal(response, 422) == "invalid_input"
    assert field in response.json()["fields"]
    assert (_count(api, ReagentLot), _count(api, Equipment), audit_count(api.session)) == (
        lots, instruments, events)


@pytest.mark.parametrize("step", ["FР2404", "sediment\n", "washing", "SEDIMENT"])
def test_a_deviation_names_a_step_of_the_process_or_is_refused(api, step):
    product = product_in(api, "received", "CD133")
    deviations = _count(api, Deviation)

    response = api.post(f"/products/{product.din}/deviations", user="tech1",
                        json={"step": step, "description": "bag leaked",
                              "classification": "minor"})

    assert refusal(response, 422) == "invalid_input"
    assert "is not a step of the process" in response.json()["detail"]
    assert _count(api, Deviation) == deviations


def test_a_deviation_against_a_real_step_is_still_recorded(api):
    product = product_in(api, "received", "CD133")

    response = api.post(f"/products/{product.din}/deviations", user="tech1",
                        json={"step": "receive", "description": "bag leaked",
                              "classification": "minor"})

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("content", "content_type", "says"), [
    (b"{reason", "application/json", "not valid JSON"),
    (b'{"reason": "x",}', "application/json", "not valid JSON"),
    (b"reason=x", "application/x-www-form-urlencoded", "Content-Type: application/json"),
    (b'{"reason": "x"}', "text/plain", "Content-Type: application/json"),
    (b'{"reason": "\xff\xfe"}', "application/json", "UTF-8"),
])
def test_a_body_that_is_not_a_json_object_is_refused_saying_what_to_send(
        api, content, content_type, says):
    product = product_in(api, "received", "CD133")
    before = snapshot(api.session, product.din)

    response = api.post(f"/products/{product.din}/hold", user="super1", content=content,
                        headers={"content-type": content_type})

    assert refusal(response, 422) == "invalid_input"
    assert says in response.json()["detail"]
    assert set(response.json().get("fields", {"body": ""})) == {"body"}  # no "body.24"
    assert snapshot(api.session, product.din) == before



@pytest.mark.parametrize(("reason", "named"), [
    ("bag\x1b[31m leaking", "ESC control character"),
    ("bag \u202eleaking", "RIGHT-TO-LEFT OVERRIDE"),
])
def test_a_hold_reason_with_a_control_character_or_override_is_refused_naming_it(
        api, reason, named):
    # given a received product
    product = product_in(api, "received", "CD133")
    before = snapshot(api.session, product.din)

    # when a client puts it on hold with a reason no keyboard types
    response = api.post(f"/products/{product.din}/hold", user="super1",
                        json={"reason": reason})

    # then the hold is refused with the character named, and nothing moved
    assert refusal(response, 422) == "invalid_input"
    assert named.lower() in response.json()["detail"].lower()
    assert snapshot(api.session, product.din) == before


@pytest.mark.parametrize("expires_on", ["1900-01-01", "9999-12-31"])
def test_a_lot_expiring_in_an_impossible_year_is_refused_and_not_registered(api, expires_on):
    before = _count(api, ReagentLot)

    response = api.post("/reagent-lots", user="super1", json={
        "reagent": "Ficoll-Paque PREMIUM", "lot": "FP-YEAR", "material": "density_gradient_medium",
        "expires_on": expires_on})

    assert refusal(response, 422) == "invalid_input"
    assert "cannot be right" in response.json()["detail"]
    assert _count(api, ReagentLot) == before


def test_a_witness_sent_for_a_step_that_needs_none_is_refused_not_dropped(api):
    # given a collected product: its receipt needs no witness
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)

    # when a client sends one anyway (here a look-alike of tech2)
    payload = body(api, product, "receive", witness="t\u0435ch2", witness_password="x")
    response = api.post(f"/products/{product.din}/steps/receive", user="tech1", json=payload)

    # then it is refused in words, and nothing is recorded as witnessed or otherwise
    assert refusal(response, 422) == "invalid_input"
    assert "needs no witness" in response.json()["detail"]
    assert snapshot(api.session, product.din) == before
