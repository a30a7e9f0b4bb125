"""QA's acknowledgement of each review exception over HTTP: the API and the review page."""

from __future__ import annotations

from sqlmodel import select

from lims.models import ReviewAcknowledgement
from lims.services.review_acknowledgements import unacknowledged
from tests.api.conftest import refusal
from tests.api.test_quality import SIGN, awaiting_release, signatures
from tests.api.web_client import browser
from tests.factories import PASSWORDS, audit_count, make_product, snapshot
from workflows.review_acknowledgements import exception_key


def exceptions(api, product, user="qa1"):
    response = api.get(f"/products/{product.din}/review/exceptions", user=user)
    assert response.status_code == 200, response.text
    return response.json()


def acknowledge(api, product, key, comment="", user="qa1"):
    return api.post(f"/products/{product.din}/review/exceptions/{key}/acknowledgement",
                    user=user, json={"comment": comment})


def test_qa_lists_acknowledges_then_releases(api):
    product = awaiting_release(api)
    listed = exceptions(api, product)
    assert listed["remaining"] == 1
    [pending] = listed["exceptions"]
    assert pending["kind"] == "pending" and pending["needs_comment"] is False
    assert pending["acknowledgement"] is None
    assert pending["key"] == exception_key("pending", pending["text"])

    before = snapshot(api.session, product.din)
    blocked = api.post(f"/products/{product.din}/release", user="qa1", json=SIGN)
    assert refusal(blocked, 409) == "exceptions_not_acknowledged"
    assert "1 exception remains to acknowledge" in blocked.json()["detail"]
    assert snapshot(api.session, product.din) == before and signatures(api, product) == []

    acknowledged = acknowledge(api, product, pending["key"])
    assert acknowledged.status_code == 201, acknowledged.text
    assert acknowledged.json()["acknowledgement"]["printed_name"] == "Maryam QA Reviewer"
    assert exceptions(api, product)["remaining"] == 0
    released = api.post(f"/products/{product.din}/release", user="qa1", json=SIGN)
    assert released.status_code == 200, released.text


def test_a_result_out_of_specification_needs_a_comment(api):
    product = awaiting_release(api, viability="60")
    out = next(e for e in exceptions(api, product)["exceptions"] if e["kind"] == "out_of_spec")
    assert out["needs_comment"] is True
    before = audit_count(api.session)

    assert refusal(acknowledge(api, product, out["key"]), 422) == "comment_required"
    assert refusal(acknowledge(api, product, out["key"], "x" * 2001), 422) == "invalid_input"
    assert audit_count(api.session) == before

    assert acknowledge(api, product, out["key"], "known; exceptional release planned"
                       ).status_code == 201


def test_only_qa_acknowledges_and_a_stale_or_malformed_key_is_refused(api):
    product = awaiting_release(api)
    key = exceptions(api, product)["exceptions"][0]["key"]

    assert refusal(acknowledge(api, product, key, user="super1"), 403) == "forbidden"
    assert refusal(acknowledge(api, product, key, user="tech1"), 403) == "forbidden"
    assert refusal(acknowledge(api, product, "0" * 64), 409) == "exception_not_current"
    assert refusal(acknowledge(api, product, "not-a-key"), 422) == "invalid_input"
    assert refusal(api.post(f"/products/{product.din}/review/exceptions/{key}/acknowledgement",
                            user="qa1", json={"comment": "", "extra": 1}), 422)
    assert refusal(api.get(f"/products/{product.din}/review/exceptions", user="tech1"), 403)
    assert exceptions(api, product, user="super1")["remaining"] == 1
    api.session.commit()
    assert api.session.exec(select(ReviewAcknowledgement)).all() == []


# --- the review page ----------------------------------------------------------------------

def test_the_review_page_locks_the_release_until_each_exception_is_acknowledged(
        api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    session.commit()
    qa, token = browser(api_engine, "qa1")

    page = qa.get(f"/qa/{product.din}").text
    assert "autofocus" not in page and " checked" not in page
    assert '<fieldset id="release-block" disabled>' in page
    assert "1 exception remains to acknowledge" in page
    assert f'href="/products/{product.din}/batch-record.pdf"' in page

    # a release posted anyway, and a post without a decision, are refused
    sign = {"csrf_token": token, "username": "qa1", "password": PASSWORDS["qa1"]}
    assert qa.post(f"/qa/{product.din}/decision", data=sign).status_code == 422
    refused = qa.post(f"/qa/{product.din}/decision", data={**sign, "decision": "release"})
    assert refused.status_code == 409 and "remains to acknowledge" in refused.text

    [item] = unacknowledged(session, product)
    session.commit()
    done = qa.post(f"/qa/{product.din}/exceptions/{item.key}/acknowledge",
                   data={"csrf_token": token, "comment": ""})
    assert done.status_code == 303
    after = qa.get(done.headers["location"]).text
    assert '<fieldset id="release-block">' in after and "Acknowledged</span> by Maryam" in after

    released = qa.post(f"/qa/{product.din}/decision", data={**sign, "decision": "release"})
    assert released.status_code == 303, released.text[:2000]


def test_a_rejection_from_the_review_page_needs_no_acknowledgement(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    session.commit()
    qa, token = browser(api_engine, "qa1")

    rejected = qa.post(f"/qa/{product.din}/decision", data={
        "csrf_token": token, "decision": "reject", "reason": "bag damaged",
        "username": "qa1", "password": PASSWORDS["qa1"]})

    assert rejected.status_code == 303, rejected.text[:2000]
