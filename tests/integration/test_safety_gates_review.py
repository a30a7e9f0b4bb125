"""QA review by exception and the batch record show the safety gates' exceptions and how
each was resolved: release suspension, dose discrepancy, four eyes on QC."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

from pypdf import PdfReader

from lims import demo_data as data
from lims.services.batch_record import batch_record, batch_record_pdf
from lims.services.common import utcnow
from lims.services.qc import complete_qc, record_qc_result
from lims.services.qc_verification import verify_qc_correction
from lims.services.release import re_release_product
from lims.services.review import qa_queue, review_summary
from lims.services.users import create_user
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    enter_qc,
    make_product,
    perform,
    qc_sample_of,
    seeded,
    step_time,
    step_values,
)


def kinds(session, din, reviewer_id=None):
    """Exception kind → its texts joined (a kind may occur more than once)."""
    shown: dict[str, str] = {}
    for e in review_summary(session, din, reviewer_id).exceptions:
        shown[e.kind] = f"{shown[e.kind]} | {e.text}" if e.kind in shown else e.text
    return shown


def pdf_text(session, din):
    reader = PdfReader(BytesIO(batch_record_pdf(session, din)))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_a_suspension_and_its_resolution_show_in_the_review_and_the_batch_record(session):
    # given a released product whose endotoxin was corrected to 500
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=8))
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="500", reason="dilution factor omitted",
                     **qc_sample_of(session, product.din, "endotoxin"))
    # then the QA queue lists it and the review leads with the suspension
    assert product.din in [item.din for item in qa_queue(session)]
    shown = kinds(session, product.din)
    assert "RELEASE SUSPENDED" in shown["suspension"]
    # when it is corrected, the correction awaits verification
    corrected = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                                 test="endotoxin", value="0.12", reason="repeat test",
                                 **qc_sample_of(session, product.din, "endotoxin"))
    assert "awaits verification" in kinds(session, product.din)["verification"]
    assert "AWAITING VERIFICATION" in pdf_text(session, product.din)
    # when it is verified and re-released
    verify_qc_correction(session, actor=run.user("super1"), result_id=corrected.id,
                         password=PASSWORDS["super1"])
    acknowledge_all(run, product)
    re_release_product(session, actor=run.user("qa1"), din=product.din,
                       password=PASSWORDS["qa1"], note="verified correction")
    # then the review and the batch record tell the suspension and how it ended
    summary = review_summary(session, product.din)
    history = [e.text for e in summary.exceptions if e.kind == "suspension"]
    assert any(t.startswith("release suspended at") for t in history)
    assert any("suspension ended" in t and "now released" in t for t in history)
    assert "verification" not in {e.kind for e in summary.exceptions}
    record = batch_record(session, product.din)
    assert {e.kind for e in record.exceptions} >= {"suspension", "correction"}
    text = pdf_text(session, product.din)
    assert "suspension ended" in text and "Re-released" in text
    assert "verified by" in text


def test_a_dose_discrepancy_and_the_computed_dose_show_in_the_review(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched",
                              t0=utcnow() - timedelta(hours=8))
    values = {**step_values("formulate", "CD133", step_time(product, "formulate")),
              "total_cells": 5.0e5}
    product = perform(run, product, "formulate", values=values).product
    enter_qc(run, product, {**data.qc_results("CD133"), "viable_dose": "1.5e6"})
    complete_qc(session, actor=run.user("tech2"), din=product.din)

    summary = review_summary(session, product.din)
    shown = kinds(session, product.din)

    assert "dose_discrepancy" in shown and "major, open" in shown["dose_discrepancy"]
    assert "computed viable dose" in shown["computed_figure"]
    assert summary.releasable is False
    assert "DOSE_DISCREPANCY" in pdf_text(session, product.din)


def test_the_review_tells_a_qa_reviewer_who_entered_qc_that_they_cannot_decide(session):
    run = seeded(session)
    qa2 = create_user(session, actor=None, username="qa2", full_name="Second QA Reviewer",
                      role="qa", password="qa2-password-long")
    product, _ = make_product(run, arm="BM-MNC", until="formulated",
                              t0=utcnow() - timedelta(hours=8))
    record_qc_result(session, actor=qa2, din=product.din, test="endotoxin", value="0.1",
                     **qc_sample_of(session, product.din, "endotoxin"))

    shown = kinds(session, product.din, reviewer_id=qa2.id)

    assert "entered the Endotoxin result" in shown["independence"]
