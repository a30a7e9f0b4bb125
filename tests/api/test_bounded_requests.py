"""Free lists in a request are bounded, and a refusal echoes only a short prefix of a bad value."""

from __future__ import annotations

from tests.api.conftest import refusal
from tests.api.test_patients_and_products import enrolment, patients
from tests.factories import audit_count


def test_an_infectious_marker_list_of_200000_items_is_refused_unread_as_too_large(api):
    before = patients(api), audit_count(api.session)
    markers = {f"junk-{n}": "negative" for n in range(200_000)}  # about 5 MB

    response = api.post("/patients", user="doc1", json=enrolment(infectious_markers=markers))

    assert refusal(response, 413) == "request_too_large"
    assert len(response.content) < 1000
    assert (patients(api), audit_count(api.session)) == before


def test_an_infectious_marker_list_of_20000_items_is_refused_with_a_short_answer(api):
    before = patients(api), audit_count(api.session)
    markers = {f"j{n}": "n" for n in range(20_000)}  # under the size limit

    response = api.post("/patients", user="doc1", json=enrolment(infectious_markers=markers))

    assert refusal(response, 422) == "invalid_input"
    assert response.json()["fields"] == {
        "body.infectious_markers": "Dictionary should have at most 50 items after validation, "
                                   "not more"}
    assert len(response.content) < 1000
    assert (patients(api), audit_count(api.session)) == before


def test_a_marker_name_or_result_longer_than_100_characters_is_refused(api):
    before = patients(api)

    long_result = api.post("/patients", user="doc1", json=enrolment(
        infectious_markers={"HIV": "n" * 101}))
    long_name = api.post("/patients", user="doc1", json=enrolment(
        eligibility={"x" * 101: True}))

    assert refusal(long_result, 422) == "invalid_input"
    assert "body.infectious_markers.HIV" in long_result.json()["fields"]
    assert refusal(long_name, 422) == "invalid_input"
    assert patients(api) == before


def test_a_900_kb_bad_value_is_echoed_only_as_a_short_prefix(api):
    huge = "x" * 900_000  # (2 MB would be refused unread: test_request_size.py)

    response = api.post("/patients", user="doc1", json=enrolment(infectious_markers={huge: "n"}))

    assert refusal(response, 422) == "invalid_input"
    assert len(response.content) < 2000
    assert "characters in all" in response.json()["detail"]


def test_fifty_markers_of_100_characters_are_accepted(api):
    markers = {"HIV": "negative", "HBV": "negative", "HCV": "negative"}
    markers |= {f"{n:02d}".ljust(100, "m"): "n" * 100 for n in range(47)}

    response = api.post("/patients", user="doc1", json=enrolment(infectious_markers=markers))

    assert response.status_code == 201, response.text
