"""Sign-in, tokens, the session cookie, lockout, user administration and security headers."""

from __future__ import annotations

import time

from sqlmodel import select

from lims.config import get_settings
from lims.models import User
from lims.security import issue_token
from tests.api.conftest import product_in, refusal
from tests.factories import PASSWORDS, audit_count


def login(api, username, password):
    return api.post("/auth/login", user=None, json={"username": username, "password": password})


def test_signing_in_returns_a_bearer_token_that_opens_the_api(api):
    response = login(api, "tech1", PASSWORDS["tech1"])

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    me = api.client.get("/api/v1/auth/me",
                        headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "tech1", "full_name": "Sara Technician",
                         "role": "technician", "email": "tech1@lab.invalid", "active": True,
                         "must_change_password": False}


def test_signing_in_sets_an_http_only_strict_session_cookie_that_opens_the_api(api):
    response = login(api, "qa1", PASSWORDS["qa1"])

    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lims_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=900" in cookie
    me = api.client.get("/api/v1/auth/me")  # the client kept the cookie
    assert me.status_code == 200 and me.json()["username"] == "qa1"
    assert "lims_session=" in me.headers["set-cookie"]  # activity renews the idle session


def test_the_session_cookie_alone_cannot_change_records_through_the_api(api):
    product = product_in(api, "received")
    login(api, "tech1", PASSWORDS["tech1"])  # the client now holds the session cookie
    audited = audit_count(api.session)
    api.session.rollback()  # the test's read must not hold SQLite's write lock

    # what a forged cross-site form post would carry: the cookie, no bearer token
    forged = api.client.post(f"/api/v1/products/{product.din}/hold",
                             json={"reason": "cross-site request"})

    assert refusal(forged, 401) == "authentication_failed"
    assert "bearer token" in forged.json()["detail"]
    assert audit_count(api.session) == audited
    api.session.rollback()
    assert api.client.get(f"/api/v1/products/{product.din}").json()["state"] == "received"
    held = api.post(f"/products/{product.din}/hold", user="tech1", json={"reason": "check"})
    assert held.status_code == 200 and held.json()["state"] == "on_hold"


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(api):
    unknown = login(api, "nobody", "whatever-password")
    wrong = login(api, "tech1", "not-the-password")

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown.json()["code"] == "authentication_failed"
    assert "set-cookie" not in wrong.headers


def test_repeated_failures_throttle_the_name_and_answer_alike_for_known_and_unknown_names(api):
    for _ in range(get_settings().max_failed_logins):
        assert login(api, "tech2", "not-the-password").status_code == 401
        assert login(api, "nobody", "not-the-password").status_code == 401

    known = login(api, "tech2", PASSWORDS["tech2"])
    unknown = login(api, "nobody", "whatever-password")

    assert refusal(known, 429) == refusal(unknown, 429) == "signin_throttled"
    assert known.json() == unknown.json()
    assert "wait 2 seconds" in known.json()["detail"]
    user = api.session.exec(select(User).where(User.username == "tech2")).one()
    api.session.refresh(user)
    assert user.locked_at is None  # nothing locks
    assert audit_count(api.session, "account_locked") == 0


def test_an_administrator_clears_a_throttled_name_at_once(api):
    for _ in range(get_settings().max_failed_logins):
        login(api, "tech2", "not-the-password")
    assert refusal(login(api, "tech2", PASSWORDS["tech2"]), 429)

    unlocked = api.post("/users/tech2/unlock", user="admin", json={"reason": "verified by phone"})

    assert unlocked.status_code == 200
    assert login(api, "tech2", PASSWORDS["tech2"]).status_code == 200


def test_only_an_administrator_unlocks_accounts_and_a_reason_is_required(api):
    assert refusal(api.post("/users/tech2/unlock", user="super1", json={"reason": "x"}),
                   403) == "forbidden"
    assert refusal(api.post("/users/tech2/unlock", user="admin", json={"reason": ""}),
                   422) == "invalid_input"
    assert refusal(api.post("/users/ghost/unlock", user="admin", json={"reason": "x"}),
                   422) == "invalid_input"


def test_a_request_without_a_token_is_refused_with_401(api):
    response = api.get("/auth/me", user=None)

    assert refusal(response, 401) == "authentication_failed"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_forged_expired_or_session_token_is_not_accepted_as_a_bearer_token(api):
    settings = get_settings()
    user_id = api.run.user("tech1").id
    forged = issue_token("another-secret", user_id, "api")
    expired = issue_token(settings.secret_key, user_id, "api",
                          now=time.time() - settings.token_minutes * 60 - 5)
    session_token = issue_token(settings.secret_key, user_id, "session")

    for token in (forged, expired, session_token, "garbage"):
        response = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert refusal(response, 401) == "authentication_failed"


def test_signing_out_clears_the_session_cookie(api):
    login(api, "tech1", PASSWORDS["tech1"])

    response = api.client.post("/api/v1/auth/logout")

    assert response.status_code == 204
    assert 'lims_session=""' in response.headers["set-cookie"]
    assert refusal(api.client.get("/api/v1/auth/me"), 401)


def test_an_invalid_sign_in_request_is_refused_with_422(api):
    response = api.post("/auth/login", user=None, json={"username": "tech1"})

    assert refusal(response, 422) == "invalid_input"
    assert set(response.json()["fields"]) == {"body.password"}


def test_an_administrator_creates_a_user_who_can_then_sign_in(api):
    response = api.post("/users", user="admin", json={
        "username": "tech3", "full_name": "New Technician", "role": "technician",
        "password": "quiet harbour lantern"})

    assert response.status_code == 201
    assert response.json() == {"username": "tech3", "full_name": "New Technician",
                               "role": "technician", "email": "", "active": True,
                               "must_change_password": True}
    signed_in = login(api, "tech3", "quiet harbour lantern")
    assert signed_in.status_code == 200
    assert signed_in.json()["must_change_password"] is True  # the administrator knows it


def test_creating_users_is_refused_to_others_to_duplicates_and_to_short_passwords(api):
    new = {"username": "tech3", "full_name": "New", "role": "technician",
           "password": "quiet harbour lantern"}
    before = audit_count(api.session)

    assert refusal(api.post("/users", user="super1", json=new), 403) == "forbidden"
    assert refusal(api.post("/users", user="admin", json={**new, "username": "tech1"}),
                   409) == "already_exists"
    assert refusal(api.post("/users", user="admin", json={**new, "password": "short"}),
                   422) == "password_refused"
    assert refusal(api.post("/users", user="admin", json={**new, "role": "king"}),
                   422) == "invalid_input"
    assert audit_count(api.session) == before


def test_every_api_response_carries_the_security_headers(api):
    for response in (api.get("/auth/me", user="tech1"), api.get("/auth/me", user=None),
                     api.get("/no-such-route", user="tech1")):
        headers = response.headers
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_an_unknown_route_answers_404_in_the_error_shape(api):
    assert refusal(api.get("/no-such-route", user="tech1"), 404) == "not_found"


def test_a_deactivated_user_cannot_use_a_token_issued_before(api):
    token = api.headers("tech1")
    user = api.session.exec(select(User).where(User.username == "tech1")).one()
    user.active = False
    api.session.add(user)
    api.session.commit()

    assert refusal(api.client.get("/api/v1/auth/me", headers=token), 401)


def test_the_session_cookie_is_secure_outside_development(api, monkeypatch):
    monkeypatch.setattr(get_settings(), "environment", "production")
    monkeypatch.setattr(get_settings(), "secret_key", "a-production-secret")

    response = login(api, "tech1", PASSWORDS["tech1"])

    assert "Secure" in response.headers["set-cookie"]


def test_a_user_name_in_another_letter_case_is_refused_like_an_unknown_one(api):
    other_case = login(api, "TECH1", PASSWORDS["tech1"])

    assert other_case.status_code == 401
    assert other_case.json() == login(api, "nobody", "whatever-password").json()


def test_only_the_api_docs_page_may_load_swagger_ui_from_its_cdn(api):
    docs = api.client.get("/api/v1/docs")
    schema = api.client.get("/api/v1/openapi.json")

    assert docs.status_code == 200
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert schema.headers["content-security-policy"] == "default-src 'self'; frame-ancestors 'none'"
