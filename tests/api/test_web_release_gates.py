"""The web pages of the safety gates over HTTP (no browser): the bedside STOP, the QA
re-release decision and the verification of a corrected QC result."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from lims.demo import DemoRun
from lims.models import Product, QcResult
from lims.services.common import utcnow
from lims.services.qc import record_qc_result
from tests.api.web_client import acknowledge_exceptions, browser
from tests.factories import PASSWORDS, make_product, qc_sample_of


def fresh(session: Session, model, key):
    """The row as the database holds it; the read ends before the app writes (SQLite)."""
    row = session.get(model, key, populate_existing=True)
    session.commit()
    return row


def suspended(session: Session, run: DemoRun, state: str = "released") -> Product:
    product, _ = make_product(run, arm="BM-MNC", until=state,
                              t0=utcnow() - timedelta(hours=7))
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="500", reason="dilution factor omitted",
                     **qc_sample_of(session, product.din, "endotoxin"))
    session.commit()
    return product


def test_the_product_page_and_the_bedside_step_show_a_stop_for_a_suspended_product(
        api_engine, lab):
    session, run = lab
    product = suspended(session, run, "issued")
    client, _ = browser(api_engine, "doc1")

    page = client.get(f"/products/{product.din}")
    bedside = client.get(f"/products/{product.din}/steps/administer")
    landed = client.get(bedside.headers["location"]) if bedside.status_code == 303 else bedside

    assert "STOP — RELEASE SUSPENDED" in page.text
    assert "STOP — RELEASE SUSPENDED" in landed.text
    assert "Do not issue or administer" in landed.text


def test_a_product_released_normally_shows_no_stop(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    client, _ = browser(api_engine, "tech1")

    assert "RELEASE SUSPENDED" not in client.get(f"/products/{product.din}").text


def test_qa_re_releases_from_the_review_page_only_after_a_verified_correction(api_engine, lab):
    # given a suspended product whose endotoxin was corrected back within specification
    session, run = lab
    product = suspended(session, run)
    corrected = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                                 test="endotoxin", value="0.12", reason="repeat test",
                                 **qc_sample_of(session, product.din, "endotoxin"))
    session.commit()
    qa, token = browser(api_engine, "qa1")
    decision = {"csrf_token": token, "decision": "re_release", "username": "qa1",
                "password": PASSWORDS["qa1"], "reason": "verified correction"}
    # the review page offers re-release, and refuses it while the correction is unverified
    assert 'value="re_release"' in qa.get(f"/qa/{product.din}").text
    refused = qa.post(f"/qa/{product.din}/decision", data=decision)
    assert refused.status_code == 409 and "awaiting verification" in refused.text
    # the QC page shows the correction awaiting verification; a supervisor verifies it
    supervisor, super_token = browser(api_engine, "super1")
    assert "Corrections awaiting verification" in supervisor.get(
        f"/products/{product.din}/qc").text
    verified = supervisor.post(f"/products/{product.din}/qc/{corrected.id}/verify", data={
        "csrf_token": super_token, "username": "super1", "password": PASSWORDS["super1"],
        "note": "raw data checked"})
    assert verified.status_code == 303, verified.text[:500]
    assert fresh(session, QcResult, corrected.id).verified_at is not None
    # then QA acknowledges each exception on the review page and re-releases it
    assert acknowledge_exceptions(qa, token, product.din) >= 1
    released = qa.post(f"/qa/{product.din}/decision", data=decision)
    assert released.status_code == 303, released.text[:500]
    assert fresh(session, Product, product.id).state == "released"
