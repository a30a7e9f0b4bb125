"""Issue 12: password lifecycle, sessions that end, back-off instead of locks, user names."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from lims.app import create_app
from lims.config import get_settings
from lims.models import AuditEvent, SigninThrottle, User
from lims.security import issue_token
from tests.api.conftest import refusal
from tests.api.web_client import browser, csrf_token
from tests.factories import PASSWORDS

NEW = "violet tram under snow"


def login(api, username, password):
    return api.post("/auth/login", user=None, json={"username": username, "password": password})


def bearer(response) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def me(api, headers=None):
    return api.client.get("/api/v1/auth/me", headers=headers or {})


def change(api, headers, current, new):
    return api.client.post("/api/v1/auth/password", headers=headers,
                           json={"current_password": current, "new_password": new})


def test_an_old_bearer_token_is_refused_after_signing_out(api):
    signed_in = login(api, "tech1", PASSWORDS["tech1"])
    token = bearer(signed_in)
    assert me(api, token).status_code == 200

    assert api.client.post("/api/v1/auth/logout", headers=token).status_code == 204

    assert refusal(me(api, token), 401) == "authentication_failed"
    api.client.cookies.clear()
    assert refusal(me(api), 401)  # and the cookie of that sign-in too


def test_signing_out_ends_every_session_of_the_account_at_once(api):
    first, second = bearer(login(api, "qa1", PASSWORDS["qa1"])), bearer(
        login(api, "qa1", PASSWORDS["qa1"]))
    cookie = api.client.cookies.get("lims_session")

    api.client.post("/api/v1/auth/logout", headers=second)

    assert refusal(me(api, first), 401)
    api.client.cookies.set("lims_session", cookie)
    assert refusal(me(api), 401) == "authentication_failed"
    assert me(api, bearer(login(api, "qa1", PASSWORDS["qa1"]))).status_code == 200


def test_changing_the_password_ends_the_other_tokens_and_gives_a_new_one(api):
    old = bearer(login(api, "tech1", PASSWORDS["tech1"]))

    changed = change(api, old, PASSWORDS["tech1"], NEW)

    assert changed.status_code == 200, changed.text
    assert refusal(me(api, old), 401)
    assert me(api, bearer(changed)).status_code == 200
    assert refusal(login(api, "tech1", PASSWORDS["tech1"]), 401)
    assert login(api, "tech1", NEW).status_code == 200
    events = api.session.exec(select(AuditEvent).where(
        AuditEvent.action == "password_changed")).all()
    assert [(e.entity_id, e.old_value, e.new_value) for e in events] == [("tech1", None, None)]
    assert all(NEW not in str(e.model_dump()) for e in api.session.exec(select(AuditEvent)))


@pytest.mark.parametrize("weak", ["password", "12345678", "passwordpassword", "password1234",
                                  "Sara Technician 1", "tech1tech1tech1", "123456789012"])
def test_a_weak_new_password_is_refused_and_nothing_changes(api, weak):
    token = bearer(login(api, "tech1", PASSWORDS["tech1"]))

    refused = change(api, token, PASSWORDS["tech1"], weak)

    assert refusal(refused, 422) == "password_refused"
    assert me(api, token).status_code == 200  # the session goes on
    assert login(api, "tech1", PASSWORDS["tech1"]).status_code == 200


def test_a_wrong_current_password_changes_nothing_and_is_not_a_sign_in_failure(api):
    token = bearer(login(api, "tech1", PASSWORDS["tech1"]))

    refused = change(api, token, "not-my-password", NEW)

    assert refusal(refused, 403) == "password_not_authenticated"
    assert me(api, token).status_code == 200
    assert refusal(change(api, token, PASSWORDS["tech1"], PASSWORDS["tech1"]),
                   422) == "password_refused"  # the same one again


def test_an_administrators_reset_forces_a_change_before_anything_else(api):
    token = bearer(login(api, "tech2", PASSWORDS["tech2"]))
    reset = api.post("/users/tech2/password-reset", user="admin",
                     json={"temporary_password": "amber kettle sixty", "reason": "forgotten"})
    assert reset.status_code == 200, reset.text
    assert refusal(me(api, token), 401)  # the old session has ended

    temporary = login(api, "tech2", "amber kettle sixty")
    assert temporary.json()["must_change_password"] is True
    held = api.client.get("/api/v1/worklist", headers=bearer(temporary))
    assert refusal(held, 403) == "password_change_required"
    assert me(api, bearer(temporary)).status_code == 200

    changed = change(api, bearer(temporary), "amber kettle sixty", NEW)

    assert changed.json()["must_change_password"] is False
    assert api.client.get("/api/v1/worklist", headers=bearer(changed)).status_code == 200
    [event] = api.session.exec(select(AuditEvent).where(AuditEvent.action == "password_reset"))
    assert (event.entity_id, event.username, event.reason) == ("tech2", "admin", "forgotten")


def test_only_an_administrator_resets_a_password(api):
    body = {"temporary_password": "amber kettle sixty", "reason": "forgotten"}
    assert refusal(api.post("/users/tech2/password-reset", user="super1", json=body),
                   403) == "forbidden"
    assert refusal(api.post("/users/tech2/password-reset", user="admin",
                            json={**body, "temporary_password": "password"}),
                   422) == "password_refused"


def test_nobody_can_lock_the_only_administrator_with_wrong_passwords(api):
    for _ in range(30):
        login(api, "admin", "guessing-wrong")
    api.session.commit()
    admin = api.session.exec(select(User).where(User.username == "admin")).one()
    api.session.refresh(admin)
    assert admin.locked_at is None and admin.active
    api.session.commit()

    # the guesses came from one address; the administrator at another signs in at once
    elsewhere = TestClient(api.client.app, client=("10.1.2.3", 50000))
    signed_in = elsewhere.post("/api/v1/auth/login", json={
        "username": "admin", "password": "demo-admin-pass"})
    assert signed_in.status_code == 200, signed_in.text


def test_the_wait_doubles_and_is_capped(api, monkeypatch):
    monkeypatch.setattr(get_settings(), "signin_max_wait_seconds", 8)
    waits = []
    for _ in range(get_settings().max_failed_logins + 3):
        login(api, "tech2", "wrong-again")
        api.session.commit()
        row = api.session.get(SigninThrottle, "name:tech2@testclient")
        api.session.refresh(row)
        if row.blocked_until is not None:
            waits.append(round((row.blocked_until - row.last_failure_at).total_seconds()))
            row.blocked_until = None  # as if the wait had passed
            api.session.add(row)
            api.session.commit()
    assert waits == [2, 4, 8, 8]


def test_the_throttle_message_is_identical_for_a_known_and_an_unknown_name(api):
    for name in ("doc2", "no-such-user"):
        for _ in range(get_settings().max_failed_logins):
            login(api, name, "wrong-again")
    known, unknown = login(api, "doc2", "x"), login(api, "no-such-user", "x")

    assert known.status_code == unknown.status_code == 429
    assert known.json() == unknown.json()
    assert "wait" in known.json()["detail"] and "Nothing is locked" in known.json()["detail"]


def test_a_session_cookie_past_its_absolute_lifetime_is_refused(api):
    settings = get_settings()
    user_id = api.run.user("tech1").id
    api.session.commit()
    long_ago = int(time.time()) - settings.session_hours * 3600 - 60
    renewed_now = issue_token(settings.secret_key, user_id, "session", started=long_ago)
    api.client.cookies.set("lims_session", renewed_now)

    response = me(api)

    assert refusal(response, 401) == "authentication_failed"
    assert "12-hour limit" in response.json()["detail"]


@pytest.mark.parametrize(("username", "named"), [
    ("tech9 ", "a space"), ("tech\u00a09", "no-break space"), ("tech9\n", "LF control"),
    ("t\u0435ch9", "Cyrillic small letter"), ("ｔｅｃｈ９", "full-width"),
    ("Tech9!", "'!'"), ("x", "2 to 64")])
def test_a_user_name_with_a_character_outside_the_safe_set_is_refused_by_name(
        api, username, named):
    response = api.post("/users", user="admin", json={
        "username": username, "full_name": "Someone New", "role": "technician",
        "password": NEW})

    assert refusal(response, 422) == "invalid_input"
    assert named in response.json()["detail"]


def test_user_names_are_unique_whatever_the_case_and_full_names_are_unique(api):
    new = {"username": "TECH1", "full_name": "Someone New", "role": "technician",
           "password": NEW}
    assert refusal(api.post("/users", user="admin", json=new), 409) == "already_exists"
    same_name = api.post("/users", user="admin", json={
        **new, "username": "tech9", "full_name": "  sara   TECHNICIAN "})
    assert refusal(same_name, 409) == "already_exists"
    assert "Sara Technician" in same_name.json()["detail"] or "tech1" in same_name.json()[
        "detail"]
    bad = api.post("/users", user="admin", json={**new, "username": "tech9",
                                                  "full_name": "Sara\u200bTech"})
    assert refusal(bad, 422) == "invalid_input" and "zero width space" in bad.json()["detail"]

    created = api.post("/users", user="admin", json={**new, "username": "Tech9",
                                                      "full_name": " New  Person "})
    assert created.status_code == 201, created.text
    assert (created.json()["username"], created.json()["full_name"]) == ("tech9", "New Person")


# --- the web pages ----------------------------------------------------------------------------

def test_the_cookie_is_refused_after_signing_out_of_the_web_pages(api_engine):
    client, token = browser(api_engine, "tech1")
    cookie = client.cookies.get("lims_session")

    client.post("/logout", data={"csrf_token": token})
    client.cookies.set("lims_session", cookie)
    page = client.get("/")

    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_a_web_user_changes_their_password_and_other_sessions_end(api_engine):
    client, _ = browser(api_engine, "qa1")
    other, _ = browser(api_engine, "qa1")
    form = {"csrf_token": csrf_token(client.get("/account/password").text),
            "current_password": PASSWORDS["qa1"], "new_password": NEW,
            "new_password_again": NEW}

    weak = client.post("/account/password", data={**form, "new_password": "password1234",
                                                   "new_password_again": "password1234"})
    assert weak.status_code == 422 and "most common passwords" in weak.text
    done = client.post("/account/password", data=form)

    assert done.status_code == 303, done.text[:500]
    assert client.get("/").status_code == 200  # this session goes on
    assert other.get("/").status_code == 303  # the other one has ended


def test_the_web_sign_in_says_in_words_how_long_to_wait(api_engine):
    client = TestClient(create_app(api_engine, jobs=False), follow_redirects=False)
    pages = []
    for name in ("tech2", "nobody-here"):
        for _ in range(get_settings().max_failed_logins + 1):
            token = csrf_token(client.get("/login").text)
            page = client.post("/login", data={"csrf_token": token, "username": name,
                                               "password": "wrong-password"})
        pages.append(page)

    assert [p.status_code for p in pages] == [429, 429]
    assert "Too many failed sign-ins with this user name or from this computer" in pages[0].text
    assert "account" not in pages[0].text.split("error-box")[1].split("</p>")[0].replace(
        "whether the account", "")


def test_a_web_user_with_a_temporary_password_is_sent_to_change_it(api, api_engine):
    api.post("/users/doc2/password-reset", user="admin",
             json={"temporary_password": "amber kettle sixty", "reason": "forgotten"})
    client = TestClient(create_app(api_engine, jobs=False), follow_redirects=False)
    token = csrf_token(client.get("/login").text)

    signed = client.post("/login", data={"csrf_token": token, "username": "doc2",
                                         "password": "amber kettle sixty"})

    assert signed.headers["location"] == "/account/password"
    assert client.get("/").headers["location"] == "/account/password"
    assert "choose your own" in client.get("/account/password").text
