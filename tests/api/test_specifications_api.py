"""Release specification versions over the API: list, draft, approve by signature, withdraw."""

from __future__ import annotations

from datetime import timedelta

from lims.services.common import utcnow
from tests.api.conftest import Api, refusal
from tests.factories import PASSWORDS

DRAFT = {"changes": {"viability_min_pct": 80.0, "cd133_purity_min_pct": None},
         "reason": "tightened after the validation runs"}


def versions(api: Api, arm: str = "CD133") -> list[dict]:
    response = api.get("/specifications", user="qa1")
    assert response.status_code == 200, response.text
    return next(a for a in response.json() if a["arm"] == arm)["versions"]


def test_an_administrator_drafts_and_qa_approves_with_the_signature(api):
    # when the administrator drafts a change
    drafted = api.post("/specifications/CD133/versions", user="admin", json=DRAFT)
    # then it is a draft that changes the named limits and nothing is in force yet
    assert drafted.status_code == 201, drafted.text
    body = drafted.json()
    assert (body["version"], body["status"], body["in_force"]) == (2, "draft", False)
    assert set(body["changed"]) == {"viability_min_pct", "cd133_purity_min_pct"}
    assert body["limits"]["cd133_purity_min_pct"] is None
    # when QA approves it with user name and password, effective in an hour
    later = (utcnow() + timedelta(hours=1)).isoformat()
    approved = api.post("/specifications/CD133/versions/2/approve", user="qa1",
                        json={"username": "qa1", "password": PASSWORDS["qa1"],
                              "effective_from": later})
    # then the signature is recorded and v1 stays in force until then
    assert approved.status_code == 200, approved.text
    signed = approved.json()
    assert (signed["status"], signed["meaning"], signed["standing"]) == (
        "approved", "Approved", "approved, not yet in force")
    assert signed["approved_by"] and len(signed["approved_hash"]) == 64
    listed = versions(api)
    assert [(v["version"], v["in_force"]) for v in listed] == [(2, False), (1, True)]


def test_a_second_draft_is_refused_and_a_withdrawn_one_is_kept(api):
    assert api.post("/specifications/CD133/versions", user="qa1", json=DRAFT).status_code == 201
    second = api.post("/specifications/CD133/versions", user="admin", json=DRAFT)
    assert refusal(second, 409) == "conflict"
    withdrawn = api.post("/specifications/CD133/versions/2/withdraw", user="admin",
                         json={"reason": "typed the wrong limit"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert [v["status"] for v in versions(api)] == ["withdrawn", "approved"]


def test_the_author_a_wrong_password_and_other_roles_are_refused(api):
    api.post("/specifications/CD133/versions", user="qa1", json=DRAFT)
    own = api.post("/specifications/CD133/versions/2/approve", user="qa1",
                   json={"username": "qa1", "password": PASSWORDS["qa1"]})
    assert refusal(own, 409) == "not_independent"
    assert refusal(api.post("/specifications/CD133/versions/2/approve", user="admin",
                            json={"username": "admin", "password": "x"}), 403) == "forbidden"
    assert refusal(api.get("/specifications", user="tech1"), 403) == "forbidden"
    assert refusal(api.post("/specifications/CD133/versions", user="super1", json=DRAFT),
                   403) == "forbidden"
    assert [v["status"] for v in versions(api)] == ["draft", "approved"]


def test_a_wrong_password_signs_nothing(api):
    api.post("/specifications/CD133/versions", user="admin", json=DRAFT)
    wrong = api.post("/specifications/CD133/versions/2/approve", user="qa1",
                     json={"username": "qa1", "password": "not-it"})
    assert refusal(wrong, 403) == "signature_not_authenticated"
    assert versions(api)[0]["status"] == "draft" and versions(api)[0]["approved_by"] == ""


def test_bad_limits_and_unknown_fields_are_refused(api):
    for body in ({"changes": {"viability_min_pct": 120}, "reason": "x"},
                 {"changes": {"viability": 80}, "reason": "x"},
                 {"changes": {"viability_min_pct": 80}, "reason": ""},
                 {"changes": {"dose_min_cells": 5e7, "dose_max_cells": 1e7}, "reason": "x"}):
        response = api.post("/specifications/CD133/versions", user="admin", json=body)
        assert response.status_code == 422, (body, response.text)
    assert refusal(api.post("/specifications/XYZ/versions", user="admin", json=DRAFT),
                   422) == "invalid_input"
    assert [v["version"] for v in versions(api)] == [1]
