"""The QA queue counts each product's exceptions from the records of the whole page read at
once (issue 14): the same exceptions, in the same words, as the product's own review, for
every kind of exception the review knows; in a few statements whatever the page's size."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, update
from sqlmodel import Session, col, select

from lims import demo_data as data
from lims.models import Notification, Patient, Product, StepRecord
from lims.services.common import utcnow
from lims.services.corrections import correct_step
from lims.services.deviations import raise_deviation
from lims.services.labels import print_label
from lims.services.qc import complete_qc, record_qc_result
from lims.services.qc_verification import verify_qc_correction
from lims.services.review import qa_queue, review_summaries, review_summary
from tests.factories import (
    PASSWORDS,
    advance,
    container_of,
    enter_qc,
    make_product,
    perform,
    qc_sample_of,
    scan_of,
    seeded,
    step_time,
    step_values,
)
from workflows.errors import DomainError
from workflows.product import requires_witness

# Every kind the review lists for a product a decision is due for (the reviewer's own
# independence is asked of review_summary with a reviewer only, never of the queue).
KINDS = {"suspension", "computed_figure", "out_of_spec", "pending", "late_entry", "correction",
         "verification", "deviation", "near_miss", "dose_discrepancy", "warning", "refusal",
         "witness", "time_window", "coi_refusal", "reprint", "superseded_label", "alert",
         "notification", "notification_undelivered"}
AGO = timedelta(hours=8)


def refused(run, product, step, scan) -> None:
    try:
        perform(run, product, step, scan=scan)
    except DomainError:
        return
    raise AssertionError(f"the scan at {step} was accepted")


def scans_steps_and_deviations(run) -> Product:
    """Awaiting release after wrong scans, a late receipt, a deviation and a reprint; its
    step records then edited in the database (a witness removed, findings, times)."""
    session = run.session
    product, _ = make_product(run, arm="BM-MNC", until="collected", t0=utcnow() - AGO)
    other, _ = make_product(run, arm="BM-MNC", until="collected", t0=utcnow() - AGO)
    refused(run, product, "receive", "not a label at all")  # coi_refusal
    refused(run, product, "receive", scan_of(session, other, "marrow_bag"))  # near miss
    reported = step_time(product, "receive")
    product = perform(run, product, "receive", at=reported + timedelta(hours=3),
                      values=step_values("receive", product.arm, reported)).product  # late
    product = advance(run, product, "formulated")
    raise_deviation(session, actor=run.user("tech1"), din=product.din, step="formulate",
                    classification="minor", description="the syringe cap was found loose")
    final = container_of(session, product, "final_product")
    print_label(session, actor=run.user("tech1"), din=product.din, container_id=final.id or 0,
                format="zpl", reason="label torn while sealing the bag")
    enter_qc(run, product)  # the demo's results: the culture still pending
    product = complete_qc(session, actor=run.user("tech2"), din=product.din)
    records = session.exec(select(StepRecord).where(StepRecord.product_id == product.id)
                           .order_by(col(StepRecord.id))).all()
    witnessed = next(r for r in records if requires_witness(r.step))
    receipt = next(r for r in records if r.step == "receive")
    other_step = next(r for r in records if r.step not in ("receive", witnessed.step))
    edit = session.connection().execute
    edit(update(StepRecord).where(col(StepRecord.id) == witnessed.id).values(witness_id=None))
    edit(update(StepRecord).where(col(StepRecord.id) == receipt.id).values(
        computed={**receipt.computed, "hours_since_harvest": 99.0}))
    edit(update(StepRecord).where(col(StepRecord.id) == other_step.id).values(
        findings=[{"action": "warn", "message": "viability near its limit"},
                  {"action": "refuse", "message": "overridden by the supervisor"}]))
    edit(update(Product).where(col(Product.id) == product.id).values(
        expires_at=utcnow() - timedelta(hours=1)))
    session.commit()
    return product


def dose_discrepancy(run) -> Product:
    product, _ = make_product(run, arm="CD133", until="enriched", t0=utcnow() - AGO)
    values = {**step_values("formulate", "CD133", step_time(product, "formulate")),
              "total_cells": 5.0e5}
    product = perform(run, product, "formulate", values=values).product
    enter_qc(run, product, {**data.qc_results("CD133"), "viable_dose": "1.5e6"})
    return complete_qc(run.session, actor=run.user("tech2"), din=product.din)


def failed_after_release(run, *, corrected_to: str | None, verified: bool) -> Product:
    """Released, then its endotoxin corrected to a failing 500 (suspended, an alert and its
    notifications), then corrected again (awaiting or given its verification)."""
    session = run.session
    product, _ = make_product(run, arm="BM-MNC", until="released", t0=utcnow() - AGO)
    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="endotoxin",
                     value="500", reason="dilution factor omitted",
                     **qc_sample_of(session, product.din, "endotoxin"))
    if corrected_to is not None:
        again = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                                 test="endotoxin", value=corrected_to, reason="repeat test",
                                 **qc_sample_of(session, product.din, "endotoxin"))
        if verified:
            verify_qc_correction(session, actor=run.user("super1"), result_id=again.id or 0,
                                 password=PASSWORDS["super1"])
    return product


def label_corrected(run, *, printed_again: bool) -> Product:
    """Released, then its final volume corrected: its labels superseded (suspended)."""
    product, _ = make_product(run, arm="BM-MNC", until="released", t0=utcnow() - AGO)
    correct_step(run.session, actor=run.user("tech1"), din=product.din, step="formulate",
                 changes={"final_volume_ml": 9.0}, reason="batch sheet re-read")
    if printed_again:
        run.label_all(product)
    return product


def delivered(session: Session, product: Product) -> None:
    """One of its notifications sent (written directly: no mail server in this test)."""
    note = session.exec(select(Notification).where(Notification.product_id == product.id)
                        .order_by(col(Notification.id))).first()
    assert note is not None
    session.connection().execute(update(Notification).where(col(Notification.id) == note.id)
                                 .values(status="sent", sent_at=utcnow(), attempts=1))
    session.commit()


def test_the_queue_counts_what_each_review_lists_for_every_kind_of_exception(session, engine):
    # given: products showing every kind of exception, a decision due for each
    run = seeded(session)
    noted = failed_after_release(run, corrected_to="0.12", verified=True)
    delivered(session, noted)
    products = [scans_steps_and_deviations(run), dose_discrepancy(run), noted,
                failed_after_release(run, corrected_to="0.15", verified=False),
                failed_after_release(run, corrected_to=None, verified=False),
                label_corrected(run, printed_again=False),
                label_corrected(run, printed_again=True)]
    session.commit()
    dins = [p.din for p in products]
    session.expunge_all()  # nothing carried over from building them

    # when: the queue, and the page's reviews read at once, and each product's own review
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        queue = {item.din: item.exceptions for item in qa_queue(session) if item.alert is None}
    finally:
        event.remove(engine, "before_cursor_execute", count)
    page = session.exec(select(Product, Patient.subject_id).join(
        Patient, col(Patient.id) == col(Product.patient_id)).where(
        col(Product.din).in_(dins))).all()
    together = {s.din: s for s in review_summaries(session, page)}
    alone = {din: review_summary(session, din) for din in dins}

    # then: the same count, the same exceptions in the same words and order, and the
    # same verdicts; every kind shown somewhere
    assert set(queue) == set(alone) == set(together)
    for din, summary in alone.items():
        assert queue[din] == len(summary.exceptions) > 0, din
        assert together[din].exceptions == summary.exceptions, din
        assert (together[din].missing_tests, together[din].failed_tests,
                together[din].failed_criteria, together[din].specification) == (
            summary.missing_tests, summary.failed_tests, summary.failed_criteria,
            summary.specification)
    texts = [e.text for s in alone.values() for e in s.exceptions]
    assert {e.kind for s in alone.values() for e in s.exceptions} >= KINDS
    assert any("NOT YET PRINTED AGAIN" in t for t in texts)
    assert any("printed again as" in t for t in texts)
    assert any("verified by" in t for t in texts)
    # a page of seven products (and three alerts) in a fixed, small number of statements
    assert len(statements) <= 25, len(statements)
