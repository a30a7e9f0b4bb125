"""The audit trail for an inspector: GET /api/v1/audit/events and the /audit page, both
filtered by product, user, action and period through one query service."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from lims.app import create_app
from lims.models import Product
from lims.services.common import utcnow
from tests.api.conftest import Api, product_in, refusal
from tests.factories import PASSWORDS
from workflows.isbt128 import parse_din


def two_products(api: Api) -> tuple[Product, Product]:
    return product_in(api, "received", "BM-MNC"), product_in(api, "collected", "CD133")


def events(api: Api, reader: str = "qa1", **params: object) -> dict:
    response = api.get("/audit/events", user=reader, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_filtering_by_din_gives_the_products_own_events_and_none_of_another(api):
    first, second = two_products(api)

    found = events(api, din=first.din, per_page=500)

    assert found["total"] == len(found["events"]) > 5
    assert {"product_created", "state_changed", "step_recorded", "label_printed",
            "container_created"} <= {e["action"] for e in found["events"]}
    assert not any(second.din in (e["entity_id"] + (e["new"] or "")) for e in found["events"])
    assert all(e["entity_id"] == first.din or e["entity_id"].startswith(f"{first.din}/")
               or e["entity"] == "step_record" for e in found["events"])


def test_each_event_reads_with_full_name_words_both_times_and_the_change(api):
    first, _ = two_products(api)

    found = events(api, din=first.din, action="state_changed")

    assert found["total"] == 2  # scheduled → collected → received
    line = found["events"][-1]
    assert line["action_words"] == "product state changed"
    assert line["change"] == "collected → received"
    assert line["full_name"] and line["full_name"] != line["username"]
    assert line["at_utc"].endswith(("Z", "+00:00")) and "+03:30" in line["at_local"]


def test_filters_by_user_action_and_period_combine(api):
    two_products(api)
    today = utcnow().date()

    by_tech1 = events(api, user="tech1")
    labels = events(api, action="label_printed", per_page=500)
    in_period = events(api, **{"from": str(today - timedelta(days=1)),
                               "to": str(today + timedelta(days=1))})
    before = events(api, **{"to": str(today - timedelta(days=2))})

    assert by_tech1["total"] > 0
    assert {e["username"] for e in by_tech1["events"]} == {"tech1"}
    assert labels["total"] > 0
    assert {e["action"] for e in labels["events"]} == {"label_printed"}
    assert in_period["total"] == events(api)["total"] > 0
    assert before["total"] == 0


def test_pages_follow_each_other_in_chain_order(api):
    two_products(api)

    first = events(api, per_page=5, page=1)
    second = events(api, per_page=5, page=2)

    assert first["pages"] == -(-first["total"] // 5) and first["pages"] > 2
    seqs = [e["seq"] for e in first["events"] + second["events"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10


def test_only_qa_and_administrators_read_the_trail_and_bad_filters_are_refused(api):
    two_products(api)

    assert refusal(api.get("/audit/events", user="tech1"), 403) == "forbidden"
    assert events(api, reader="admin")["total"] > 0
    assert refusal(api.get("/audit/events", user="qa1", params={"din": "X999926999999"}),
                   404) == "not_found"
    assert refusal(api.get("/audit/events", user="qa1", params={"action": "deleted"}),
                   422) == "invalid_input"
    backwards = api.get("/audit/events", user="qa1", params={"from": "2026-11-30",
                                                              "to": "2026-11-01"})
    assert refusal(backwards, 422) == "invalid_input"
    assert "swap the dates" in backwards.json()["detail"]


# --- the page ---------------------------------------------------------------------------------

SIGN_IN = {**PASSWORDS, "admin": "demo-admin-pass"}  # seed/demo.toml

def signed_in(api: Api, username: str) -> TestClient:
    client = TestClient(create_app(api.client.app.state.engine, jobs=False),  # type: ignore[attr-defined]
                        follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    api.session.commit()
    signed = client.post("/login", data={"csrf_token": token.group(1), "username": username,
                                         "password": SIGN_IN[username]})
    assert signed.status_code == 303, signed.text[:300]
    return client


def test_the_audit_page_shows_the_filtered_rows_to_qa_with_a_link_in_the_nav(api):
    first, second = two_products(api)
    browser = signed_in(api, "qa1")

    page = browser.get("/audit", params={"din": first.din, "action": "state_changed"})

    assert page.status_code == 200
    assert '<a href="/audit">Audit trail</a>' in page.text
    rows = re.findall(r'<tr class="audit-event">(.*?)</tr>', page.text, re.S)
    assert len(rows) == 2
    # the record, the states and the step in the lab's words, not the stored codes
    shown = f"DIN {parse_din(first.din).eye_readable()}"
    assert all("Product" in row and shown in row and "product state changed" in row
               for row in rows)
    assert "Collected → Received in the lab" in rows[-1] and "UTC" in rows[-1]
    assert "Transport and receipt" in rows[-1]
    assert second.din not in page.text
    assert "2 events." in page.text


def test_the_audit_page_pages_and_says_what_is_wrong_with_a_filter(api):
    two_products(api)
    browser = signed_in(api, "admin")

    first = browser.get("/audit")
    bad = browser.get("/audit", params={"from": "30/11/2026"})

    assert re.search(r"page 1 of \d+", first.text) and 'rel="next"' in first.text
    assert len(re.findall(r'<tr class="audit-event">', first.text)) == 50
    assert "is not a date: write it as YYYY-MM-DD" in bad.text


def test_the_audit_page_is_not_for_technicians(api):
    browser = signed_in(api, "tech1")

    page = browser.get("/audit")

    assert page.status_code == 403
    assert "may not open the audit trail" in page.text
