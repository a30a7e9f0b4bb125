"""Web pages over HTTP (no browser): QA closes a deviation from the review page, and the
step form shown after a scan refused in the Scan box still posts to its step."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import Session, select

from lims.demo import DemoRun
from lims.models import Deviation, Product, Signature
from lims.services.common import utcnow
from lims.services.deviations import raise_deviation
from lims.services.qc import complete_qc
from lims.services.release import release_product
from tests.api.web_client import acknowledge_exceptions, browser
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    enter_qc,
    make_product,
    scan_of,
    step_time,
)


def awaiting_with_a_deviation(session: Session, run: DemoRun) -> tuple[Product, int]:
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release",
                              t0=utcnow() - timedelta(hours=7))
    deviation = raise_deviation(session, actor=run.user("tech1"), din=product.din,
                                step="sediment", classification="major",
                                description="another patient's bag scanned by mistake")
    session.commit()
    assert deviation.id is not None
    return product, deviation.id


def deviation_row(session: Session, deviation_id: int) -> Deviation:
    row = session.get(Deviation, deviation_id, populate_existing=True)
    session.commit()  # the read ends before the app writes (SQLite)
    assert row is not None
    return row


def test_qa_closes_a_deviation_from_the_review_page_with_a_signature_and_then_releases(
        api_engine, lab):
    session, run = lab
    product, deviation_id = awaiting_with_a_deviation(session, run)
    qa, token = browser(api_engine, "qa1")
    close = {"csrf_token": token, "disposition": "bag removed; the right bag scanned",
             "impact_assessment": "none", "password": PASSWORDS["qa1"]}
    # the review page offers the open deviation for closing; release is refused meanwhile
    page = qa.get(f"/qa/{product.din}").text
    assert f"/qa/{product.din}/deviations/{deviation_id}/close" in page
    release = {"csrf_token": token, "decision": "release", "username": "qa1",
               "password": PASSWORDS["qa1"]}
    assert qa.post(f"/qa/{product.din}/decision", data=release).status_code == 409
    # a wrong password closes nothing
    wrong = qa.post(f"/qa/{product.din}/deviations/{deviation_id}/close",
                    data={**close, "password": "not-the-password"})
    assert wrong.status_code == 409
    assert deviation_row(session, deviation_id).status == "open"
    # with the password it is closed, signed "Closed", and release goes ahead
    closed = qa.post(f"/qa/{product.din}/deviations/{deviation_id}/close", data=close)
    assert closed.status_code == 303, closed.text[:500]
    row = deviation_row(session, deviation_id)
    assert (row.status, row.disposition) == ("closed", close["disposition"])
    signed = session.exec(select(Signature).where(Signature.record_type == "deviation",
                                                  Signature.record_id == str(row.id))).all()
    session.commit()
    assert [s.meaning for s in signed] == ["Closed"]
    assert acknowledge_exceptions(qa, token, product.din) >= 1
    released = qa.post(f"/qa/{product.din}/decision", data=release)
    assert released.status_code == 303, released.text[:500]


def test_a_deviation_of_another_product_is_not_closed_from_this_products_page(
        api_engine, lab):
    session, run = lab
    product, _ = awaiting_with_a_deviation(session, run)
    _, other_deviation = awaiting_with_a_deviation(session, run)
    qa, token = browser(api_engine, "qa1")

    response = qa.post(f"/qa/{product.din}/deviations/{other_deviation}/close", data={
        "csrf_token": token, "disposition": "closed from the wrong page",
        "password": PASSWORDS["qa1"]})

    assert response.status_code == 404
    assert deviation_row(session, other_deviation).status == "open"


def test_the_step_form_shown_after_a_scan_refused_in_the_scan_box_posts_to_its_step(
        api_engine, lab):
    # given a released syringe that now wears its final label (printed, scanned back)
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="formulated",
                              t0=utcnow() - timedelta(hours=7))
    in_process = scan_of(session, product, "final_product", "in_use")
    enter_qc(run, product)
    at = step_time(product, "complete_qc")
    complete_qc(session, actor=run.user("tech2"), din=product.din, now=at)
    acknowledge_all(run, product, at=at + timedelta(minutes=14))
    product = release_product(session, actor=run.user("qa1"), din=product.din,
                              password=PASSWORDS["qa1"], now=at + timedelta(minutes=15))
    run.label_all(product)
    session.commit()
    tech, token = browser(api_engine, "tech1")
    # when its old in-process label is scanned into the Scan box
    page = tech.post("/scan", data={"csrf_token": token, "code": in_process})
    # then the issue step refuses it, and its form posts to the issue step, not to /scan
    assert page.status_code == 409
    assert "SUPERSEDED LABEL" in page.text and "WRONG LABEL" in page.text
    forms = re.findall(r'<form method="post"([^>]*)class="stepform"', page.text)
    assert forms and all(f'action="/products/{product.din}/steps/issue"' in f for f in forms)
