"""Every refused scan is recorded from the web too: the scan box on every page records what
it cannot open, and a step form's refused scan is stored escaped and bounded."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from lims.models import CoiEvent, Product
from lims.services.common import utcnow
from tests.api.web_client import browser
from tests.factories import make_product


def _events(session) -> list[CoiEvent]:
    session.commit()
    events = list(session.exec(select(CoiEvent).order_by(col(CoiEvent.id))))
    session.commit()
    return events


def test_a_look_alike_in_the_scan_box_is_named_and_recorded_escaped(api_engine, lab):
    session, _ = lab
    session.commit()  # the test's read ends before the app writes (SQLite)
    tech, token = browser(api_engine, "tech1")

    page = tech.post("/scan", data={"csrf_token": token, "code": "=Х999926000003T0"})

    assert page.status_code == 400
    assert "Cyrillic capital letter Ha" in page.text and "position 2" in page.text
    [event] = _events(session)
    assert (event.step, event.code, event.product_id) == ("scan_box", "coi_bad_scan", None)
    assert event.scanned == "=\\u0425999926000003T0 [16 characters, escaped]"


def test_a_nul_in_the_scan_box_is_recorded_escaped(api_engine, lab):
    session, _ = lab
    session.commit()  # the test's read ends before the app writes (SQLite)
    tech, token = browser(api_engine, "tech1")

    page = tech.post("/scan", data={"csrf_token": token, "code": "=X9999\x00"})

    assert page.status_code == 400 and "NUL control character" in page.text
    assert _events(session)[-1].scanned == "=X9999\\x00 [7 characters, escaped]"


def test_an_unknown_din_in_the_scan_box_is_recorded(api_engine, lab):
    session, _ = lab
    session.commit()  # the test's read ends before the app writes (SQLite)
    tech, token = browser(api_engine, "tech1")

    page = tech.post("/scan", data={"csrf_token": token, "code": "X999999999999"})

    assert page.status_code == 404
    assert [(e.step, e.code) for e in _events(session)] == [("scan_box", "coi_unknown_din")]


def test_a_10000_character_scan_on_a_step_form_is_recorded_bounded(api_engine, lab):
    session, run = lab
    product, _ = make_product(run, arm="BM-MNC", until="collected",
                              t0=utcnow() - timedelta(hours=7))
    session.commit()
    tech, token = browser(api_engine, "tech1")

    page = tech.post(f"/products/{product.din}/steps/receive",
                     data={"csrf_token": token, "scan": "=" + "A" * 9999, "action": "check"})

    assert page.status_code in (200, 409, 422), page.text[:300]
    [event] = [e for e in _events(session) if e.product_id == product.id]
    assert (event.step, event.code) == ("receive", "coi_bad_scan")
    assert len(event.scanned) <= 500 and event.scanned.endswith("… [10000 characters]")


def test_a_nul_in_a_web_hold_reason_is_refused_named_and_nothing_is_stored(api_engine, lab):
    # given a received product and a supervisor's browser
    session, run = lab
    product, _ = make_product(run, arm="CD133", until="received")
    din, state = product.din, product.state
    session.commit()
    supervisor, token = browser(api_engine, "super1")

    # when the hold reason carries a NUL (PostgreSQL cannot even store one)
    page = supervisor.post(f"/products/{din}/disposition/hold",
                           data={"csrf_token": token, "reason": "bag\x00 leaking"})

    # then the form is refused with the character named, and the product is not held
    assert page.status_code == 422, page.status_code
    assert "NUL control character" in page.text and "position 4" in page.text
    session.commit()
    assert session.exec(select(Product.state).where(Product.din == din)).one() == state
