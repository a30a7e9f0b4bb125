"""QC, QA review and signed decisions, dispositions, deviations and alerts over HTTP."""

from __future__ import annotations

from sqlmodel import select

from lims import demo_data as data
from lims.models import Alert, Signature
from tests.api.conftest import acknowledge_exceptions, product_in, refusal
from tests.factories import PASSWORDS, audit_count, enter_qc, qc_json, snapshot

SIGN = {"password": PASSWORDS["qa1"]}


def enter_results(api, product, user="tech2", **overrides):
    results = {**data.qc_results(product.arm), **overrides}
    return [api.post(f"/products/{product.din}/qc-results", user=user,
                     json={"test": test, "value": value,
                           **qc_json(api.session, product.din, test)})
            for test, value in results.items()]


def awaiting_release(api, arm="BM-MNC", **overrides):
    product = product_in(api, "formulated", arm)
    enter_qc(api.run, product, {**data.qc_results(arm), **overrides})
    assert api.post(f"/products/{product.din}/qc-complete", user="tech2").status_code == 200
    return product


def signatures(api, product):
    """The signatures on the product record itself (not on its steps)."""
    api.session.commit()
    return api.session.exec(select(Signature).where(
        Signature.product_id == product.id, Signature.record_type == "product")).all()


# --- QC ---------------------------------------------------------------------------------------

def test_qc_results_are_entered_judged_listed_and_complete_qc(api):
    product = product_in(api, "formulated", "BM-MNC")

    entered = enter_results(api, product)
    listed = api.get(f"/products/{product.din}/qc-results", user="qa1").json()
    completed = api.post(f"/products/{product.din}/qc-complete", user="tech2")

    assert {r.status_code for r in entered} == {201}
    assert {r["test"]: r["passed"] for r in listed}["viability"] is True
    assert completed.json()["state"] == "awaiting_release"


def test_an_impossible_qc_value_or_unknown_test_is_refused_and_nothing_is_written(api):
    product = product_in(api, "formulated", "BM-MNC")
    before = snapshot(api.session, product.din)

    for payload in ({"test": "viability", "value": "140"}, {"test": "astrology", "value": "1"},
                    {"test": "viability"}, {"test": "viability", "value": "97", "extra": 1}):
        response = api.post(f"/products/{product.din}/qc-results", user="tech2", json=payload)
        assert refusal(response, 422) == "invalid_input"
    assert snapshot(api.session, product.din) == before


def test_correcting_a_qc_result_needs_a_reason(api):
    product = product_in(api, "formulated", "BM-MNC")
    enter_results(api, product)
    path = f"/products/{product.din}/qc-results"

    refused = api.post(path, user="tech2", json={"test": "endotoxin", "value": "0.2"})
    corrected = api.post(path, user="tech2", json={"test": "endotoxin", "value": "0.2",
                                                   "reason": "transcription error"})

    assert refusal(refused, 422) == "reason_required"
    assert corrected.status_code == 201
    history = api.get(path, user="qa1", params={"include_superseded": True}).json()
    assert [r["value"] for r in history if r["test"] == "endotoxin"] == ["0.12", "0.2"]


def test_qc_entry_is_refused_to_a_physician_and_completion_with_missing_results(api):
    product = product_in(api, "formulated", "BM-MNC")

    assert refusal(api.post(f"/products/{product.din}/qc-results", user="doc1",
                            json={"test": "viability", "value": "97"}), 403) == "forbidden"
    assert refusal(api.post(f"/products/{product.din}/qc-complete", user="tech2"),
                   409) == "qc_incomplete"
    assert refusal(api.post(f"/products/{product.din}/qc-complete", user="doc1"), 403)


# --- QA review and signed decisions --------------------------------------------------------------

def test_the_qa_queue_and_the_review_summary_show_the_product_awaiting_release(api):
    product = awaiting_release(api)

    queue = api.get("/qa/queue", user="qa1").json()
    review = api.get(f"/products/{product.din}/review", user="qa1").json()

    assert [i["din"] for i in queue] == [product.din]
    assert review["releasable"] is True and review["failed_tests"] == []
    assert refusal(api.get("/qa/queue", user="tech1"), 403) == "forbidden"
    assert refusal(api.get(f"/products/{product.din}/review", user="tech1"), 403)


def test_qa_releases_with_a_signature_bound_to_the_product(api):
    product = awaiting_release(api)
    acknowledge_exceptions(api, product.din)

    response = api.post(f"/products/{product.din}/release", user="qa1", json=SIGN)

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "released"
    assert [(s.meaning, s.printed_name) for s in signatures(api, product)] == [
        ("Released", "Maryam QA Reviewer")]


def test_a_wrong_password_at_release_signs_nothing_and_changes_nothing(api):
    product = awaiting_release(api)
    before = snapshot(api.session, product.din)

    response = api.post(f"/products/{product.din}/release", user="qa1",
                        json={"password": "not-my-password"})

    assert refusal(response, 403) == "signature_not_authenticated"
    assert "WWW-Authenticate" not in response.headers
    assert snapshot(api.session, product.din) == before
    assert audit_count(api.session, "signin_failed") == 1


def test_release_is_refused_to_a_technician_and_twice_to_qa(api):
    product = awaiting_release(api)

    assert refusal(api.post(f"/products/{product.din}/release", user="tech1",
                            json={"password": PASSWORDS["tech1"]}), 403) == "forbidden"
    acknowledge_exceptions(api, product.din)
    assert api.post(f"/products/{product.din}/release", user="qa1", json=SIGN).status_code == 200
    assert refusal(api.post(f"/products/{product.din}/release", user="qa1", json=SIGN),
                   409) == "invalid_transition"


def test_qa_rejects_with_a_reason_and_a_missing_reason_is_refused(api):
    product = awaiting_release(api)

    missing = api.post(f"/products/{product.din}/reject", user="qa1", json=SIGN)
    rejected = api.post(f"/products/{product.din}/reject", user="qa1",
                        json={**SIGN, "reason": "bag integrity doubtful"})

    assert refusal(missing, 422) == "invalid_input"
    assert rejected.json()["state"] == "rejected"


def test_a_failed_product_is_released_only_exceptionally_with_a_physicians_signature(api):
    product = awaiting_release(api, endotoxin="500")
    exceptional = {**SIGN, "justification": "no alternative product",
                   "physician": "doc2", "physician_password": PASSWORDS["doc2"]}
    path = f"/products/{product.din}/exceptional-release"

    assert refusal(api.post(f"/products/{product.din}/release", user="qa1", json=SIGN),
                   409) == "qc_failed"
    assert refusal(api.post(path, user="qa1", json={
        **exceptional, "physician": "tech1", "physician_password": PASSWORDS["tech1"]}),
        422) == "physician_approval_required"
    acknowledge_exceptions(api, product.din)
    released = api.post(path, user="qa1", json=exceptional)

    assert released.status_code == 200, released.text
    assert {s.meaning for s in signatures(api, product)} == {
        "Released", "Approved exceptional release"}


# --- dispositions ------------------------------------------------------------------------------

def test_a_product_is_held_resumed_and_discarded_by_the_roles_allowed(api):
    product = product_in(api, "received", "BM-MNC")
    path = f"/products/{product.din}"
    reason = {"reason": "centrifuge alarm under investigation"}

    held = api.post(f"{path}/hold", user="tech1", json=reason)
    assert held.json()["state"] == "on_hold" and held.json()["held_from"] == "received"
    assert refusal(api.post(f"{path}/resume", user="tech1", json=reason), 403) == "forbidden"
    assert api.post(f"{path}/resume", user="super1", json=reason).json()["state"] == "received"
    signed = {**reason, "password": PASSWORDS["qa1"]}
    assert refusal(api.post(f"{path}/discard", user="tech1", json=signed), 403)
    assert api.post(f"{path}/discard", user="qa1", json=signed).json()["state"] == "discarded"
    assert refusal(api.post(f"{path}/hold", user="tech1", json=reason),
                   409) == "invalid_transition"


def test_a_hold_without_a_reason_or_an_early_expiry_changes_nothing(api):
    product = product_in(api, "received", "BM-MNC")
    before = snapshot(api.session, product.din)

    assert refusal(api.post(f"/products/{product.din}/hold", user="tech1",
                            json={"reason": ""}), 422) == "invalid_input"
    assert refusal(api.post(f"/products/{product.din}/hold", user="tech1",
                            json={"reason": "   "}), 422) == "reason_required"
    assert refusal(api.post(f"/products/{product.din}/expire", user="tech1"),
                   409) == "product_not_expired"
    assert refusal(api.post("/products/X999900999999/hold", user="tech1",
                            json={"reason": "x"}), 404) == "not_found"
    assert snapshot(api.session, product.din) == before


# --- deviations and alerts -----------------------------------------------------------------------

def test_a_deviation_is_raised_listed_and_closed_by_qa_with_a_signature(api):
    product = product_in(api, "received", "BM-MNC")
    raised = api.post(f"/products/{product.din}/deviations", user="tech1", json={
        "step": "receive", "description": "bag received at 27 °C", "classification": "minor"})
    deviation_id = raised.json()["id"]
    close = f"/deviations/{deviation_id}/close"
    disposition = {"disposition": "no impact on cells", "password": PASSWORDS["qa1"]}

    assert raised.status_code == 201
    assert [d["id"] for d in api.get(f"/products/{product.din}/deviations",
                                     user="qa1").json()] == [deviation_id]
    assert refusal(api.post(close, user="tech1", json=disposition), 403) == "forbidden"
    assert refusal(api.post(close, user="qa1", json={**disposition, "password": "wrong-pw"}),
                   403) == "signature_not_authenticated"
    assert api.post(close, user="qa1", json=disposition).json()["status"] == "closed"
    assert refusal(api.post(close, user="qa1", json=disposition), 409) == "conflict"
    assert refusal(api.post("/deviations/999/close", user="qa1", json=disposition), 404)


def test_an_open_major_deviation_blocks_release(api):
    product = awaiting_release(api)
    api.post(f"/products/{product.din}/deviations", user="qa1", json={
        "step": "formulate", "description": "wrong diluent volume", "classification": "major"})

    response = api.post(f"/products/{product.din}/release", user="qa1", json=SIGN)

    assert refusal(response, 409) == "deviation_open"


def test_a_deviation_with_an_unknown_classification_is_refused(api):
    product = product_in(api, "received", "BM-MNC")

    response = api.post(f"/products/{product.din}/deviations", user="tech1", json={
        "step": "receive", "description": "x", "classification": "cosmic"})

    assert refusal(response, 422) == "invalid_input"
    assert refusal(api.post(f"/products/{product.din}/deviations", user="admin", json={
        "step": "receive", "description": "x", "classification": "minor"}), 403)


def test_a_culture_growing_after_release_raises_an_alert_that_qa_acknowledges(api):
    product = product_in(api, "released", "BM-MNC")
    grown = api.post(f"/products/{product.din}/qc-results", user="tech2",
                     json={"test": "sterility", "value": "growth"})
    alerts = api.get("/alerts", user="doc1").json()
    alert_id = alerts[0]["id"]
    path = f"/alerts/{alert_id}/acknowledge"

    assert grown.status_code == 201 and grown.json()["passed"] is False
    assert [a["product_id"] for a in alerts] == [product.id]
    assert refusal(api.post(path, user="tech1", json=SIGN), 403) == "forbidden"
    assert refusal(api.post(path, user="qa1", json={"password": "wrong-pw"}),
                   403) == "signature_not_authenticated"
    acknowledged = api.post(path, user="qa1", json={**SIGN, "note": "physician informed"})
    assert acknowledged.json()["acknowledged_at"] is not None
    assert refusal(api.post(path, user="qa1", json=SIGN), 409) == "alert_already_acknowledged"
    assert refusal(api.post("/alerts/999/acknowledge", user="qa1", json=SIGN), 404)
    api.session.commit()
    assert api.session.exec(select(Alert)).one().acknowledged_at is not None
