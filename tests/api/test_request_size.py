"""Request bodies are bounded: over LIMS_MAX_REQUEST_BYTES they are refused with 413 before
anything reads them, whether the length is declared or the body streams in chunks."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine

from lims.config import get_settings
from tests.api.conftest import refusal
from tests.api.test_patients_and_products import enrolment, patients
from tests.api.web_client import browser
from tests.factories import audit_count

LIMIT = get_settings().max_request_bytes


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"subject_id": "'
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size
    yield b'"}'


def test_the_default_limit_is_one_mebibyte():
    assert LIMIT == 1024 * 1024


def test_a_body_declared_larger_than_the_limit_is_refused_with_413_and_changes_nothing(api):
    before = patients(api), audit_count(api.session)
    body = enrolment(name="x" * (LIMIT + 10))

    response = api.post("/patients", user="doc1", json=body)

    assert refusal(response, 413) == "request_too_large"
    assert "1,048,576 bytes" in response.json()["detail"]
    assert (patients(api), audit_count(api.session)) == before


def test_a_body_streamed_in_chunks_without_a_length_is_counted_and_refused(api):
    before = patients(api), audit_count(api.session)

    response = api.post("/patients", user="doc1", content=_chunks(LIMIT + 1),
                        headers={"Content-Type": "application/json"})

    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert refusal(response, 413) == "request_too_large"
    assert (patients(api), audit_count(api.session)) == before


def test_a_small_body_streamed_in_chunks_is_read_as_usual(api):
    response = api.post("/patients", user="doc1", content=_chunks(10),
                        headers={"Content-Type": "application/json"})

    # it reaches the route's own validation: a patient needs more than a subject id
    assert refusal(response, 422) == "invalid_input"


def test_a_web_form_over_the_limit_gets_a_readable_page(api_engine: Engine):
    client, token = browser(api_engine, "tech1")

    page = client.post("/scan", data={"csrf_token": token, "code": "x" * (LIMIT + 1)})

    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")
    assert "Too much was sent" in page.text and "nothing was read or recorded" in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
