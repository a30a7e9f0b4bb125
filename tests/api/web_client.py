"""Web pages over HTTP without a browser: a signed-in client with its CSRF token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lims.app import create_app
from tests.factories import PASSWORDS


def browser(engine: Engine, username: str) -> tuple[TestClient, str]:
    """A signed-in web client and its CSRF token."""
    client = TestClient(create_app(engine, jobs=False), follow_redirects=False)
    token = csrf_token(client.get("/login").text)
    signed = client.post("/login", data={"csrf_token": token, "username": username,
                                         "password": PASSWORDS[username]})
    assert signed.status_code == 303, signed.text[:300]
    return client, csrf_token(client.get("/").text)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)
