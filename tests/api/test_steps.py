"""Performing process steps over HTTP: scan + data + witness, and every kind of refusal."""

from __future__ import annotations

from lims.models import Patient
from tests.api.conftest import product_in, refusal
from tests.factories import (
    PASSWORDS,
    coi_events,
    scan_of,
    snapshot,
    step_time,
    step_values,
    wristband_of,
)


def body(api, product, step, **overrides):
    """A correct submission of `step` for `product`; any part may be overridden."""
    kind = {"receive": "marrow_bag", "sediment": "marrow_bag", "isolate_mnc": "rbc_reduced",
            "enrich": "mnc", "issue": "final_product", "administer": "final_product",
            "harvest": "marrow_bag"}.get(step)
    if step == "formulate":
        kind = "cd133_target" if product.arm == "CD133" else "mnc"
    submission = {"values": step_values(step, product.arm, step_time(product, step)),
                  "expected_version": product.version}
    if "scan" not in overrides:
        submission["scan"] = scan_of(api.session, product, kind, "in_use")
    if step == "administer":  # the administering physician's own signature at the bedside
        submission |= {"physician": "doc1", "physician_password": PASSWORDS["doc1"]}
    return {**submission, **overrides}


def perform(api, product, step, user="tech1", **overrides):
    payload = body(api, product, step, **overrides)
    return api.post(f"/products/{product.din}/steps/{step}", user=user, json=payload)


def test_receiving_a_bag_with_its_scan_advances_the_product_and_records_the_step(api):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)

    response = perform(api, product, "receive")

    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["product"]["state"] == "received"
    assert outcome["product"]["version"] == product.version + 1
    after = snapshot(api.session, product.din)
    assert after.step_records == before.step_records + 1


def test_a_scan_of_another_patients_bag_is_refused_recorded_and_changes_nothing(api):
    product = product_in(api, "collected", "BM-MNC")
    other = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)

    response = perform(api, product, "receive",
                       scan=scan_of(api.session, other, "marrow_bag", "in_use"))

    assert refusal(response, 422) == "coi_wrong_patient"
    assert "WRONG PATIENT" in response.json()["detail"]
    assert snapshot(api.session, product.din) == before
    assert [e.code for e in coi_events(api.session, product)] == ["coi_wrong_patient"]
    recorded = api.get(f"/products/{product.din}/coi-events", user="qa1").json()
    assert [e["code"] for e in recorded] == ["coi_wrong_patient"]


def test_an_unreadable_or_missing_scan_is_refused_and_changes_nothing(api):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)

    assert refusal(perform(api, product, "receive", scan="hello"), 422) == "coi_bad_scan"
    assert refusal(perform(api, product, "receive", scan=None),
                   422) == "identity_not_confirmed"
    assert snapshot(api.session, product.din) == before


def test_invalid_step_data_is_refused_with_422_per_field_and_nothing_is_written(api):
    product = product_in(api, "collected", "BM-MNC")
    good = body(api, product, "receive")["values"]
    before = snapshot(api.session, product.din)
    cases = {
        "values.temperature_c": {**good, "temperature_c": "warm"},
        "values.time_received": {**good, "time_received": "2024-05-01T10:30"},  # no zone
        "values.colour": {**good, "colour": "red"},
        "values.bag_intact": {k: v for k, v in good.items() if k != "bag_intact"},
    }

    for field, values in cases.items():
        response = perform(api, product, "receive", values=values)
        assert refusal(response, 422) == "invalid_input"
        assert any(field in where for where in response.json()["fields"]), response.json()
    assert snapshot(api.session, product.din) == before


def test_step_data_the_step_rules_refuse_come_back_with_the_fields_to_correct(api):
    product = product_in(api, "collected", "BM-MNC")
    good = body(api, product, "receive")["values"]
    before = snapshot(api.session, product.din)

    response = perform(api, product, "receive",
                       values={**good, "time_out": good["time_received"],
                               "time_received": good["time_out"]})

    assert refusal(response, 422) == "step_data_invalid"
    assert set(response.json()["fields"]) == {"time_received"}
    assert snapshot(api.session, product.din) == before


def test_a_stale_expected_version_is_a_conflict_and_nothing_is_written(api):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)

    response = perform(api, product, "receive", expected_version=product.version - 1)

    assert refusal(response, 409) == "conflict"
    assert snapshot(api.session, product.din) == before


def test_a_step_is_refused_to_a_role_that_may_not_perform_it(api):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)

    assert refusal(perform(api, product, "receive", user="qa1"), 403) == "forbidden"
    assert refusal(perform(api, product, "receive", user="doc1"), 403) == "forbidden"
    assert refusal(perform(api, product, "receive", user=None), 401) == "authentication_failed"
    assert snapshot(api.session, product.din) == before


def test_a_step_out_of_order_or_of_the_other_arm_is_a_conflict(api):
    product = product_in(api, "mnc_isolated", "BM-MNC")
    before = snapshot(api.session, product.din)

    assert refusal(perform(api, product, "enrich", scan=scan_of(
        api.session, product, "mnc", "in_use")), 409) == "wrong_arm"
    assert refusal(perform(api, product, "sediment", scan=scan_of(
        api.session, product, "mnc", "in_use")), 409) == "invalid_transition"
    assert snapshot(api.session, product.din) == before


def test_a_witnessed_step_needs_a_different_person_who_signs_with_their_password(api):
    product = product_in(api, "received", "BM-MNC")
    before = snapshot(api.session, product.din)

    missing = perform(api, product, "sediment")
    same = perform(api, product, "sediment", witness="tech1",
                   witness_password=PASSWORDS["tech1"])
    wrong = perform(api, product, "sediment", witness="tech2", witness_password="wrong-one")

    assert refusal(missing, 422) == "witness_required"
    assert refusal(same, 422) == "witness_same_user"
    assert refusal(wrong, 403) == "witness_not_authenticated"
    assert "WWW-Authenticate" not in wrong.headers
    assert snapshot(api.session, product.din) == before

    done = perform(api, product, "sediment", witness="tech2",
                   witness_password=PASSWORDS["tech2"])
    assert done.status_code == 200, done.text
    assert [c["kind"] for c in done.json()["new_containers"]] == ["rbc_reduced"]


def test_the_harvest_is_recorded_with_the_physician_as_witness(api):
    product = product_in(api, "scheduled", "CD133")

    response = perform(api, product, "harvest", values=step_values(
        "harvest", "CD133", step_time(product, "harvest")), witness="doc1",
        witness_password=PASSWORDS["doc1"],
        wristband=wristband_of(api.session.get(Patient, product.patient_id)))

    assert response.status_code == 200, response.text
    assert response.json()["product"]["state"] == "collected"
    assert response.json()["product"]["expires_at"] is not None


def test_issue_and_bedside_verified_administration_complete_the_product(api):
    product = product_in(api, "released", "BM-MNC")
    issued = perform(api, product, "issue", witness="doc1", witness_password=PASSWORDS["doc1"])
    assert issued.status_code == 200, issued.text
    product.version = issued.json()["product"]["version"]
    final = next(c for c in api.get(f"/products/{product.din}/containers", user="tech1").json()
                 if c["kind"] == "final_product")
    early = perform(api, product, "administer", user="doc1",
                    wristband=wristband_of(api.session.get(Patient, product.patient_id)),
                    witness="doc2", witness_password=PASSWORDS["doc2"])
    assert refusal(early, 409) == "label_not_verified"  # the issue label comes first
    printed = api.post(f"/products/{product.din}/containers/{final['id']}/label", user="tech1",
                       json={"format": "zpl"})
    assert printed.status_code == 200, printed.text  # the issue label: the product is issued
    stale = api.post(f"/products/{product.din}/labels/verify", user="tech1",
                     json={"scan": final["code"]})  # the final label's code: superseded now
    assert refusal(stale, 422) == "coi_superseded_label"
    final = next(c for c in api.get(f"/products/{product.din}/containers", user="tech1").json()
                 if c["kind"] == "final_product")  # its code carries the issue label's serial
    verified = api.post(f"/products/{product.din}/labels/verify", user="tech1",
                        json={"scan": final["code"]})
    assert verified.status_code == 200, verified.text
    wristband = wristband_of(api.session.get(Patient, product.patient_id))
    administered = perform(api, product, "administer", user="doc1", wristband=wristband,
                           witness="doc2", witness_password=PASSWORDS["doc2"])

    assert administered.status_code == 200, administered.text
    assert administered.json()["product"]["state"] == "administered"


def test_the_bedside_check_refuses_another_patients_wristband_and_records_it(api):
    product = product_in(api, "issued", "BM-MNC")
    other = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)
    wristband = wristband_of(api.session.get(Patient, other.patient_id))

    response = perform(api, product, "administer", user="doc1", wristband=wristband,
                       witness="doc2", witness_password=PASSWORDS["doc2"])

    assert refusal(response, 422) == "coi_wrong_patient"
    assert snapshot(api.session, product.din) == before
    assert [e.code for e in coi_events(api.session, product)] == ["coi_wrong_patient"]


def test_administration_without_a_wristband_scan_is_refused_by_the_schema(api):
    product = product_in(api, "issued", "BM-MNC")
    before = snapshot(api.session, product.din)

    response = perform(api, product, "administer", user="doc1", witness="doc2",
                       witness_password=PASSWORDS["doc2"])

    assert refusal(response, 422) == "invalid_input"
    assert "body.wristband" in response.json()["fields"]
    assert snapshot(api.session, product.din) == before


def test_a_step_on_an_unknown_din_is_404(api):
    product = product_in(api, "collected", "BM-MNC")
    payload = body(api, product, "receive")

    response = api.post("/products/X999900999999/steps/receive", user="tech1", json=payload)

    assert refusal(response, 404) == "not_found"
