"""Safety gates over HTTP: release suspension, four eyes on QC, release on computed figures."""

from __future__ import annotations

from datetime import timedelta

from lims import demo_data as data
from lims.models import Patient
from lims.services.common import utcnow
from tests.api.conftest import acknowledge_exceptions, product_in, refusal
from tests.factories import (
    PASSWORDS,
    enter_qc,
    make_product,
    perform,
    qc_json,
    scan_of,
    step_time,
    step_values,
    wristband_of,
)

QA = {"password": PASSWORDS["qa1"]}
WITNESS = {"issue": "doc1", "administer": "doc2"}


def qc(api, product, test, value, *, user="tech2", reason=None):
    body = {"test": test, "value": value, **({"reason": reason} if reason else {}),
            **qc_json(api.session, product.din, test)}
    return api.post(f"/products/{product.din}/qc-results", user=user, json=body)


def state_of(api, product):
    return api.get(f"/products/{product.din}", user="qa1").json()


def step(api, product, name):
    """Post the step over HTTP with correct data, scan and witness."""
    operator = "doc1" if name == "administer" else "tech1"
    witness = WITNESS[name]
    extra = {}
    if name == "administer":
        extra["wristband"] = wristband_of(api.session.get(Patient, product.patient_id))
        extra |= {"physician": "doc1", "physician_password": PASSWORDS["doc1"]}
    body = {"scan": scan_of(api.session, product, "final_product", "in_use"),
            "values": step_values(name, product.arm, step_time(product, name)),
            "witness": witness, "witness_password": PASSWORDS[witness], **extra}
    return api.post(f"/products/{product.din}/steps/{name}", user=operator, json=body)


def test_a_culture_growing_after_release_suspends_it_and_issue_is_refused(api):
    product = product_in(api, "released")

    assert qc(api, product, "sterility", "growth").status_code == 201

    shown = state_of(api, product)
    assert (shown["state"], shown["suspended_from"]) == ("release_suspended", "released")
    response = step(api, product, "issue")
    assert refusal(response, 409) == "release_suspended"
    assert "release suspended" in response.json()["detail"]
    alerts = api.get("/alerts", user="qa1").json()
    assert [a["product_id"] for a in alerts] == [product.id]


def test_a_gram_stain_corrected_after_issue_blocks_administration(api):
    product = product_in(api, "issued")

    assert qc(api, product, "gram_stain", "organisms seen", reason="slide re-read").status_code \
        == 201

    assert state_of(api, product)["state"] == "release_suspended"
    assert refusal(step(api, product, "administer"), 409) == "release_suspended"


def test_endotoxin_corrected_to_500_after_release_blocks_until_a_verified_re_release(api):
    # given a released product whose endotoxin is corrected to 500
    product = product_in(api, "released", "BM-MNC")
    assert qc(api, product, "endotoxin", "500", reason="dilution omitted").status_code == 201
    assert state_of(api, product)["state"] == "release_suspended"
    path = f"/products/{product.din}/re-release"
    # acknowledging the alert does not lift the block
    [alert] = api.get("/alerts", user="qa1").json()
    assert api.post(f"/alerts/{alert['id']}/acknowledge", user="qa1",
                    json={**QA, "note": "physician told"}).status_code == 200
    assert state_of(api, product)["state"] == "release_suspended"
    # re-release is refused while the result fails, and while its correction is unverified
    assert refusal(api.post(path, user="qa1", json=QA), 409) == "qc_failed"
    corrected = qc(api, product, "endotoxin", "0.12", reason="repeat test").json()
    assert corrected["needs_verification"] is True
    assert refusal(api.post(path, user="qa1", json=QA), 409) == "qc_failed"
    verify = f"/qc-results/{corrected['id']}/verify"
    assert refusal(api.post(verify, user="tech2", json={"password": PASSWORDS["tech2"]}),
                   403) == "forbidden"
    verified = api.post(verify, user="super1", json={"password": PASSWORDS["super1"],
                                                     "note": "raw data checked"})
    assert verified.status_code == 200 and verified.json()["verified_at"]
    # then QA acknowledges each exception, re-releases it, and it can be issued
    acknowledge_exceptions(api, product.din)
    released = api.post(path, user="qa1", json={**QA, "note": "verified correction"})
    assert released.status_code == 200, released.text
    assert (released.json()["state"], released.json()["suspended_from"]) == ("released", None)
    assert step(api, product, "issue").status_code == 200


def test_a_failure_after_administration_raises_a_clinical_alert(api):
    product = product_in(api, "administered", "BM-MNC")

    assert qc(api, product, "sterility", "growth").status_code == 201

    assert state_of(api, product)["state"] == "administered"
    [alert] = api.get("/alerts", user="qa1").json()
    assert alert["severity"] == "clinical"


def test_the_corrector_cannot_verify_their_own_correction(api):
    product = product_in(api, "formulated", "BM-MNC")
    enter_qc(api.run, product, {**data.qc_results("BM-MNC"), "endotoxin": "500"})
    corrected = qc(api, product, "endotoxin", "0.1", user="super1", reason="re-read").json()

    response = api.post(f"/qc-results/{corrected['id']}/verify", user="super1",
                        json={"password": PASSWORDS["super1"]})

    assert refusal(response, 409) == "not_independent"


def test_the_qc_entrant_cannot_release(api):
    product = product_in(api, "formulated", "BM-MNC")
    for test, value in data.qc_results("BM-MNC").items():
        assert qc(api, product, test, value, user="qa1").status_code == 201
    assert api.post(f"/products/{product.din}/qc-complete", user="tech2").status_code == 200

    response = api.post(f"/products/{product.din}/release", user="qa1", json=QA)

    assert refusal(response, 409) == "not_independent"
    assert "Maryam QA Reviewer entered" in response.json()["detail"]  # the printed name
    assert "qa1" not in response.json()["detail"]


def test_a_typed_dose_far_from_the_computed_dose_opens_a_deviation_and_blocks_release(api):
    # given a product formulated from counts that give 4.3e5 viable CD133+ cells
    product, _ = make_product(api.run, arm="CD133", until="enriched",
                              t0=utcnow() - timedelta(hours=7))
    values = {**step_values("formulate", "CD133", step_time(product, "formulate")),
              "total_cells": 5.0e5}
    product = perform(api.run, product, "formulate", values=values).product
    # when QC types 1.5e6 over HTTP
    for test, value in {**data.qc_results("CD133"), "viable_dose": "1.5e6"}.items():
        assert qc(api, product, test, value).status_code == 201
    assert api.post(f"/products/{product.din}/qc-complete", user="tech2").status_code == 200
    # then a major dose-discrepancy deviation is open and normal release is refused
    deviations = api.get(f"/products/{product.din}/deviations", user="qa1").json()
    assert [(d["kind"], d["classification"]) for d in deviations] == [("dose_discrepancy",
                                                                       "major")]
    release = f"/products/{product.din}/release"
    assert refusal(api.post(release, user="qa1", json=QA), 409) == "deviation_open"
    closed = api.post(f"/deviations/{deviations[0]['id']}/close", user="qa1",
                      json={**QA, "disposition": "typed the pre-dilution count"})
    assert closed.status_code == 200, closed.text
    refused = api.post(release, user="qa1", json=QA)
    assert refusal(refused, 409) == "qc_failed"
    assert "computed viable dose" in refused.json()["detail"]
