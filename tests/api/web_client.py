"""Web pages over HTTP without a browser: a signed-in client with its CSRF token."""

from __future__ import annotations

import re

import httpx
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


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page (a check page's confirmation form), unescaped."""
    import html as markup

    return {name: markup.unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}


def save_qc(client: TestClient, din: str, data: dict[str, str]) -> httpx.Response:
    """QC results entered the way the page saves them: Check, then the check page's
    "Confirm and save". Returns the confirmation's response (a refused check's instead)."""
    checked = client.post(f"/products/{din}/qc", data=data)
    if checked.status_code != 303:
        return checked
    page = client.get(checked.headers["location"])
    assert page.status_code == 200, page.text[:500]
    return client.post(f"/products/{din}/qc/confirm", data=hidden_fields(page.text))


def acknowledge_exceptions(client: TestClient, token: str, din: str) -> int:
    """QA acknowledges, on the review page, each exception it lists (with a comment), as it
    must before signing a release; returns how many."""
    actions = re.findall(rf'action="(/qa/{re.escape(din)}/exceptions/[0-9a-f]{{64}}/acknowledge)"',
                         client.get(f"/qa/{din}").text)
    for action in actions:
        done = client.post(action, data={"csrf_token": token,
                                         "comment": "Read; no impact on the release"})
        assert done.status_code == 303, done.text[:500]
    return len(actions)
