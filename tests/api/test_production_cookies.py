"""In production every cookie is `Secure`, the pages' and the API's alike, even when a TLS
proxy forwards the request to the application over plain http."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lims.app import create_app
from lims.audit_checkpoints import generate_signing_key
from lims.config import get_settings
from lims.secret_keys import new_secret_key
from lims.web.deps import CSRF_COOKIE, SESSION_COOKIE
from tests.api.web_client import csrf_token
from tests.factories import PASSWORDS
from tests.production import PRODUCTION_ENV


def configure(monkeypatch: pytest.MonkeyPatch, folder: Path, environment: str) -> None:
    signing = folder / "signing.pem"
    generate_signing_key(signing, folder / "signing.pem.pub")
    for name, value in {"LIMS_ENVIRONMENT": environment, "LIMS_SECRET_KEY": new_secret_key(),
                        "LIMS_AUDIT_KEY": new_secret_key(), "LIMS_PASSWORD_HASHING": "standard",
                        "LIMS_AUDIT_SIGNING_KEY_FILE": str(signing), **PRODUCTION_ENV}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.fixture(params=["production", "development"])
def over_http(request: pytest.FixtureRequest, api_engine: Engine, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, TestClient]]:
    """The application as a proxy speaking plain http to it sees it."""
    configure(monkeypatch, tmp_path, request.param)
    with TestClient(create_app(api_engine, jobs=False), base_url="http://testserver",
                    follow_redirects=False) as client:
        yield request.param, client


def cookies_set(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def sign_in_page(client: TestClient, username: str) -> dict[str, str]:
    """The cookies the sign-in form and a successful sign-in set, as the browser sees them."""
    form = client.get("/login")
    nonce = cookies_set(form)[CSRF_COOKIE]
    # httpx keeps a Secure cookie off plain http; the browser, on https at the proxy, sends it
    client.cookies.set(CSRF_COOKIE, nonce.split("=", 1)[1].split(";", 1)[0])
    signed = client.post("/login", data={"csrf_token": csrf_token(form.text),
                                         "username": username,
                                         "password": PASSWORDS[username]})
    assert signed.status_code == 303, signed.text[:300]
    return {**cookies_set(form), **cookies_set(signed)}


def test_the_pages_cookies_are_secure_in_production_only(over_http):
    environment, client = over_http

    cookies = sign_in_page(client, "tech1")

    assert set(cookies) >= {SESSION_COOKIE, CSRF_COOKIE}
    for header in cookies.values():
        assert ("; secure" in header.lower()) is (environment == "production"), header
        assert "httponly" in header.lower() and "samesite=strict" in header.lower()


def test_in_production_the_pages_ask_for_https_from_now_on(over_http):
    environment, client = over_http

    page = client.get("/login")

    assert ("strict-transport-security" in page.headers) is (environment == "production")


def test_the_api_sign_in_cookie_is_secure_in_production_only(over_http):
    environment, client = over_http

    signed = client.post("/api/v1/auth/login",
                         json={"username": "tech1", "password": PASSWORDS["tech1"]})

    assert signed.status_code == 200, signed.text
    session = cookies_set(signed)[SESSION_COOKIE]
    assert ("; secure" in session.lower()) is (environment == "production")
