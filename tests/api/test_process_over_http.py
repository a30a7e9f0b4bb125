"""A CD133 product from receipt to administration through the API alone: every step,
every new label printed and scanned back, QC, release, issue and the bedside check."""

from __future__ import annotations

from datetime import timedelta

from lims import demo_data as data
from lims.models import Patient
from lims.services.common import utcnow
from tests.api.conftest import acknowledge_exceptions, product_in, refusal
from tests.factories import (
    PASSWORDS,
    make_product,
    qc_json,
    step_time,
    step_values,
    wristband_of,
)

INPUT = {"sediment": "marrow_bag", "isolate_mnc": "rbc_reduced", "enrich": "mnc",
         "formulate": "cd133_target", "issue": "final_product", "administer": "final_product"}
WITNESS = {"issue": "doc1", "administer": "doc2"}


def in_use(api, din, kind):
    containers = api.get(f"/products/{din}/containers", user="tech1").json()
    return next(c for c in containers if c["kind"] == kind and c["status"] == "in_use")


def label_everything(api, din):
    """Print (ZPL) and scan back every label the product's containers need now."""
    for due in api.get(f"/products/{din}/labels/pending", user="tech1").json():
        container = due["container"]
        if not due["printed"]:
            printed = api.post(f"/products/{din}/containers/{container['id']}/label",
                               user="tech1", json={"format": "zpl", "kind": due["kind"]})
            assert printed.status_code == 200, printed.text
        # the square code of the label it wears now (its latest print's serial)
        code = next(c["code"] for c in api.get(f"/products/{din}/containers", user="tech1")
                    .json() if c["id"] == container["id"])
        verified = api.post(f"/products/{din}/labels/verify", user="tech1",
                            json={"scan": code})
        assert verified.status_code == 200, verified.text


def step(api, product, name, version, times=None, **extra):
    operator = "doc1" if name == "administer" else "tech1"
    witness = WITNESS.get(name, "tech2")
    values = step_values(name, product.arm, step_time(product, name))
    values.update({k: v.isoformat() for k, v in (times or {}).items()})
    response = api.post(f"/products/{product.din}/steps/{name}", user=operator, json={
        "scan": in_use(api, product.din, INPUT[name])["code"],
        "values": values,
        "witness": witness, "witness_password": PASSWORDS[witness],
        "expected_version": version,
        **({"physician": "doc1", "physician_password": PASSWORDS["doc1"]}
           if name == "administer" else {}),
        **extra})
    assert response.status_code == 200, (name, response.text)
    label_everything(api, product.din)
    return response.json()["product"]


def test_a_cd133_product_goes_from_receipt_to_the_patient_over_http(api):
    product = product_in(api, "received", "CD133")
    version = product.version

    for name in ("sediment", "isolate_mnc", "enrich", "formulate"):
        version = step(api, product, name, version)["version"]
    for test, value in data.qc_results("CD133").items():
        assert api.post(f"/products/{product.din}/qc-results", user="tech2",
                        json={"test": test, "value": value,
                              **qc_json(api.session, product.din, test)}).status_code == 201
    assert api.post(f"/products/{product.din}/qc-complete", user="tech2").status_code == 200
    assert acknowledge_exceptions(api, product.din) >= 1
    released = api.post(f"/products/{product.din}/release", user="qa1",
                        json={"password": PASSWORDS["qa1"]})
    assert released.status_code == 200, released.text
    label_everything(api, product.din)  # the final label, now that it is released
    # Released just now by the server's clock: issue and infusion follow it (the infusion
    # ends a minute ahead, within the allowed clock skew).
    now = utcnow()
    version = step(api, product, "issue", released.json()["version"],
                   times={"time_issued": now})["version"]
    wristband = wristband_of(api.session.get(Patient, product.patient_id))
    final = step(api, product, "administer", version, wristband=wristband,
                 times={"infusion_start": now, "infusion_end": now + timedelta(minutes=1)})

    assert final["state"] == "administered"
    kinds = [c["kind"] for c in api.get(f"/products/{product.din}/containers",
                                        user="qa1").json()]
    assert {"rbc_reduced", "mnc", "cd133_target", "cd133_negative", "final_product",
            "qc_sample"} <= set(kinds)
    assert api.get("/audit/verify", user="qa1").json()["ok"] is True


def test_an_unlabelled_new_container_cannot_be_used_until_its_label_is_scanned_back(api):
    product = product_in(api, "received", "BM-MNC")
    sedimented = api.post(f"/products/{product.din}/steps/sediment", user="tech1", json={
        "scan": in_use(api, product.din, "marrow_bag")["code"],
        "values": step_values("sediment", "BM-MNC", step_time(product, "sediment")),
        "witness": "tech2", "witness_password": PASSWORDS["tech2"]})
    assert sedimented.status_code == 200

    response = api.post(f"/products/{product.din}/steps/isolate_mnc", user="tech1", json={
        "scan": in_use(api, product.din, "rbc_reduced")["code"],
        "values": step_values("isolate_mnc", "BM-MNC", step_time(product, "isolate_mnc")),
        "witness": "tech2", "witness_password": PASSWORDS["tech2"]})

    assert refusal(response, 409) == "label_not_verified"


def test_a_product_past_its_expiry_is_expired_over_http(api):
    product, _ = make_product(api.run, arm="BM-MNC", until="received",
                              t0=utcnow() - timedelta(hours=13))
    api.session.commit()

    response = api.post(f"/products/{product.din}/expire", user="tech1")

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "expired"
    assert refusal(api.post(f"/products/{product.din}/expire", user="tech1"),
                   409) == "invalid_transition"
