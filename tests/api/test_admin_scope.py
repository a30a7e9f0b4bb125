"""Issue 12: the administrator manages users and master data, and nothing of the products;
a deactivated account's tokens end at once."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from lims.app import create_app
from lims.models import AuditEvent, User
from tests.api.conftest import Api, product_in, refusal
from tests.factories import PASSWORDS, scan_of, snapshot, step_time, step_values

ADMIN_PASSWORD = "demo-admin-pass"  # seed/demo.toml

# Every product action of the API, with a body of the right shape where one is needed.
PRODUCT_ACTIONS = [
    ("hold", {"reason": "x"}), ("resume", {"reason": "x"}),
    ("discard", {"reason": "x", "password": ADMIN_PASSWORD}), ("expire", None),
    ("release", {"password": ADMIN_PASSWORD}), ("reject", {"reason": "x",
                                                           "password": ADMIN_PASSWORD}),
    ("qc-complete", None), ("qc-results", {}), ("labels/verify", {"scan": "x"}),
    ("steps/sediment/corrections", {}), ("deviations", {}),
]


def login(api: Api, username: str, password: str) -> dict[str, str]:
    response = api.post("/auth/login", user=None,
                        json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize(("action", "body"), PRODUCT_ACTIONS,
                         ids=[action for action, _ in PRODUCT_ACTIONS])
def test_the_administrator_is_refused_every_product_action(api, action, body):
    product = product_in(api, "received", "BM-MNC")

    response = api.post(f"/products/{product.din}/{action}", user="admin",
                        **({"json": body} if body is not None else {}))

    assert refusal(response, 403) == "forbidden"


def test_a_complete_and_correct_step_by_the_administrator_is_refused_and_records_nothing(api):
    product = product_in(api, "received", "BM-MNC")
    before = snapshot(api.session, product.din)
    submission = {"values": step_values("sediment", "BM-MNC", step_time(product, "sediment")),
                  "expected_version": product.version,
                  "scan": scan_of(api.session, product, "marrow_bag", "in_use")}

    response = api.post(f"/products/{product.din}/steps/sediment", user="admin", json=submission)

    assert refusal(response, 403) == "forbidden"
    assert snapshot(api.session, product.din) == before


def test_the_administrator_may_not_expire_while_a_technician_is_refused_only_by_the_clock(api):
    product = product_in(api, "received", "BM-MNC")

    assert refusal(api.post(f"/products/{product.din}/expire", user="admin"), 403) == "forbidden"
    assert refusal(api.post(f"/products/{product.din}/expire", user="tech1"),
                   409) == "product_not_expired"


def test_the_administrator_reads_users_master_data_and_verifies_the_audit_trail(api):
    users = api.get("/users", user="admin")
    lots = api.get("/reagent-lots", user="admin")
    added = api.post("/equipment", user="admin", json={
        "code": "CF-99", "kind": "Centrifuge Sigma 4-16KS", "serial": "SN-99",
        "calibration_due": (date.today() + timedelta(days=365)).isoformat()})

    assert users.status_code == 200 and {"admin", "tech1"} <= {u["username"]
                                                             for u in users.json()}
    assert all(u["active"] for u in users.json())
    assert lots.status_code == 200
    assert added.status_code == 201, added.text
    assert api.get("/audit/verify", user="admin").json()["ok"]
    assert refusal(api.get("/users", user="qa1"), 403) == "forbidden"


def test_a_deactivated_users_token_is_refused_at_once_and_stays_ended_after_reactivation(api):
    token = login(api, "tech2", PASSWORDS["tech2"])
    assert api.client.get("/api/v1/auth/me", headers=token).status_code == 200

    done = api.post("/users/tech2/deactivate", user="admin", json={"reason": "left the lab"})

    assert done.status_code == 200 and done.json()["active"] is False
    assert refusal(api.client.get("/api/v1/auth/me", headers=token), 401) == (
        "authentication_failed")
    assert refusal(api.post("/auth/login", user=None, json={
        "username": "tech2", "password": PASSWORDS["tech2"]}), 401) == "authentication_failed"
    back = api.post("/users/tech2/reactivate", user="admin", json={"reason": "came back"})
    assert back.status_code == 200 and back.json()["active"] is True
    assert refusal(api.client.get("/api/v1/auth/me", headers=token), 401)  # still ended
    assert api.client.get("/api/v1/auth/me",
                          headers=login(api, "tech2", PASSWORDS["tech2"])).status_code == 200
    actions = api.session.exec(select(AuditEvent.action, AuditEvent.reason).where(
        AuditEvent.entity_id == "tech2", AuditEvent.action.in_(  # type: ignore[attr-defined]
            ["account_deactivated", "account_reactivated"]))).all()
    assert [tuple(a) for a in actions] == [("account_deactivated", "left the lab"),
                                           ("account_reactivated", "came back")]
    assert api.get("/audit/verify", user="admin").json()["ok"]


def test_the_last_administrator_cannot_deactivate_themselves_nor_anyone_without_the_role(api):
    assert refusal(api.post("/users/admin/deactivate", user="admin",
                            json={"reason": "testing"}), 403) == "forbidden"
    assert refusal(api.post("/users/tech2/deactivate", user="qa1",
                            json={"reason": "testing"}), 403) == "forbidden"
    assert refusal(api.post("/users/tech2/deactivate", user="admin",
                            json={"reason": "   "}), 422) == "reason_required"
    assert refusal(api.post("/users/ghost/deactivate", user="admin",
                            json={"reason": "x"}), 404) == "not_found"
    assert refusal(api.post("/users/tech2/reactivate", user="admin",
                            json={"reason": "x"}), 409) == "conflict"
    api.session.commit()
    assert all(api.session.exec(select(User.active)).all())


def web_client(api: Api, username: str, password: str) -> TestClient:
    client = TestClient(create_app(api.client.app.state.engine, jobs=False),  # type: ignore[attr-defined]
                        follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    api.session.commit()
    signed = client.post("/login", data={"csrf_token": token.group(1), "username": username,
                                         "password": password})
    assert signed.status_code == 303, signed.text[:300]
    return client


def test_the_administrators_home_page_shows_no_worklist_but_what_they_look_after(api):
    product = product_in(api, "received", "BM-MNC")

    admin_page = web_client(api, "admin", ADMIN_PASSWORD).get("/")
    tech_page = web_client(api, "tech1", PASSWORDS["tech1"]).get("/")

    assert admin_page.status_code == 200
    assert "<h1>Administration</h1>" in admin_page.text and "/audit" in admin_page.text
    assert product.din not in admin_page.text and "Worklist" not in admin_page.text
    assert 'action="/scan"' not in admin_page.text
    assert product.din in tech_page.text and "<h1>Worklist</h1>" in tech_page.text


def test_the_administrator_opens_no_product_qc_or_trend_page(api):
    product = product_in(api, "received", "BM-MNC")
    browser = web_client(api, "admin", ADMIN_PASSWORD)

    for page in (f"/products/{product.din}", f"/products/{product.din}/qc", "/trends", "/qa"):
        assert browser.get(page).status_code == 403, page
