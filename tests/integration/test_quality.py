"""QC against specifications, deviations, Part 11 signatures, review by exception, alerts."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlmodel import select

from lims import demo_data as data
from lims.models import Alert, AuditEvent, PrintJob, Product, Signature, User
from lims.services.alerts import acknowledge_alert
from lims.services.batch_record import batch_record, batch_record_pdf
from lims.services.common import user_by_name, utcnow
from lims.services.deviations import close_deviation, raise_deviation
from lims.services.labels import print_label
from lims.services.qc import complete_qc, record_qc_result
from lims.services.queries import containers
from lims.services.release import exceptional_release, release_product
from lims.services.review import qa_queue, review_summary
from lims.services.signature_check import signature_state
from lims.services.specifications import (
    approve_specification,
    new_specification_version,
    specification_of,
)
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    make_patient,
    make_product,
    perform,
    qc_sample_of,
    seeded,
    step_time,
    step_values,
)
from workflows.errors import DomainError, ErrorCode


def formulated(run, arm="CD133"):
    patient = make_patient(run, arm)
    return run.process(patient, utcnow() - timedelta(hours=7), until="formulated"), patient


def enter_qc(run, product, **overrides):
    results = {**data.qc_results(product.arm), **overrides}
    for test, value in results.items():
        record_qc_result(run.session, actor=run.user("tech2"), din=product.din, test=test,
                         value=value, **qc_sample_of(run.session, product.din, test))
    return complete_qc(run.session, actor=run.user("tech2"), din=product.din)


def test_a_product_with_a_failed_specification_needs_an_exceptional_release(session):
    # given a CD133 product whose CD133+ purity fails the release specification
    run = seeded(session)
    product, _ = formulated(run)
    product = enter_qc(run, product, cd133_purity="40")
    qa = run.user("qa1")
    # when QA tries a normal release
    with pytest.raises(DomainError) as refused:
        release_product(session, actor=qa, din=product.din, password=PASSWORDS["qa1"])
    # then it is refused and nothing is signed
    assert refused.value.code == ErrorCode.QC_FAILED
    assert session.exec(select(Signature).where(Signature.meaning == "Released")).all() == []
    # when QA acknowledges each exception and releases it exceptionally with the
    # physician's signed approval
    acknowledge_all(run, product)
    released = exceptional_release(session, actor=qa, din=product.din,
                                   password=PASSWORDS["qa1"],
                                   justification="no alternative product; benefit outweighs risk",
                                   physician="doc2", physician_password=PASSWORDS["doc2"])
    # then it is released with both signatures, each with printed name and meaning
    assert released.state == "released"
    meanings = {s.meaning: s.printed_name for s in session.exec(select(Signature).where(
        Signature.product_id == product.id, Signature.record_type == "product"))}
    assert meanings == {"Approved exceptional release": "Dr. Nasrin Physician",
                        "Released": "Maryam QA Reviewer"}


def test_exceptional_release_is_refused_without_a_physician(session):
    run = seeded(session)
    product, _ = formulated(run)
    enter_qc(run, product, viability="55")
    with pytest.raises(DomainError) as refused:
        exceptional_release(session, actor=run.user("qa1"), din=product.din,
                            password=PASSWORDS["qa1"], justification="urgent",
                            physician="tech1", physician_password=PASSWORDS["tech1"])
    assert refused.value.code == ErrorCode.PHYSICIAN_APPROVAL_REQUIRED
    assert session.get(Product, product.id).state == "awaiting_release"


def test_a_wrong_password_signs_nothing_and_is_audited(session):
    run = seeded(session)
    product, _ = formulated(run)
    enter_qc(run, product)
    with pytest.raises(DomainError) as refused:
        release_product(session, actor=run.user("qa1"), din=product.din, password="wrong-pass")
    assert refused.value.code == ErrorCode.SIGNATURE_NOT_AUTHENTICATED
    assert session.exec(select(Signature).where(Signature.meaning == "Released")).all() == []
    assert session.get(Product, product.id).state == "awaiting_release"
    failures = session.exec(select(AuditEvent).where(AuditEvent.action == "signin_failed")).all()
    assert [f.username for f in failures] == ["qa1"]


def test_repeated_failed_signing_makes_the_signer_wait(session):
    run = seeded(session)
    product, _ = formulated(run)
    enter_qc(run, product)
    for _ in range(5):
        with pytest.raises(DomainError):
            release_product(session, actor=run.user("qa1"), din=product.din, password="nope-nope")
    with pytest.raises(DomainError) as locked:
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"])
    assert locked.value.code == ErrorCode.SIGNIN_THROTTLED  # a wait in words, never a lock


def test_a_signature_cannot_be_applied_for_someone_else(session):
    run = seeded(session)
    product, _ = formulated(run)
    enter_qc(run, product)
    with pytest.raises(DomainError) as refused:
        release_product(session, actor=run.user("qa1"), din=product.din, username="super1",
                        password=PASSWORDS["super1"])
    assert refused.value.code == ErrorCode.SIGNATURE_INVALID


def test_editing_a_signed_record_after_signing_is_visible(session):
    # given a released product
    run = seeded(session)
    product, _ = formulated(run)
    enter_qc(run, product)
    acknowledge_all(run, product)
    release_product(session, actor=run.user("qa1"), din=product.din, password=PASSWORDS["qa1"])
    signature = session.exec(select(Signature).where(Signature.meaning == "Released")).one()
    assert signature_state(session, signature) == "valid"
    # when a QC result is corrected after release
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="0.2", reason="transcription error corrected from instrument print",
                     **qc_sample_of(session, product.din, "endotoxin"))
    # then the release signature shows that its record changed, on screen and in the PDF
    assert signature_state(session, signature) == "record changed after signing"
    record = batch_record(session, product.din)
    released = next(s for s in record.signatures if s.meaning == "Released")
    assert "RECORD CHANGED AFTER SIGNING" in released.record


def test_an_open_major_deviation_blocks_release_until_qa_closes_it(session):
    run = seeded(session)
    product, _ = formulated(run)
    enter_qc(run, product)
    deviation = raise_deviation(session, actor=run.user("tech1"), din=product.din,
                                step="isolate_mnc", description="centrifuge brake engaged",
                                classification="major", immediate_action="quarantined")
    with pytest.raises(DomainError) as refused:
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"])
    assert refused.value.code == ErrorCode.DEVIATION_OPEN
    close_deviation(session, actor=run.user("qa1"), deviation_id=deviation.id,
                    disposition="MNC count and viability within spec; no impact",
                    password=PASSWORDS["qa1"])
    acknowledge_all(run, product)
    assert release_product(session, actor=run.user("qa1"), din=product.din,
                           password=PASSWORDS["qa1"]).state == "released"
    kinds = {e.kind for e in review_summary(session, product.din).exceptions}
    assert "deviation" in kinds


def test_a_positive_culture_after_release_raises_an_alert_that_must_be_acknowledged(session):
    # given an administered CD133 product whose culture was pending at release
    run = seeded(session)
    patient = make_patient(run, "CD133")
    product = run.process(patient, utcnow() - timedelta(hours=7))
    assert product.state == "administered"
    # when the culture turns positive
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="sterility",
                     value="growth", **qc_sample_of(session, product.din, "sterility"))
    # then an alert names the physician who administered it and is on the QA queue
    alert = session.exec(select(Alert)).one()
    physician = session.get(User, alert.notify_physician_id)
    assert physician.username == "doc1" and "Dr. Ali Physician" in alert.message
    assert [item.alert for item in qa_queue(session) if item.din == product.din] == [alert.message]
    # when a wrong password is used the alert stays open
    with pytest.raises(DomainError):
        acknowledge_alert(session, actor=run.user("doc1"), alert_id=alert.id, password="nope-nope")
    assert session.get(Alert, alert.id).acknowledged_at is None
    # then acknowledging by signature clears it from the queue
    acknowledge_alert(session, actor=run.user("doc1"), alert_id=alert.id,
                      password=PASSWORDS["doc1"], note="patient contacted, cultures drawn")
    assert [i for i in qa_queue(session) if i.din == product.din] == []
    assert session.exec(select(Signature).where(Signature.meaning == "Acknowledged")).one()


def test_a_new_specification_version_does_not_change_products_already_made(session):
    run = seeded(session)
    product, _ = formulated(run)
    new_specification_version(session, actor=user_by_name(session, "admin"),
                              protocol_code="NCT00713934", arm="CD133",
                              changes={"viability_min_pct": 99.0},
                              reason="tightened after validation")
    approve_specification(session, actor=run.user("qa1"), username="qa1",
                          password=PASSWORDS["qa1"], protocol_code="NCT00713934", arm="CD133",
                          version=2)
    spec, version = specification_of(session, product)
    assert (spec.viability_min_pct, version) == (70.0, "CD133 v1")
    later, _ = formulated(run)
    assert specification_of(session, later)[1] == "CD133 v2"


def test_a_late_qc_entry_and_a_correction_appear_in_the_review(session):
    run = seeded(session)
    # formulated 35 h ago: its sample tested 30 h ago is entered only now
    product = run.process(make_patient(run, "CD133"), utcnow() - timedelta(hours=40),
                          until="formulated")
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="0.1", tested_at=utcnow() - timedelta(hours=30),
                     **qc_sample_of(session, product.din, "endotoxin"))
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="0.15", reason="re-read plate",
                     **qc_sample_of(session, product.din, "endotoxin"))
    kinds = [e.kind for e in review_summary(session, product.din).exceptions]
    assert "correction" in kinds
    with pytest.raises(DomainError) as refused:
        record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                         value="0.2", **qc_sample_of(session, product.din, "endotoxin"))
    assert refused.value.code == ErrorCode.REASON_REQUIRED


def test_the_batch_record_pdf_matches_the_database(session):
    run = seeded(session)
    patient = make_patient(run, "CD133")
    product = run.process(patient, utcnow() - timedelta(hours=7))
    pdf = batch_record_pdf(session, product.din)
    reader = PdfReader(BytesIO(pdf))
    pages = [page.extract_text() for page in reader.pages]
    text = "\n".join(pages)
    record = batch_record(session, product.din)
    assert record.din_text in pages[0] and patient.subject_id in pages[0]
    assert all(f"Page {i} of {len(pages)}" in page for i, page in enumerate(pages, 1))
    for signature in session.exec(select(Signature).where(Signature.product_id == product.id)):
        assert signature.printed_name in text and signature.meaning in text
    for step in ("RBC sedimentation", "CliniMACS"):
        assert step in text
    assert "88.4" in text  # CD133 purity as entered


def test_a_label_reprint_appears_in_the_review_with_its_reason(session):
    run = seeded(session)
    product, _ = formulated(run)
    final = next(c for c in containers(session, product.din) if c.kind == "final_product")
    assert final.id is not None
    assert "reprint" not in [e.kind for e in review_summary(session, product.din).exceptions]

    print_label(session, actor=run.user("tech1"), din=product.din, container_id=final.id,
                format="zpl", reason="label torn while sealing the bag")

    reprints = [e.text for e in review_summary(session, product.din).exceptions
                if e.kind == "reprint"]
    assert len(reprints) == 1
    assert "final product" in reprints[0] and "label torn while sealing the bag" in reprints[0]


def test_the_batch_record_reconciles_every_label_print_with_its_scan_back(session):
    run = seeded(session)
    patient = make_patient(run, "BM-MNC")
    product = run.process(patient, utcnow() - timedelta(hours=7))
    final = next(c for c in containers(session, product.din) if c.kind == "final_product")
    jobs = session.exec(select(PrintJob).where(PrintJob.product_id == product.id)).all()

    record = batch_record(session, product.din)

    assert len(record.label_prints) == len(jobs) > 0
    assert all(line.scanned_back_at is not None for line in record.label_prints)
    assert [line.kind for line in record.label_prints if line.container == "final product"] \
        == ["in-process label", "final label", "issue label"]  # the lab's words for each kind
    assert final.label_verified_at is not None
    text = "\n".join(page.extract_text() for page in
                     PdfReader(BytesIO(batch_record_pdf(session, product.din))).pages)
    assert f"Labels printed ({len(jobs)})" in text


def test_a_step_recorded_long_after_the_times_it_reports_appears_as_a_late_entry(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="collected",
                              t0=utcnow() - timedelta(hours=7))
    reported = step_time(product, "receive")

    perform(run, product, "receive", at=reported + timedelta(hours=3),
            values=step_values("receive", product.arm, reported))

    late = [e.text for e in review_summary(session, product.din).exceptions
            if e.kind == "late_entry"]
    assert len(late) == 1
    assert "Transport and receipt recorded 3" in late[0] and "limit 2 h" in late[0]
