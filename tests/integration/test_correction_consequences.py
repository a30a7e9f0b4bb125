"""What a step correction reaches in its own transaction: printed labels that no longer say
what the records say are superseded and due again; QC results are judged again on the
corrected figures, with the consequences of a failing result (issue 11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from lims.models import AuditEvent, Container, Deviation, PrintJob, Product, QcResult
from lims.services.corrections import correct_step
from lims.services.labels import pending_labels, verify_label
from lims.services.qc import current_results, qc_status, record_qc_result
from lims.services.release import re_release_product, release_product
from lims.services.review import review_summary
from lims.services.verification import verify_all
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    advance,
    audit_count,
    coi_events,
    container_of,
    make_product,
    perform,
    qc_sample_of,
    seeded,
    snapshot,
    step_time,
)
from tests.integration.test_label_generations import fresh, label_scan
from workflows.errors import DomainError, ErrorCode


def released_with_final_label(run, arm: str = "BM-MNC") -> tuple[Product, Container]:
    product, _ = make_product(run, arm=arm, until="released")  # final label printed, verified
    final = container_of(run.session, product, "final_product")
    assert fresh(run.session, final).label_verified_at is not None
    return product, final


def corrected(run, product: Product, changes: dict[str, object], *, step: str = "formulate",
              reason: str = "batch sheet re-read"):
    return correct_step(run.session, actor=run.user("tech1"), din=product.din, step=step,
                        changes=changes, reason=reason)


# --- labels --------------------------------------------------------------------------------

def test_a_corrected_final_volume_supersedes_the_printed_final_label_at_issue(session):
    # given a released product wearing its scanned-back final label (10 ml)
    run = seeded(session)
    product, final = released_with_final_label(run)
    old = label_scan(session, product, final, "final")

    # when the formulation's final volume is corrected to 9 ml
    result = corrected(run, product, {"final_volume_ml": 9.0})

    # then the final label is superseded in the same change: its scan-back reset, the
    # label due again, the supersession and the reset in the trail, the review naming it
    # (the final label, and the in-process label under it, both print the volume)
    assert {(j.container_id, j.label_kind) for j in result.superseded_labels} == {
        (final.id, "final"), (final.id, "in_process")}
    assert fresh(session, final).label_verified_at is None
    assert audit_count(session, "label_superseded") == 2
    reset = session.exec(select(AuditEvent).where(
        AuditEvent.action == "label_verification_reset").order_by(
        col(AuditEvent.seq).desc())).first()
    assert reset is not None and "superseded" in (reset.reason or "")
    assert any(e.kind == "superseded_label" and "NOT YET PRINTED AGAIN" in e.text
               for e in review_summary(session, product.din).exceptions)
    # the correction after release suspended it; QA re-releases
    acknowledge_all(run, product)
    product = re_release_product(session, actor=run.user("qa1"), din=product.din,
                                 password=PASSWORDS["qa1"])
    due = [p for p in pending_labels(session, product.din) if p.container.id == final.id]
    assert [(p.kind, p.printed) for p in due] == [("final", False)]

    # and the old final label is refused at issue, recorded as a wrong scan, nothing written
    before, wrong = snapshot(session, product.din), len(coi_events(session, product))
    with pytest.raises(DomainError) as refused:
        perform(run, product, "issue", scan=old)
    assert refused.value.code == ErrorCode.COI_SUPERSEDED_LABEL
    assert "no longer says what the records say" in refused.value.detail
    assert snapshot(session, product.din) == before
    assert len(coi_events(session, product)) == wrong + 1
    # and at scan-back
    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech2"), din=product.din, scan=old)
    assert refused.value.code == ErrorCode.COI_SUPERSEDED_LABEL

    # once printed again (a reprint whose reason is the correction) and scanned back, the
    # new label says what the syringe holds, 9 ml less the 2 × 0.5 ml QC samples drawn from
    # it, and the product goes on
    [label] = run.label_all(product)
    assert label.volume_ml == 8.0 and label.reprint
    reprint = session.exec(select(PrintJob).where(PrintJob.container_id == final.id)
                           .order_by(col(PrintJob.id).desc())).first()
    assert reprint is not None and "correction" in (reprint.reason or "")
    assert any("printed again" in e.text for e in review_summary(session, product.din).exceptions
               if e.kind == "superseded_label")
    session.expunge(final)  # held here, it would keep the label it wore when loaded
    advance(run, product, "administered")
    report = verify_all(session)
    assert report.ok, report.lines


def test_a_correction_that_changes_no_label_supersedes_none(session):
    run = seeded(session)
    product, _ = released_with_final_label(run)
    result = corrected(run, product, {"count_method": "haemocytometer (manual)"})
    assert result.superseded_labels == ()
    assert audit_count(session, "label_superseded") == 0


def test_a_corrected_harvest_end_supersedes_labels_that_print_the_expiry(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")
    bag = container_of(session, product, "marrow_bag")
    old = label_scan(session, product, bag, "harvest")
    assert product.harvest_end is not None
    end = product.harvest_end - timedelta(minutes=10)

    result = correct_step(session, actor=run.user("doc1"), din=product.din, step="harvest",
                          changes={"harvest_end": end.isoformat()}, reason="OR clock")

    assert {j.label_kind for j in result.superseded_labels} >= {"harvest"}
    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech2"), din=product.din, scan=old)
    assert refused.value.code == ErrorCode.COI_SUPERSEDED_LABEL
    assert any(p.container.id == bag.id and not p.printed
               for p in pending_labels(session, product.din))


# --- QC results judged again ----------------------------------------------------------------

def released_with_endotoxin(run, value: str) -> Product:
    """A released BM-MNC product (70 kg, 10 ml: limit 35 EU/ml) with endotoxin `value`."""
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    session = run.session
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value=value, reason="re-read from the reader's print-out",
                     **qc_sample_of(session, product.din, "endotoxin"))
    acknowledge_all(run, product)
    product = release_product(session, actor=run.user("qa1"), din=product.din,
                              password=PASSWORDS["qa1"], now=step_time(product, "release"))
    run.label_all(product)
    return product


def endotoxin(session: Session, product: Product) -> QcResult:
    session.expire_all()
    return current_results(session, product)["endotoxin"]


def test_a_corrected_weight_that_fails_the_endotoxin_limit_suspends_the_release(session):
    # given a released product whose endotoxin (20 EU/ml) passes at 70 kg (limit 35)
    run = seeded(session)
    product = released_with_endotoxin(run, "20")
    assert endotoxin(session, product).passed is True
    alerts = audit_count(session, "alert_raised")

    # when the weight is corrected to 30 kg (limit 15 EU/ml)
    result = corrected(run, product, {"weight_kg": 30.0}, reason="weighed in lb, not kg")

    # then the result is judged again in the same change: a new row, failed, the old kept
    [row] = result.rejudged
    now = endotoxin(session, product)
    assert (now.id, now.value, now.passed) == (row.id, "20", False)
    assert "passed → FAILED" in (now.reason or "")
    old = session.exec(select(QcResult).where(QcResult.product_id == product.id,
                                              QcResult.test == "endotoxin",
                                              col(QcResult.superseded).is_(True))).all()
    assert any(r.passed is True for r in old)
    assert audit_count(session, "qc_rejudged") == 1
    # as a failing result after release: suspended and an alert for QA
    assert result.product.state == "release_suspended"
    assert audit_count(session, "alert_raised") == alerts + 1
    assert "endotoxin" in qc_status(session, result.product)[1]
    with pytest.raises(DomainError) as issued:
        perform(run, result.product, "issue")
    assert issued.value.code == ErrorCode.RELEASE_SUSPENDED
    report = verify_all(session)
    assert report.ok, report.lines


def test_a_corrected_weight_before_release_makes_the_release_refuse_the_endotoxin(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="20", reason="re-read", **qc_sample_of(session, product.din,
                                                                 "endotoxin"))
    corrected(run, product, {"weight_kg": 30.0}, reason="weighed in lb")
    with pytest.raises(DomainError) as refused:
        release_product(session, actor=run.user("qa1"), din=product.din,
                        password=PASSWORDS["qa1"])
    assert "endotoxin" in refused.value.detail.lower()
    assert verify_all(session).ok


def test_a_corrected_count_that_disagrees_with_the_typed_dose_opens_a_deviation(session):
    # given a product whose typed QC viable dose agrees with the computed one
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="awaiting_release")
    assert not session.exec(select(Deviation).where(
        Deviation.product_id == product.id, Deviation.kind == "dose_discrepancy")).all()

    # when the formulation's total cells are corrected to half
    corrected(run, product, {"total_cells": 2.3e8}, reason="count of the wrong tube")

    # then the typed-vs-computed check runs again and opens its deviation
    [deviation] = session.exec(select(Deviation).where(
        Deviation.product_id == product.id, Deviation.kind == "dose_discrepancy")).all()
    assert "viable dose" in deviation.description.lower()
    assert verify_all(session).ok


def test_a_qc_sample_drawn_from_the_final_product_after_labelling_supersedes_its_label(session):
    # given a released product wearing its scanned-back final label
    run = seeded(session)
    product, final = released_with_final_label(run)
    old = label_scan(session, product, final, "final")
    sample = qc_sample_of(session, product.din, "endotoxin")

    # when a repeat endotoxin test draws 2 ml more from the syringe (a correction of the
    # result, on a new sample)
    record_qc_result(session, actor=run.user("tech1"), din=product.din, test="endotoxin",
                     value="0.5", reason="repeat on a fresh sample",
                     **{**sample, "sample_volume_ml": 2.0})

    # then the label that states the volume and dose is superseded and due again
    assert fresh(session, final).label_verified_at is None
    with pytest.raises(DomainError) as refused:
        verify_label(session, actor=run.user("tech2"), din=product.din, scan=old)
    assert refused.value.code == ErrorCode.COI_SUPERSEDED_LABEL
    due = [p for p in pending_labels(session, product.din) if p.container.id == final.id]
    assert [(p.kind, p.printed) for p in due] == [("final", False)]
    [label] = run.label_all(product)
    assert label.volume_ml is not None and label.reprint
    report = verify_all(session)
    assert report.ok, report.lines
