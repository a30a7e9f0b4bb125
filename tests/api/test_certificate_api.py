"""The certificate of analysis over HTTP: a PDF for lab roles once the product is released,
a coded refusal before; printable from the product page and the issue step."""

from __future__ import annotations

from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlmodel import select

from lims.models import AuditEvent, Certificate
from tests.api.conftest import product_in, refusal
from tests.api.web_client import browser
from tests.factories import make_product


def certificates(api, din):
    api.session.commit()
    return list(api.session.exec(select(Certificate)))


@pytest.mark.parametrize("user", ["tech1", "qa1", "doc1", "super1"])
def test_a_released_product_has_a_one_page_certificate_for_each_lab_role(api, user):
    product = product_in(api, "released")

    response = api.get(f"/products/{product.din}/certificate", user=user)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(BytesIO(response.content))
    assert len(reader.pages) == 1
    words = " ".join((reader.pages[0].extract_text() or "").split())
    assert "Certificate of analysis" in words and "Maryam QA Reviewer" in words
    [row] = certificates(api, product.din)
    assert response.headers["x-certificate-id"] == row.content_hash
    assert row.content_hash in words


def test_the_certificate_is_refused_to_admin_strangers_and_unknown_dins(api):
    product = product_in(api, "released")
    path = f"/products/{product.din}/certificate"
    assert refusal(api.get(path, user="admin"), 403) == "forbidden"
    assert refusal(api.get(path, user=None), 401)
    assert refusal(api.get("/products/X999900999999/certificate", user="qa1"), 404)
    assert refusal(api.get("/products/not-a-din/certificate", user="qa1"), 422)
    assert certificates(api, product.din) == []


@pytest.mark.parametrize("state", ["formulated", "awaiting_release"])
def test_before_release_the_certificate_is_a_recorded_409(api, state):
    product = product_in(api, state)

    response = api.get(f"/products/{product.din}/certificate", user="tech1")

    assert refusal(response, 409) == "certificate_requires_release"
    assert certificates(api, product.din) == []
    refused = api.session.exec(select(AuditEvent).where(
        AuditEvent.action == "certificate_refused", AuditEvent.entity_id == product.din)).all()
    assert len(refused) == 1


def test_the_product_page_and_the_issue_step_offer_the_certificate_once_released(
        api_engine, lab):
    session, run = lab
    released, _ = make_product(run, arm="CD133", until="released")
    waiting, _ = make_product(run, arm="CD133", until="awaiting_release")
    session.commit()
    tech, _token = browser(api_engine, "tech1")
    link = 'href="/products/{}/certificate.pdf"'

    assert link.format(released.din) in tech.get(f"/products/{released.din}").text
    assert link.format(released.din) in tech.get(f"/products/{released.din}/steps/issue").text
    assert link.format(waiting.din) not in tech.get(f"/products/{waiting.din}").text

    pdf = tech.get(f"/products/{released.din}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    refused = tech.get(f"/products/{waiting.din}/certificate.pdf")
    assert refused.status_code == 409 and "QA release" in refused.text
