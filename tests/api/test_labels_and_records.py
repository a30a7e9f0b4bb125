"""Label printing and scan-back, the batch record, the audit trail and its verification."""

from __future__ import annotations

from tests.api.conftest import product_in, refusal
from tests.factories import PASSWORDS, audit_count, scan_of, snapshot, step_time, step_values


def sedimented(api):
    """A product whose new RBC-reduced bag has no label yet (the step was done over HTTP)."""
    product = product_in(api, "received", "BM-MNC")
    response = api.post(f"/products/{product.din}/steps/sediment", user="tech1", json={
        "scan": scan_of(api.session, product, "marrow_bag", "in_use"),
        "values": step_values("sediment", "BM-MNC", step_time(product, "sediment")),
        "witness": "tech2", "witness_password": PASSWORDS["tech2"]})
    assert response.status_code == 200, response.text
    return product, response.json()["new_containers"][0]


def test_a_new_container_is_labelled_printed_as_pdf_and_then_scanned_back(api):
    product, bag = sedimented(api)
    pending = api.get(f"/products/{product.din}/labels/pending", user="tech1").json()

    printed = api.post(f"/products/{product.din}/containers/{bag['id']}/label", user="tech1",
                       json={"format": "pdf"})
    # what the printed label's square code carries now: DIN, product code, print serial 1
    (awaiting,) = api.get(f"/products/{product.din}/labels/pending", user="tech1").json()
    verified = api.post(f"/products/{product.din}/labels/verify", user="tech1",
                        json={"scan": awaiting["container"]["code"]})

    assert [(p["container"]["id"], p["printed"]) for p in pending] == [(bag["id"], False)]
    assert printed.status_code == 200, printed.text
    assert printed.headers["content-type"] == "application/pdf"
    assert printed.content.startswith(b"%PDF")
    assert printed.headers["x-reprint"] == "false" and int(printed.headers["x-print-job"]) > 0
    assert verified.status_code == 200 and verified.json()["label_verified_at"] is not None
    assert api.get(f"/products/{product.din}/labels/pending", user="tech1").json() == []


def test_a_reprint_needs_a_reason_and_is_marked_as_one(api):
    product, bag = sedimented(api)
    path = f"/products/{product.din}/containers/{bag['id']}/label"
    api.post(path, user="tech1", json={"format": "zpl"})

    refused = api.post(path, user="tech1", json={"format": "zpl"})
    reprinted = api.post(path, user="tech1", json={"format": "zpl", "reason": "label smudged"})

    assert refusal(refused, 422) == "reason_required"
    assert reprinted.headers["content-type"].startswith("text/plain")
    assert reprinted.text.startswith("^XA") and reprinted.headers["x-reprint"] == "true"


def test_scanning_back_a_superseded_print_is_refused_naming_the_label_to_use(api):
    product, bag = sedimented(api)
    path = f"/products/{product.din}/containers/{bag['id']}/label"
    api.post(path, user="tech1", json={"format": "zpl"})
    (first,) = api.get(f"/products/{product.din}/labels/pending", user="tech1").json()
    api.post(path, user="tech1", json={"format": "zpl", "reason": "label smudged"})

    response = api.post(f"/products/{product.din}/labels/verify", user="tech1",
                        json={"scan": first["container"]["code"]})

    assert refusal(response, 422) == "coi_superseded_label"
    assert 'remove it' in response.json()["detail"] and '"Print 2"' in response.json()["detail"]
    events = api.get(f"/products/{product.din}/coi-events", user="qa1").json()
    assert [e["code"] for e in events] == ["coi_superseded_label"]


def test_printing_is_refused_to_qa_for_an_unknown_container_and_a_bad_format(api):
    product, bag = sedimented(api)
    path = f"/products/{product.din}/containers/{bag['id']}/label"
    before = audit_count(api.session)

    assert refusal(api.post(path, user="qa1", json={}), 403) == "forbidden"
    assert refusal(api.post(f"/products/{product.din}/containers/99999/label", user="tech1",
                            json={}), 422) == "invalid_input"
    assert refusal(api.post(path, user="tech1", json={"format": "png"}), 422) == "invalid_input"
    assert audit_count(api.session) == before


def test_scanning_back_another_products_label_is_refused_and_recorded(api):
    product, _ = sedimented(api)
    other = product_in(api, "received", "BM-MNC")
    before = snapshot(api.session, product.din)

    response = api.post(f"/products/{product.din}/labels/verify", user="tech1",
                        json={"scan": scan_of(api.session, other, "marrow_bag", "in_use")})

    assert refusal(response, 422).startswith("coi_")
    assert snapshot(api.session, product.din) == before
    events = api.get(f"/products/{product.din}/coi-events", user="qa1").json()
    assert [e["step"] for e in events] == ["label_verification"]


def test_the_batch_record_is_a_pdf_for_lab_roles_only(api):
    product = product_in(api, "released", "BM-MNC")

    response = api.get(f"/products/{product.din}/batch-record", user="qa1")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert refusal(api.get(f"/products/{product.din}/batch-record", user="admin"), 403)
    assert refusal(api.get("/products/X999900999999/batch-record", user="qa1"), 404)


def test_the_audit_trail_of_a_product_lists_its_changes_in_order(api):
    product = product_in(api, "received", "BM-MNC")

    events = api.get(f"/products/{product.din}/audit", user="qa1").json()

    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    changes = [(e["old_value"], e["new_value"]) for e in events if e["action"] == "state_changed"]
    assert changes == [("scheduled", "collected"), ("collected", "received")]
    assert refusal(api.get(f"/products/{product.din}/audit", user=None), 401)


def test_the_audit_chain_verifies_for_qa_and_is_refused_to_a_technician(api):
    product_in(api, "received", "BM-MNC")

    report = api.get("/audit/verify", user="qa1").json()

    assert report["ok"] is True
    assert report["lines"][0].startswith("audit chain intact")
    assert refusal(api.get("/audit/verify", user="tech1"), 403) == "forbidden"
