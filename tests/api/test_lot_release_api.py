"""Over HTTP: lots registered into quarantine, released or rejected by QA, refused at a step
until released; equipment calibration recorded; and the lot and equipment pages (no browser)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from lims.app import create_app
from lims.audit_actions import AuditAction
from lims.models import Equipment, ReagentLot
from lims.services.materials import site_today
from tests.api.conftest import product_in, refusal
from tests.api.test_materials_and_balance import perform, values_with
from tests.api.web_client import browser, csrf_token
from tests.factories import audit_count, snapshot

QA_NAME = "Maryam QA Reviewer"  # qa1, seed/demo.toml
LOT = {"reagent": "Ficoll-Paque PREMIUM 1.077", "lot": "FP2611",
       "material": "density_gradient_medium", "expires_on": "2030-06-30",
       "manufacturer": "Cytiva"}


def test_a_lot_registered_over_the_api_waits_in_quarantine_until_qa_releases_it(api):
    # given a supervisor registers a new Ficoll lot
    created = api.post("/reagent-lots", user="super1", json=LOT)
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["received_on"]) == (
        "quarantine", site_today().isoformat())
    product = product_in(api, "rbc_reduced", "BM-MNC")
    before = snapshot(api.session, product.din)

    # when it is entered in a step before QA released it: refused, nothing written
    held = perform(api, product, "isolate_mnc",
                   values=values_with(product, "isolate_mnc", medium_lot="FP2611"))
    assert refusal(held, 422) == "reagent_not_released"
    assert "is in quarantine: QA has not released it for use" in held.json()["detail"]
    assert snapshot(api.session, product.din) == before

    # when QA releases it, the step takes it
    released = api.post("/reagent-lots/FP2611/release", user="qa1",
                        json={"reason": "CoA checked"})
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["status_reason"]) == (
        "released", "CoA checked")
    done = perform(api, product, "isolate_mnc",
                   values=values_with(product, "isolate_mnc", medium_lot="FP2611"))
    assert done.status_code == 200, done.text


def test_the_lots_are_listed_by_status(api):
    api.post("/reagent-lots", user="super1", json=LOT)

    quarantined = api.get("/reagent-lots?status=quarantine", user="tech1").json()
    released = api.get("/reagent-lots?status=released", user="tech1").json()

    assert [row["lot"] for row in quarantined] == ["FP2611"]
    assert "FP2404" in {row["lot"] for row in released}
    assert "FP2611" not in {row["lot"] for row in released}


def test_a_received_date_ahead_of_today_is_refused(api):
    tomorrow = (site_today() + timedelta(days=1)).isoformat()

    response = api.post("/reagent-lots", user="super1", json={**LOT, "received_on": tomorrow})

    assert refusal(response, 422) == "invalid_input"
    assert "is in the future" in response.json()["detail"]


def test_a_rejection_needs_a_reason_and_only_qa_decides(api):
    api.post("/reagent-lots", user="super1", json=LOT)

    assert refusal(api.post("/reagent-lots/FP2611/reject", user="qa1", json={}),
                   422) == "reason_required"
    assert refusal(api.post("/reagent-lots/FP2611/release", user="super1", json={}),
                   403) == "forbidden"
    assert refusal(api.post("/reagent-lots/FP0000/release", user="qa1", json={}),
                   404) == "not_found"
    rejected = api.post("/reagent-lots/FP2611/reject", user="qa1",
                        json={"reason": "seal broken"})
    assert rejected.json()["status"] == "rejected"
    assert refusal(api.post("/reagent-lots/FP2611/release", user="qa1", json={}),
                   409) == "conflict"


def test_a_calibration_is_recorded_over_the_api(api):
    due = (site_today() + timedelta(days=180)).isoformat()

    recorded = api.post("/equipment/CF-02/calibration", user="super1",
                        json={"calibration_due": due, "reason": "calibrated, CAL-114"})
    too_early = api.post("/equipment/CF-01/calibration", user="super1",
                         json={"calibration_due": site_today().isoformat(),
                               "reason": "calibrated"})
    by_qa = api.post("/equipment/CF-01/calibration", user="qa1",
                     json={"calibration_due": due, "reason": "calibrated"})

    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["calibration_due"] == due
    assert refusal(too_early, 422) == "invalid_input"
    assert "must be later than today" in too_early.json()["detail"]
    assert refusal(by_qa, 403) == "forbidden"
    assert audit_count(api.session, AuditAction.EQUIPMENT_CALIBRATION_RECORDED) == 1


# --- the web pages over HTTP -----------------------------------------------------------------

def admin_browser(engine: Engine) -> tuple[TestClient, str]:
    """The administrator signed in (the demo password table lacks the admin's)."""
    client = TestClient(create_app(engine, jobs=False), follow_redirects=False)
    signed = client.post("/login", data={"csrf_token": csrf_token(client.get("/login").text),
                                         "username": "admin", "password": "demo-admin-pass"})
    assert signed.status_code == 303, signed.text[:300]
    return client, csrf_token(client.get("/admin/lots").text)


def row_of(html: str, key: str) -> str:
    found = re.search(rf'<tr[^>]*data-(?:lot|code)="{re.escape(key)}".*?</tr>', html, re.S)
    assert found is not None, html[:3000]
    return found.group(0)


def test_lots_are_registered_and_released_on_the_lots_page(api_engine, lab):
    session, _run = lab
    session.commit()  # every transaction takes SQLite's write lock: end the fixture's read
    supervisor, token = browser(api_engine, "super1")

    registered = supervisor.post("/admin/lots", data={
        "csrf_token": token, "material": "filter", "reagent": "Marrow filter set",
        "lot": "FLT2611", "manufacturer": "Baxter", "grade": "GMP",
        "expires_on": "2030-06-30", "received_on": ""})
    assert registered.status_code == 303, registered.text[:1500]
    page = supervisor.get(registered.headers["location"])
    assert "Lot FLT2611 (Marrow filter set) registered: in quarantine" in page.text
    row = row_of(page.text, "FLT2611")
    assert "marrow filter" in row and "in quarantine" in row
    assert "Release for use" not in page.text  # the supervisor does not release

    qa, qa_token = browser(api_engine, "qa1")
    assert 'method="post" action="/admin/lots"' not in qa.get("/admin/lots").text  # no register
    released = qa.post("/admin/lots/release", data={"csrf_token": qa_token, "lot": "FLT2611",
                                                    "reason": ""})
    assert released.status_code == 303, released.text[:1500]
    row = row_of(qa.get("/admin/lots?status=released").text, "FLT2611")
    assert "released for use" in row and QA_NAME in row
    assert session.exec(select(ReagentLot.status).where(
        ReagentLot.lot == "FLT2611")).one() == "released"


def test_a_refused_lot_shows_the_refusal_with_the_form_as_typed(api_engine):
    supervisor, token = browser(api_engine, "super1")

    refused = supervisor.post("/admin/lots", data={
        "csrf_token": token, "material": "filter", "reagent": "Marrow filter set",
        "lot": "FLT2612", "expires_on": "2030-06-30",
        "received_on": (site_today() + timedelta(days=2)).isoformat()})

    assert refused.status_code == 422
    assert "is in the future" in refused.text
    assert 'value="FLT2612"' in refused.text and 'value="Marrow filter set"' in refused.text
    assert '<option value="filter" selected>' in refused.text


def test_a_rejection_without_a_reason_is_refused_on_the_page(api_engine, lab):
    session, _run = lab
    session.commit()  # every transaction takes SQLite's write lock: end the fixture's read
    supervisor, token = browser(api_engine, "super1")
    supervisor.post("/admin/lots", data={
        "csrf_token": token, "material": "filter", "reagent": "Marrow filter set",
        "lot": "FLT2613", "expires_on": "2030-06-30"})
    qa, qa_token = browser(api_engine, "qa1")

    refused = qa.post("/admin/lots/reject", data={"csrf_token": qa_token, "lot": "FLT2613",
                                                  "reason": ""})

    assert refused.status_code == 422 and "Say why lot FLT2613 is rejected" in refused.text
    assert session.exec(select(ReagentLot.status).where(
        ReagentLot.lot == "FLT2613")).one() == "quarantine"


def test_who_opens_the_master_data_pages_and_who_acts_on_them(api_engine):
    technician, tech_token = browser(api_engine, "tech1")
    supervisor, token = browser(api_engine, "super1")
    admin, admin_token = admin_browser(api_engine)

    assert technician.get("/admin/lots").status_code == 403
    assert technician.get("/admin/equipment").status_code == 403
    assert browser(api_engine, "doc1")[0].get("/admin/lots").status_code == 403
    for client in (supervisor, admin, browser(api_engine, "qa1")[0]):
        assert client.get("/admin/lots").status_code == 200
        assert client.get("/admin/equipment").status_code == 200
    assert supervisor.post("/admin/lots/release", data={
        "csrf_token": token, "lot": "FP2404"}).status_code == 403
    assert admin.post("/admin/lots/reject", data={
        "csrf_token": admin_token, "lot": "FP2404", "reason": "x"}).status_code == 403
    assert technician.post("/admin/equipment/calibration", data={
        "csrf_token": tech_token, "code": "CF-02", "calibration_due": "2030-01-01",
        "reason": "x"}).status_code == 403


def test_equipment_page_marks_overdue_calibration_and_records_a_new_one(api_engine, lab):
    session, _run = lab
    session.commit()  # every transaction takes SQLite's write lock: end the fixture's read
    supervisor, token = browser(api_engine, "super1")
    page = supervisor.get("/admin/equipment").text
    assert "bad-row" in row_of(page, "CF-02") and "overdue" in row_of(page, "CF-02")
    assert "bad-row" not in row_of(page, "CF-01")
    due = (site_today() + timedelta(days=365)).isoformat()

    recorded = supervisor.post("/admin/equipment/calibration", data={
        "csrf_token": token, "code": "CF-02", "calibration_due": due,
        "reason": "calibrated, certificate CAL-114"})

    assert recorded.status_code == 303, recorded.text[:1500]
    page = supervisor.get(recorded.headers["location"]).text
    assert f"Calibration of CF-02 recorded: next due {due}" in page
    assert "bad-row" not in row_of(page, "CF-02")
    assert session.exec(select(Equipment.calibration_due).where(
        Equipment.code == "CF-02")).one() == date.fromisoformat(due)


def test_equipment_registered_on_the_page_and_a_refusal_keeps_the_form(api_engine):
    admin, token = admin_browser(api_engine)

    refused = admin.post("/admin/equipment", data={
        "csrf_token": token, "code": "XX-01", "kind": "Toaster", "serial": "T-1",
        "calibration_due": "2030-01-01"})
    registered = admin.post("/admin/equipment", data={
        "csrf_token": token, "code": "CF-03", "kind": "Centrifuge Rotanta 460",
        "serial": "CF-0003", "calibration_due": "2030-01-01"})

    assert refused.status_code == 422 and "names no known type" in refused.text
    assert 'value="XX-01"' in refused.text and 'value="Toaster"' in refused.text
    assert registered.status_code == 303, registered.text[:1500]
    assert "centrifuge" in row_of(admin.get("/admin/equipment").text, "CF-03")
