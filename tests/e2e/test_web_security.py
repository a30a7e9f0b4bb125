"""The web UI's security over HTTP (no browser): sign-in, sessions, CSRF, roles, headers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from lims.app import create_app
from lims.config import get_settings
from lims.db import make_engine
from lims.demo import DemoRun
from lims.migrate import upgrade
from lims.security import issue_token
from lims.services.harvests import schedule_harvest
from lims.services.seed import load_seed, seed


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('web')) / 'lims.db'}"
    upgrade(url)
    eng = make_engine(url)
    with Session(eng, expire_on_commit=False) as session:
        seed(session, load_seed(demo=True), progress=lambda _m: None)
        run = DemoRun(session, say=lambda _m: None)
        patient = run.enrol("CD133", 70.0)
        schedule_harvest(session, actor=run.user("tech1"), subject_id=patient.subject_id)
    yield eng
    eng.dispose()


@pytest.fixture
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine), follow_redirects=False)


def token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str | None = None) -> str:
    """Sign in; return the CSRF token of the page that follows."""
    token = token_of(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "username": username,
                                           "password": password or f"demo-{username}-pass"})
    assert response.status_code == 303, response.text[:500]
    return token_of(client.get("/").text)


def a_din(client: TestClient) -> str:
    found = re.search(r"/products/(X9999\d{8})", client.get("/").text)
    assert found is not None
    return found.group(1)


def test_every_page_sends_a_visitor_without_a_session_to_sign_in(client: TestClient) -> None:
    for path in ("/", "/qa", "/trends", "/harvests/new", "/products/X999926000001"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_a_failed_sign_in_says_the_same_whether_the_user_exists_or_not(
        client: TestClient) -> None:
    token = token_of(client.get("/login").text)
    unknown = client.post("/login", data={"csrf_token": token, "username": "nobody",
                                          "password": "whatever-pass"})
    wrong = client.post("/login", data={"csrf_token": token, "username": "super1",
                                        "password": "not-the-password"})
    assert unknown.status_code == wrong.status_code == 401

    def message(html: str) -> str:
        found = re.search(r'class="error-box" role="alert">([^<]+)<', html)
        assert found is not None
        return found.group(1)

    assert message(unknown.text) == message(wrong.text)


def test_a_form_without_its_csrf_token_is_refused(client: TestClient) -> None:
    sign_in(client, "tech1")
    missing = client.post("/scan", data={"code": "X999926000001"})
    forged = client.post("/scan", data={"code": "X999926000001", "csrf_token": "0" * 64})
    assert missing.status_code == forged.status_code == 403
    assert "did not come from this site" in forged.text


def test_the_csrf_token_of_one_user_does_not_work_for_another(engine: Engine) -> None:
    first, second = (TestClient(create_app(engine), follow_redirects=False) for _ in range(2))
    token = sign_in(first, "tech1")
    sign_in(second, "tech2")
    assert second.post("/scan", data={"code": "X999926000001", "csrf_token": token}
                       ).status_code == 403


def test_a_technician_cannot_open_the_qa_review_nor_sign_a_release(client: TestClient) -> None:
    token = sign_in(client, "tech1")
    din = a_din(client)
    assert client.get("/qa").status_code == 403
    assert client.get(f"/qa/{din}").status_code == 403
    response = client.post(f"/qa/{din}/decision", data={
        "csrf_token": token, "decision": "release", "username": "tech1",
        "password": "demo-tech1-pass"})
    assert response.status_code == 403


def test_a_technician_cannot_open_the_administration_step(client: TestClient) -> None:
    sign_in(client, "tech1")
    assert client.get(f"/products/{a_din(client)}/steps/administer").status_code == 403


def test_an_administrator_sees_no_product_record(client: TestClient) -> None:
    sign_in(client, "admin")
    assert client.get("/products/X999926000001").status_code == 403


def test_an_idle_session_expires_and_activity_renews_it(client: TestClient) -> None:
    settings = get_settings()
    stale = issue_token(settings.secret_key, 1, "session",
                        now=time.time() - settings.session_minutes * 60 - 5)
    client.cookies.set("lims_session", stale)
    response = client.get("/")
    assert response.status_code == 303
    assert "expired=1" in response.headers["location"]
    client.cookies.clear()
    sign_in(client, "tech1")
    renewed = client.get("/")
    assert renewed.status_code == 200
    assert "lims_session=" in renewed.headers.get("set-cookie", "")


def test_pages_carry_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_session_cookies_are_http_only_and_same_site(client: TestClient) -> None:
    token = token_of(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "username": "tech1",
                                           "password": "demo-tech1-pass"})
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("lims_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session


def test_sign_in_never_sends_the_user_to_another_site(client: TestClient) -> None:
    token = token_of(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "username": "tech1",
                                           "password": "demo-tech1-pass",
                                           "next": "//evil.example/phish"})
    assert response.headers["location"] == "/"


def test_a_message_in_a_crafted_link_is_not_shown(client: TestClient) -> None:
    sign_in(client, "tech1")
    page = client.get("/", params={"msg": "Product released by QA", "sig": "x"})
    assert "Product released by QA" not in page.text


def test_an_unknown_product_is_answered_with_a_page_and_the_api_keeps_its_json(
        client: TestClient) -> None:
    sign_in(client, "tech1")
    page = client.get("/products/X999926999999")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no product with DIN" in page.text
    api = client.get("/api/v1/products/X999926999999")
    assert api.headers["content-type"].startswith("application/json")
