"""The certificate of analysis: one page that travels with a released product, built through
the services, read back from the PDF (text and bar code) as the receiving ward reads it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from sqlmodel import select

from labels.certificate import CertificateOverflow, render_certificate
from lims import demo_data as data
from lims.models import AuditEvent, Certificate, Signature
from lims.services.batch_record import batch_record, batch_record_pdf
from lims.services.certificate import certificate_of, issue_certificate
from lims.services.common import user_by_name, utcnow
from lims.services.qc import complete_qc, record_qc_result
from lims.services.release import exceptional_release
from lims.services.verification import verify_all
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    make_product,
    perform,
    qc_sample_of,
    seeded,
)
from tests.unit.label_support import decoded, rasterise
from workflows.errors import DomainError, ErrorCode, Forbidden
from workflows.specifications import QC_TESTS

E = ErrorCode


def product_at(session, state, arm="CD133"):
    run = seeded(session)
    product, _ = make_product(run, arm=arm, until=state, t0=utcnow() - timedelta(hours=8))
    return run, product


def enter(run, product, test, value):
    return record_qc_result(run.session, actor=run.user("tech2"), din=product.din, test=test,
                            value=value, **qc_sample_of(run.session, product.din, test))


def pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(BytesIO(pdf))
    return len(reader.pages), " ".join(
        " ".join((page.extract_text() or "").split()) for page in reader.pages)


def events(session, action, din):
    session.commit()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action,
                                                      AuditEvent.entity_id == din)))


def refused(session, run, product, user="tech1"):
    with pytest.raises(DomainError) as refusal:
        issue_certificate(session, actor=run.user(user), din=product.din)
    return refusal.value


def test_a_released_cd133_product_gets_one_page_with_every_result_its_limit_and_the_signer(
        session):
    # given a released CD133 product with the arm's full QC list (mycoplasma added later)
    run, product = product_at(session, "released")
    enter(run, product, "mycoplasma", "absent")

    # when a technician prints its certificate
    pdf, row = issue_certificate(session, actor=run.user("tech1"), din=product.din)
    pages, words = pdf_text(pdf)
    certificate = certificate_of(session, product.din)

    # then it is one page, "Page 1 of 1", with its ID in the footer
    assert pages == 1 and "Page 1 of 1" in words
    assert row.content_hash in words
    # with the identity as the label carries it
    assert certificate.din_text in words and certificate.check_character in words
    assert "HPC, MARROW | CD133 enriched" in words
    assert certificate.subject_id in words and certificate.patient_name in words
    assert dict(certificate.patient_identifiers)["MRN"] in words
    assert "CD133 v1" in words and "approved by" in words
    # every QC result: the test, its value, its limit, its method and verdict
    names = [r.test for r in certificate.results]
    assert sorted(names) == sorted(t.label for t in QC_TESTS.values())
    for result in certificate.results:
        assert result.test.split(" (")[0] in words
        assert result.method.split(";")[0] in words
    assert "97.1 %" in words and "88.4 %" in words and "no organisms seen" in words
    assert "≥" in words and "PASS" in words and "PENDING" in words  # sterility still growing
    assert {r.test: r.verdict for r in certificate.results}["Mycoplasma"] == "PASS"
    # and the release signature's manifestation: printed name, time with zone, meaning
    assert "Maryam QA Reviewer" in words and "Released" in words
    signed = session.exec(select(Signature).where(Signature.product_id == product.id,
                                                  Signature.meaning == "Released")).one()
    assert f"{signed.signed_at:%Y-%m-%d %H:%M:%S} UTC" in words
    assert "EXCEPTIONAL" not in words
    # and the DIN bar code decodes to what the product's label encodes
    [image] = rasterise(pdf, dpi=300)
    assert certificate.din_barcode.startswith(f"={product.din}")
    assert decoded(image)[certificate.din_barcode] == 1


def test_a_certificate_is_refused_before_release_and_the_refusal_is_audited(session):
    # given a product formulated and awaiting QC
    run, product = product_at(session, "formulated")

    # when its certificate is asked for
    refusal = refused(session, run, product)

    # then it is refused with its code, nothing recorded but the audited refusal
    assert refusal.code == E.CERTIFICATE_REQUIRES_RELEASE
    assert "QA release" in refusal.detail
    assert session.exec(select(Certificate)).all() == []
    [event] = events(session, "certificate_refused", product.din)
    assert event.user_id == run.user("tech1").id and "QA release" in event.reason
    assert events(session, "certificate_issued", product.din) == []
    assert verify_all(session).ok


def test_a_suspended_release_has_no_certificate(session):
    # given a released product whose sterility culture then grows
    run, product = product_at(session, "released")
    enter(run, product, "sterility", "growth")

    # then no certificate travels with it
    refusal = refused(session, run, product)
    assert refusal.code == E.CERTIFICATE_REQUIRES_RELEASE
    assert "release suspended" in refusal.detail.lower()
    assert session.exec(select(Certificate)).all() == []


def test_a_released_product_past_its_expiry_has_no_certificate(session):
    # given a released product whose expiry has passed (the expiry job not yet run)
    run, product = product_at(session, "released")
    late = product.expires_at + timedelta(minutes=1)

    # then it is refused, saying when it expired, and the refusal is recorded
    with pytest.raises(DomainError) as refusal:
        issue_certificate(session, actor=run.user("tech1"), din=product.din, now=late)
    assert refusal.value.code == E.PRODUCT_EXPIRED and "expired at" in refusal.value.detail
    assert len(events(session, "certificate_refused", product.din)) == 1
    assert session.exec(select(Certificate)).all() == []


def test_a_release_signature_changed_behind_the_system_refuses_the_certificate(session):
    # given a released product whose release signature was edited in the database
    run, product = product_at(session, "released")
    session.execute(text("UPDATE signature SET record_hash = :h WHERE meaning = 'Released'"),
                    {"h": "0" * 64})
    session.commit()

    # then the certificate is refused, naming the signature
    refusal = refused(session, run, product)
    assert refusal.code == E.CERTIFICATE_REQUIRES_RELEASE
    assert "Maryam QA Reviewer" in refusal.detail and "not valid" in refusal.detail


def test_only_lab_roles_print_it(session):
    _, product = product_at(session, "released")
    with pytest.raises(Forbidden):
        issue_certificate(session, actor=user_by_name(session, "admin"), din=product.din)


def test_the_same_content_gives_the_same_id_and_the_batch_record_lists_each_print(session):
    # given a released product printed by a technician, then by QA after issue
    run, product = product_at(session, "released")
    _, first = issue_certificate(session, actor=run.user("tech1"), din=product.din)
    perform(run, product, "issue")
    _, second = issue_certificate(session, actor=run.user("qa1"), din=product.din,
                                    now=utcnow() + timedelta(seconds=1))

    # then both carry the same ID (who printed it, and when, are outside it)
    assert first.content_hash == second.content_hash
    assert first.generated_by_id != second.generated_by_id
    issued = events(session, "certificate_issued", product.din)
    assert [json.loads(e.new_value) for e in issued] == [
        {"certificate": row.id, "content_hash": first.content_hash,
         "specification_set_id": row.specification_set_id} for row in (first, second)]
    # and a result added since gives a new one
    enter(run, product, "mycoplasma", "absent")
    _, third = issue_certificate(session, actor=run.user("tech1"), din=product.din)
    assert third.content_hash != first.content_hash

    # and the batch record lists every certificate generated: when, by whom, its ID
    lines = batch_record(session, product.din).certificates
    assert [(c.generated_by, c.content_hash) for c in lines] == [
        (run.user("tech1").full_name, first.content_hash),
        (run.user("qa1").full_name, first.content_hash),
        (run.user("tech1").full_name, third.content_hash)]
    _, record = pdf_text(batch_record_pdf(session, product.din))
    assert "Certificates of analysis generated (3)" in record
    assert third.content_hash[:32] in record and third.content_hash[32:] in record


def test_an_exceptional_release_is_stated_plainly_with_the_physician_and_the_reason(session):
    # given a CD133 product whose purity failed, released exceptionally
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated",
                              t0=utcnow() - timedelta(hours=8))
    for test, value in {**data.qc_results("CD133"), "cd133_purity": "40"}.items():
        enter(run, product, test, value)
    complete_qc(session, actor=run.user("tech2"), din=product.din)
    acknowledge_all(run, product)
    exceptional_release(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"], justification="no alternative product",
                        physician="doc2", physician_password=PASSWORDS["doc2"])

    # when its certificate is printed
    pdf, _ = issue_certificate(session, actor=run.user("tech1"), din=product.din)
    pages, words = pdf_text(pdf)

    # then it says so in words, with the failed result, the physician and the reason
    assert pages == 1
    assert "EXCEPTIONAL RELEASE" in words and "did not meet" in words
    assert "FAIL" in words and "40.0 %" in words
    assert "Dr. Nasrin Physician" in words and "Approved exceptional release" in words
    assert "no alternative product" in words


def test_the_longest_texts_the_records_hold_still_fit_on_one_page(session):
    # given an exceptional release later suspended and re-released, every free text at the
    # longest the records allow (method and instrument 120 characters each, reasons 2,000)
    _, product = product_at(session, "released")
    certificate = certificate_of(session, product.din)
    method = "m" * 60 + " " + "n" * 59 + "; instrument " + "i" * 120
    reason = ("a long reason " * 150)[:2000]
    signed = certificate.release[0]
    longest = replace(
        certificate,
        results=(*(replace(r, method=method + r.method) for r in certificate.results),
                 replace(certificate.results[0], test="Mycoplasma", result="absent")),
        release=(replace(signed, meaning="Approved exceptional release", justification=reason),
                 replace(signed, justification=reason),
                 replace(signed, meaning="Re-released", justification=reason)),
        exceptional=True, processing_facility="F" * 60 + " " + "a" * 120,
        collection_facility="Operating room " + "o" * 30 + ", " + "F" * 60)

    # then it is still one page, the cut texts saying where the rest is
    pages, words = pdf_text(render_certificate(longest))
    assert pages == 1
    assert "(see the batch record)" in words


def test_a_certificate_that_would_need_a_second_page_is_refused(session):
    _, product = product_at(session, "released")
    certificate = certificate_of(session, product.din)
    many = replace(certificate, results=certificate.results * 8)
    with pytest.raises(CertificateOverflow):
        render_certificate(many)


def test_audit_verify_reconciles_each_certificate_with_its_event(session):
    # given two certificates printed through the system
    run, product = product_at(session, "released")
    _, first = issue_certificate(session, actor=run.user("tech1"), din=product.din)
    _, second = issue_certificate(session, actor=run.user("qa1"), din=product.din)
    assert verify_all(session).ok

    # when one row's hash is changed and another row is written behind the system's back
    session.execute(text("UPDATE certificate SET content_hash = :h WHERE id = :id"),
                    {"h": "f" * 64, "id": first.id})
    session.execute(text(
        "INSERT INTO certificate (product_id, content_hash, generated_by_id, generated_at, "
        "specification_set_id) VALUES (:p, :h, :u, :at, :s)"),
        {"p": product.id, "h": "e" * 64, "u": run.user("tech1").id, "at": utcnow(),
         "s": second.specification_set_id})
    session.commit()

    # then verification names both
    report = verify_all(session)
    assert not report.ok
    found = {(p.where.split(" (")[0], p.what) for p in report.problems}
    assert (f"certificate of analysis {first.id}", "content hash") in found
    assert any(what == "audit event" and where.startswith("certificate of analysis")
               for where, what in found)
