"""Notifications over HTTP: the API listing and resending, the users' e-mail addresses, the
patients' treating physician, and the web UI's banner and notifications page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lims.app import create_app
from lims.config import get_settings
from lims.jobs import run_once
from lims.security import issue_token
from lims.services.common import user_by_name
from lims.services.qc import record_qc_result
from tests.api.conftest import Api, product_in, refusal
from tests.factories import PASSWORDS, qc_sample_of
from tests.mail_server import Inbox
from workflows.eligibility import complete_checklist


def culture_grows_after_release(api: Api) -> str:
    product = product_in(api, "released")
    record_qc_result(api.session, actor=api.run.user("tech2"), din=product.din,
                     test="sterility", value="growth", reason="culture read on day 3",
                     **qc_sample_of(api.session, product.din, "sterility"))
    api.session.commit()
    return product.din


def test_qa_lists_the_notifications_with_their_delivery_state(api: Api):
    din = culture_grows_after_release(api)

    listed = api.get("/notifications", user="qa1")

    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert {n["recipient"] for n in body} == {"doc1", "qa1"}
    assert {(n["din"], n["status"], n["undelivered"], n["attempts"]) for n in body} == {
        (din, "pending", True, 0)}
    assert all("Sterility culture" in n["subject"] for n in body)
    for role_user in ("doc1", "admin"):
        assert api.get("/notifications", user=role_user).status_code == 200
    assert refusal(api.get("/notifications", user="tech1"), 403) == "forbidden"


def test_delivered_notifications_leave_the_undelivered_list(api: Api, mail_server: Inbox):
    din = culture_grows_after_release(api)

    run_once(api.client.app.state.engine)  # type: ignore[attr-defined]

    assert api.get("/notifications?undelivered=true", user="qa1").json() == []
    sent = api.get(f"/notifications?din={din}", user="qa1").json()
    assert {n["status"] for n in sent} == {"sent"} and len(mail_server.messages) == 2


def test_a_failed_notification_is_resent_through_the_api(api: Api, refusing_mail_server: Inbox,
                                                          monkeypatch):
    monkeypatch.setenv("LIMS_NOTIFICATION_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    culture_grows_after_release(api)
    run_once(api.client.app.state.engine)  # type: ignore[attr-defined]
    failed = api.get("/notifications?undelivered=true", user="qa1").json()
    assert {n["status"] for n in failed} == {"failed"}
    assert all("554" in n["last_error"] for n in failed)

    again = api.post(f"/notifications/{failed[0]['id']}/resend", user="qa1")
    twice = api.post(f"/notifications/{failed[0]['id']}/resend", user="qa1")

    assert again.status_code == 200 and again.json()["status"] == "pending"
    assert refusal(twice, 409) == "invalid_transition"
    assert refusal(api.post(f"/notifications/{failed[1]['id']}/resend", user="doc1"),
                   403) == "forbidden"


def test_an_administrator_gives_users_an_e_mail_address(api: Api):
    created = api.post("/users", user="admin", json={
        "username": "qa2", "full_name": "Second QA", "role": "qa",
        "password": "a-long-enough-password-2", "email": "qa2@lab.invalid"})
    changed = api.request("PATCH", "/users/qa2", user="admin",
                          json={"email": " reviewer@lab.invalid "})
    wrong = api.request("PATCH", "/users/qa2", user="admin", json={"email": "not an address"})

    assert created.status_code == 201 and created.json()["email"] == "qa2@lab.invalid"
    assert changed.status_code == 200 and changed.json()["email"] == "reviewer@lab.invalid"
    assert refusal(wrong, 422) == "invalid_input"
    assert refusal(api.request("PATCH", "/users/qa2", user="qa1", json={"email": ""}),
                   403) == "forbidden"


def patient_body(n: int, **more: object) -> dict[str, object]:
    return {"subject_id": f"API-{n}", "mrn": f"88{n:05d}", "date_of_birth": "1961-05-04",
            "name": f"Api Patient {n}", "sex": "F", "weight_kg": 64.0,
            "consent_date": (date.today() - timedelta(days=3)).isoformat(), "arm": "CD133",
            "eligibility": complete_checklist(),
            "infectious_markers": {"HIV": "negative", "HBV": "negative", "HCV": "negative"},
            "checked_by": "doc2", "checked_by_password": PASSWORDS["doc2"], **more}


def test_a_patient_is_enrolled_with_a_treating_physician(api: Api):
    enrolled = api.post("/patients", user="doc1", json=patient_body(1,
                                                                   treating_physician="doc2"))

    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["treating_physician"] == "doc2"
    assert api.get("/patients/API-1", user="qa1").json()["treating_physician"] == "doc2"


@pytest.mark.parametrize("who", ["tech1", "nobody"])
def test_the_treating_physician_must_be_an_active_physician(api: Api, who: str):
    refused = api.post("/patients", user="doc1", json=patient_body(2, treating_physician=who))

    assert refusal(refused, 422) == "treating_physician_invalid"
    assert "must be an active physician" in refused.json()["detail"]
    assert api.get("/patients/API-2", user="qa1").status_code == 404


# --- the web UI ------------------------------------------------------------------------------

@pytest.fixture
def web(api_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine=api_engine), follow_redirects=False) as client:
        yield client


def page(api: Api, web: TestClient, path: str, username: str) -> str:
    user_id = user_by_name(api.session, username).id
    api.session.commit()
    assert user_id is not None
    web.cookies.clear()
    web.cookies.set("lims_session", issue_token(get_settings().secret_key, user_id, "session"))
    response = web.get(path)
    assert response.status_code == 200, response.text[:500]
    return response.text


def test_qa_and_physicians_see_open_alerts_and_undelivered_notifications_on_every_page(
        api: Api, web: TestClient, no_mail_server: int):
    din = culture_grows_after_release(api)
    run_once(api.client.app.state.engine)  # type: ignore[attr-defined]

    for username in ("qa1", "doc1"):
        html = page(api, web, "/", username)
        assert 'class="attention"' in html
        test = "Sterility culture (aerobic/anaerobic/fungal)"  # the QC test as the lab names it
        assert f'<a href="/products/{din}">{din}</a>: {test} result' in html
        assert "2 notifications not delivered" in html and "could not be reached" in html
    assert 'class="attention"' not in page(api, web, "/", "tech1")


def test_the_notifications_page_shows_each_delivery_state(api: Api, web: TestClient,
                                                          mail_server: Inbox):
    din = culture_grows_after_release(api)
    pending = page(api, web, "/notifications", "qa1")
    run_once(api.client.app.state.engine)  # type: ignore[attr-defined]
    sent = page(api, web, "/notifications", "qa1")

    assert f'href="/products/{din}"' in pending and pending.count(">pending<") == 2
    assert "sent" in sent and ">pending<" not in sent
    # and the product page says who was told
    product_page = page(api, web, f"/products/{din}", "tech1")
    assert "e-mail to Dr. Ali Physician &lt;doc1@lab.invalid&gt;" in product_page
    # delivered and no alert acknowledged: the banner still shows the open alert only
    assert "not delivered" not in sent and "not yet acknowledged" in sent


def test_a_fresh_notification_is_on_its_way_not_yet_a_banner_item(api: Api, web: TestClient):
    culture_grows_after_release(api)

    html = page(api, web, "/", "qa1")

    # within the grace period (5 min) a queued notification is simply on its way
    assert "not delivered" not in html and "not yet acknowledged" in html


def test_qa_sends_a_failed_notification_again_from_the_notifications_page(
        api: Api, web: TestClient, refusing_mail_server: Inbox, monkeypatch):
    # given notifications that failed for good
    monkeypatch.setenv("LIMS_NOTIFICATION_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    culture_grows_after_release(api)
    run_once(api.client.app.state.engine)  # type: ignore[attr-defined]
    html = page(api, web, "/notifications?undelivered=true", "qa1")
    assert html.count(">FAILED<") == 2 and "554" in html
    form = re.search(r'action="/notifications/(\d+)/resend".*?name="csrf_token" value="([^"]+)"',
                     html, re.S)
    assert form is not None
    # when QA sends one again
    response = web.post(f"/notifications/{form.group(1)}/resend",
                        data={"csrf_token": form.group(2)})
    # then it is pending again, and the page says so
    assert response.status_code == 303
    again = page(api, web, response.headers["location"], "qa1")
    assert "queued again" in again and again.count(">FAILED<") == 1
    assert again.count(">pending<") == 1
