"""The release specifications page over HTTP (no browser): versions with their limits in the
registry's words, a draft from the form, QA's approval by signature, and who may open it."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from lims.app import create_app
from lims.models import SpecificationSet
from tests.api.web_client import browser, csrf_token
from tests.factories import PASSWORDS

ADMIN_PASSWORD = "demo-admin-pass"  # seed/demo.toml


def admin(engine: Engine) -> tuple[TestClient, str]:
    client = TestClient(create_app(engine, jobs=False), follow_redirects=False)
    token = csrf_token(client.get("/login").text)
    signed = client.post("/login", data={"csrf_token": token, "username": "admin",
                                         "password": ADMIN_PASSWORD})
    assert signed.status_code == 303, signed.text[:300]
    return client, csrf_token(client.get("/account/password").text)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def draft_form(token: str, **limits: str) -> dict[str, str]:
    form = {"csrf_token": token, "reason": "tightened after the validation runs",
            "limit_viability_min_pct": "70", "limit_dose_min_cells": "1e+06",
            "limit_dose_max_cells": "1.2e+07", "limit_cd133_purity_min_pct": "50",
            "limit_endotoxin_basis": "per_kg", "limit_endotoxin_k_eu_per_kg": "5",
            "limit_endotoxin_eu_per_ml": "0.5", "limit_mycoplasma_required": "no"}
    return {**form, **{f"limit_{name}": value for name, value in limits.items()}}


def version(engine: Engine, number: int) -> SpecificationSet:
    with Session(engine) as session:
        return session.exec(select(SpecificationSet).where(
            SpecificationSet.arm == "CD133", SpecificationSet.version == number)).one()


def test_the_page_shows_each_arms_version_in_force_with_its_limits_in_words(api_engine):
    client, _ = browser(api_engine, "qa1")
    page = client.get("/specifications")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "CD133 arm: version 1 in force" in text and "BM-MNC arm: version 1 in force" in text
    assert "Viability (7-AAD): minimum ≥ 70.0 %" in text
    assert "Viable dose: maximum ≤ 12.0 × 10 6 cells" in text
    assert "Approved by system (protocol defaults)" in text and 'meaning: "Approved"' in text


def test_an_administrator_drafts_and_qa_approves_on_the_page(api_engine):
    # given the administrator's draft raising the viability minimum to 80 %
    client, token = admin(api_engine)
    saved = client.post("/specifications/CD133/draft",
                        data=draft_form(token, viability_min_pct="80"))
    assert saved.status_code == 303, saved.text[:500]
    drafted = text_of(client.get(saved.headers["location"]).text)
    assert "CD133 v2 drafted: it takes no effect until QA approves it." in drafted
    # then the page marks the changed limit against the version in force
    page = client.get("/specifications").text
    row = re.search(r'<tr class="changed"><th scope="row">Viability \(7-AAD\): minimum</th>'
                    r'(.*?)</tr>', page, re.S)
    assert row is not None and "80.0 %" in row.group(1) and "70.0 %" in row.group(1)
    assert version(api_engine, 2).limits["viability_min_pct"] == 80.0
    assert version(api_engine, 2).status == "draft"
    # when QA signs the approval with user name and password
    qa, qa_token = browser(api_engine, "qa1")
    signed = qa.post("/specifications/CD133/versions/2/approve", data={
        "csrf_token": qa_token, "username": "qa1", "password": PASSWORDS["qa1"],
        "effective_from": ""})
    # then the version is in force and the signature's manifestation is shown
    assert signed.status_code == 303, signed.text[:800]
    after = text_of(qa.get(signed.headers["location"]).text)
    row2 = version(api_engine, 2)
    assert row2.status == "approved" and row2.approved_printed_name
    assert f"signed by {row2.approved_printed_name}" in after and '"Approved"' in after
    assert "CD133 arm: version 2 in force" in after


def test_a_wrong_password_or_a_bad_limit_writes_nothing_and_says_why(api_engine):
    client, token = admin(api_engine)
    bad = client.post("/specifications/CD133/draft", data=draft_form(token, viability_min_pct="8O"))
    assert bad.status_code == 422 and "is not a number" in text_of(bad.text)
    assert 'value="8O"' in bad.text  # the form as typed
    client.post("/specifications/CD133/draft", data=draft_form(token, viability_min_pct="75"))
    qa, qa_token = browser(api_engine, "qa1")
    wrong = qa.post("/specifications/CD133/versions/2/approve", data={
        "csrf_token": qa_token, "username": "qa1", "password": "not-it", "effective_from": ""})
    assert wrong.status_code == 409 and "the password did not verify" in text_of(wrong.text)
    assert version(api_engine, 2).status == "draft"


def test_qa_does_not_approve_a_version_of_its_own(api_engine):
    qa, token = browser(api_engine, "qa1")
    saved = qa.post("/specifications/CD133/draft", data=draft_form(token, viability_min_pct="75"))
    assert saved.status_code == 303
    page = text_of(qa.get("/specifications").text)
    assert "You drafted CD133 v2: another QA person approves it (four eyes)." in page
    refused = qa.post("/specifications/CD133/versions/2/approve", data={
        "csrf_token": token, "username": "qa1", "password": PASSWORDS["qa1"]})
    assert refused.status_code == 409
    assert version(api_engine, 2).status == "draft"


def test_only_the_administrator_and_qa_open_the_page(api_engine):
    for username in ("tech1", "super1", "doc1"):
        client, _ = browser(api_engine, username)
        assert client.get("/specifications").status_code == 403, username
    client, token = admin(api_engine)
    assert client.get("/specifications").status_code == 200
    client.post("/specifications/CD133/draft", data=draft_form(token, viability_min_pct="75"))
    approve = client.post("/specifications/CD133/versions/2/approve", data={
        "csrf_token": token, "username": "admin", "password": ADMIN_PASSWORD})
    assert approve.status_code == 403
