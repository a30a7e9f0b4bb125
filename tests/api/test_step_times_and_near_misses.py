"""Time integrity and near misses over HTTP: times in the future or out of process order,
a 0-minute infusion and 0 ml are refused; an expired product is refused by the server's
clock; a wrong patient's bag opens a near-miss deviation that blocks release."""

from __future__ import annotations

from datetime import timedelta

from lims.models import Patient
from lims.services.common import utcnow
from tests.api.conftest import product_in, refusal
from tests.factories import (
    PASSWORDS,
    advance,
    make_product,
    scan_of,
    snapshot,
    step_time,
    step_values,
    wristband_of,
)


def submit(api, product, step, user="tech1", scan_kind=None, **changes):
    values = step_values(step, product.arm, step_time(product, step))
    values.update(changes)
    kind = scan_kind or {"receive": "marrow_bag", "issue": "final_product",
                         "administer": "final_product"}[step]
    payload = {"values": values, "scan": scan_of(api.session, product, kind, "in_use"),
               "expected_version": product.version}
    if step == "administer":
        payload["wristband"] = wristband_of(api.session.get(Patient, product.patient_id))
        payload |= {"witness": "doc2", "witness_password": PASSWORDS["doc2"],
                    "physician": user, "physician_password": PASSWORDS[user]}
    if step == "issue":
        payload |= {"witness": "doc1", "witness_password": PASSWORDS["doc1"]}
    api.session.commit()
    return api.post(f"/products/{product.din}/steps/{step}", user=user, json=payload)


def issued(api):
    """A product issued through the services, its issue label printed and scanned back."""
    product = product_in(api, "issued", "CD133")
    api.session.commit()
    return product


def test_a_receipt_time_in_the_future_is_refused_naming_the_field(api):
    product = product_in(api, "collected", "BM-MNC")
    before = snapshot(api.session, product.din)

    response = submit(api, product, "receive",
                      time_received=(utcnow() + timedelta(hours=1)).isoformat())

    assert refusal(response, 422) == "step_data_invalid"
    detail = response.json()["detail"]
    assert "time_received" in detail and "in the future" in detail
    assert snapshot(api.session, product.din) == before


def test_an_administration_before_the_issue_is_refused_over_http(api):
    product = issued(api)
    start = step_time(product, "issue") - timedelta(minutes=20)

    response = submit(api, product, "administer", user="doc1",
                      infusion_start=start.isoformat(),
                      infusion_end=(start + timedelta(minutes=10)).isoformat())

    assert refusal(response, 422) == "step_data_invalid"
    assert "time issued" in response.json()["detail"]


def test_a_zero_minute_infusion_and_zero_ml_are_refused_over_http(api):
    product = issued(api)
    start = step_time(product, "administer")

    no_time = submit(api, product, "administer", user="doc1", infusion_start=start.isoformat(),
                     infusion_end=start.isoformat())
    no_volume = submit(api, product, "administer", user="doc1", volume_injected_ml=0)

    assert refusal(no_time, 422) == "step_data_invalid"
    assert "infusion_end" in no_time.json()["detail"]
    assert refusal(no_volume, 422) in ("invalid_input", "step_data_invalid")
    assert "volume_injected_ml" in no_volume.json()["detail"]


def test_an_expired_product_is_refused_at_issue_by_the_servers_clock(api):
    # harvested 13 h ago: released in date, expired 1 h ago
    product, _ = make_product(api.run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=13))
    before = snapshot(api.session, product.din)

    response = submit(api, product, "issue")

    assert refusal(response, 409) == "product_expired"
    assert snapshot(api.session, product.din) == before


def test_a_wrong_patients_bag_opens_a_near_miss_that_blocks_release(api):
    # given a received product and another patient's bag
    product = product_in(api, "received", "BM-MNC")
    other = product_in(api, "collected", "BM-MNC")
    wrong = scan_of(api.session, other, "marrow_bag", "in_use")
    api.session.commit()

    # when the wrong bag is scanned for the sedimentation
    refused = api.post(f"/products/{product.din}/steps/sediment", user="tech1", json={
        "values": step_values("sediment", "BM-MNC", step_time(product, "sediment")),
        "scan": wrong, "expected_version": product.version, "witness": "tech2",
        "witness_password": PASSWORDS["tech2"]})

    # then it is refused and a major near-miss deviation is open
    assert refusal(refused, 422) == "coi_wrong_patient"
    deviations = api.get(f"/products/{product.din}/deviations", user="qa1").json()
    assert [(d["kind"], d["classification"], d["status"]) for d in deviations] == [
        ("near_miss", "major", "open")]
    review = api.get(f"/products/{product.din}/review", user="qa1").json()
    assert "near_miss" in {e["kind"] for e in review["exceptions"]}

    # and the product cannot be released until QA closes it
    api.session.rollback()
    ready = advance(api.run, product, "awaiting_release")
    api.session.commit()
    blocked = api.post(f"/products/{ready.din}/release", user="qa1",
                       json={"password": PASSWORDS["qa1"]})
    assert refusal(blocked, 409) == "deviation_open"
