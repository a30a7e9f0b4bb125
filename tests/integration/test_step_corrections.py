"""Step data corrected like QC results: a new record with the reason, the old one kept and
superseded, each value audited old → new, and a release suspended when what QA signed
changed (issue 11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from lims.demo import PASSWORDS
from lims.models import AuditEvent, Container, StepRecord
from lims.services import step_store as store
from lims.services.batch_record import batch_record
from lims.services.corrections import correct_step
from lims.services.label_content import load_subject
from lims.services.release import re_release_product
from lims.services.review import review_summary
from lims.services.steps import StepDataInvalid
from lims.services.verification import verify_all
from tests.factories import acknowledge_all, advance, make_product, perform, seeded, snapshot
from tests.integration.test_guards import refused, with_values
from workflows.errors import DomainError, ErrorCode, Forbidden, InvalidInput


def records_of(session, product, step):
    session.commit()
    return session.exec(select(StepRecord).where(
        StepRecord.product_id == product.id, StepRecord.step == step)
        .order_by(col(StepRecord.id))).all()


def corrected_events(session, record_id):
    return session.exec(select(AuditEvent).where(
        AuditEvent.entity == "step_record", AuditEvent.entity_id == str(record_id),
        col(AuditEvent.action).in_(["step_corrected", "step_value_corrected"]))
        .order_by(col(AuditEvent.seq))).all()


def refused_correction(session, product, step, changes, *, reason="typo", user="tech1",
                       run=None):
    before = snapshot(session, product.din)
    flags = [r.superseded for r in records_of(session, product, step)]
    with pytest.raises(DomainError) as caught:
        correct_step(session, actor=run.user(user), din=product.din, step=step,
                     changes=changes, reason=reason)
    assert snapshot(session, product.din) == before
    assert [r.superseded for r in records_of(session, product, step)] == flags
    return caught.value


def test_a_corrected_value_makes_a_new_record_and_keeps_the_old_one_superseded(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    [old] = records_of(session, product, "sediment")

    result = correct_step(session, actor=run.user("tech1"), din=product.din, step="sediment",
                          changes={"wbc_out_per_ul": "40500"},
                          reason="analyser print-out read as 41,000; it says 40,500")

    old_now, new = records_of(session, product, "sediment")
    assert old_now.id == old.id and old_now.superseded and old_now.values == old.values
    assert (new.corrects_id, new.superseded, new.values["wbc_out_per_ul"]) == (
        old.id, False, 40500.0)
    assert new.reason == "analyser print-out read as 41,000; it says 40,500"
    assert new.computed["tnc_out"] == pytest.approx(40500 * 82 * 1000)
    events = corrected_events(session, new.id)
    assert [(e.action, e.field) for e in events][:2] == [
        ("step_corrected", "sediment"), ("step_value_corrected", "wbc_out_per_ul")]
    value = events[1]
    assert (float(value.old_value), float(value.new_value), value.reason) == (
        41000, 40500, new.reason)
    assert any(e.field == "tnc_out" for e in events)  # the recomputed figure, old → new
    assert result.product.version == product.version + 1
    assert verify_all(session).ok


def test_a_correction_needs_a_reason_and_writes_nothing_without_one(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    for reason in ("", "   "):
        error = refused_correction(session, product, "sediment", {"wbc_out_per_ul": 40500},
                                   reason=reason, run=run)
        assert error.code == ErrorCode.REASON_REQUIRED


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, InvalidInput),  # nothing named
    ({"wbc_out_per_ul": 41000}, InvalidInput),  # the value recorded: no change
    ({"rpm": 3000}, StepDataInvalid),  # not a field of the step
    ({"wbc_out_per_ul": -1}, StepDataInvalid),  # physically impossible
    ({"wbc_out_per_ul": True}, StepDataInvalid),  # yes/no is no count
    ({"ended_at": "2020-01-01T10:00+00:00"}, StepDataInvalid),  # before its start
])
def test_a_correction_that_is_no_change_or_impossible_is_refused(session, changes, expected):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    error = refused_correction(session, product, "sediment", changes, run=run)
    assert isinstance(error, expected)


def test_a_correction_into_the_future_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    from lims.services.common import utcnow
    later = (utcnow() + timedelta(hours=2)).isoformat()
    error = refused_correction(session, product, "isolate_mnc", {"ended_at": later}, run=run)
    assert "in the future" in str(error)


def test_a_correction_that_breaks_the_balance_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    # the step itself: 300 ml taken from a marrow bag of 205 ml
    error = refused_correction(session, product, "sediment", {"volume_in_ml": 300}, run=run)
    assert "marrow" in error.errors["volume_in_ml"]  # type: ignore[attr-defined]
    # a later step: a harvest of 100 ml, from which the sedimentation took 205 ml
    error = refused_correction(session, product, "harvest", {"volume_ml": 100}, run=run,
                               user="doc1")
    assert error.code == ErrorCode.STEP_DATA_INVALID
    assert "RBC sedimentation impossible" in error.detail


def test_who_may_correct_is_who_may_perform_the_step_or_a_supervisor(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    error = refused_correction(session, product, "sediment", {"wbc_out_per_ul": 40500},
                               run=run, user="doc1")
    assert isinstance(error, Forbidden)
    result = correct_step(session, actor=run.user("super1"), din=product.din,
                          step="sediment", changes={"wbc_out_per_ul": 40500}, reason="typo")
    assert result.records[0].operator_id == run.user("super1").id


def test_a_step_not_recorded_or_a_closed_product_cannot_be_corrected(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    error = refused_correction(session, product, "formulate", {"viability_pct": 90}, run=run)
    assert error.code == ErrorCode.NOT_FOUND
    done, _ = make_product(run, arm="BM-MNC", until="administered")
    error = refused_correction(session, done, "formulate", {"viability_pct": 90}, run=run)
    assert error.code == ErrorCode.INVALID_TRANSITION and "administered" in error.detail.lower()


def test_later_figures_resting_on_the_corrected_one_are_recomputed_with_it(session):
    # given a CD133 product whose dose rests on the enrichment purity
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    [formulation] = records_of(session, product, "formulate")

    # when the purity is corrected from 88.4 % to 80 %
    result = correct_step(session, actor=run.user("tech1"), din=product.din, step="enrich",
                          changes={"cd133_purity_pct": 80}, reason="gate set wrongly")

    # then the formulation is corrected with it: the dose is 80/88.4 of what it was
    assert [r.step for r in result.records] == ["enrich", "formulate"]
    new = result.records[1]
    assert new.corrects_id == formulation.id and "gate set wrongly" in (new.reason or "")
    assert new.computed["viable_dose"] == pytest.approx(
        formulation.computed["viable_dose"] * 80 / 88.4)
    assert new.values == formulation.values  # nothing typed changed there
    assert verify_all(session).ok


def test_a_superseded_record_is_never_counted_twice(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="released")
    correct_step(session, actor=run.user("tech1"), din=product.din, step="formulate",
                 changes={"final_volume_ml": 4.8}, reason="syringe re-read")

    ctx = store.load_context(session.connection(), product.din)
    assert ctx is not None
    context = store.step_context(session.connection(), ctx)
    assert context.previous["formulate"]["final_volume_ml"] == 4.8
    # the syringe: 4.8 ml less the two 0.5 ml QC samples
    from workflows.identity import ContainerKind
    assert context.holdings[ContainerKind.FINAL_PRODUCT].volume_ml == pytest.approx(3.8)
    final = session.exec(select(Container).where(Container.product_id == product.id,
                                                 Container.kind == "final_product")).one()
    assert final.volume_ml == 4.8
    record = batch_record(session, product.din)
    assert [s.step for s in record.steps].count("formulate") == 1
    subject = load_subject(session, din=product.din, container_id=final.id)
    assert subject.steps["formulate"].values["final_volume_ml"] == 4.8


def test_a_correction_after_release_suspends_it_until_qa_re_releases(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")

    result = correct_step(session, actor=run.user("tech1"), din=product.din, step="formulate",
                          changes={"viability_pct": 94.0}, reason="count re-read")

    assert result.release_suspended and result.product.state == "release_suspended"
    issued = refused(run, result.product, "issue")
    assert issued.code == ErrorCode.RELEASE_SUSPENDED
    assert any(e.kind == "correction" for e in review_summary(session, product.din).exceptions)
    assert verify_all(session).ok  # the first release still matches what it signed
    acknowledge_all(run, product)
    product = re_release_product(session, actor=run.user("qa1"), din=product.din,
                                 password=PASSWORDS["qa1"])
    assert product.state == "released"
    assert verify_all(session).ok
    run.label_all(product)  # the dose on the final label changed: it is printed again
    advance(run, product, "administered")


def test_a_correction_after_issue_of_the_issue_itself_leaves_the_release(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="issued")
    result = correct_step(session, actor=run.user("tech1"), din=product.din, step="issue",
                          changes={"temperature_c": 7.0}, reason="logger read")
    assert not result.release_suspended and result.product.state == "issued"


def test_a_corrected_harvest_end_moves_the_expiry(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")
    assert product.harvest_end is not None and product.expires_at is not None
    end = product.harvest_end - timedelta(minutes=10)
    result = correct_step(session, actor=run.user("doc1"), din=product.din, step="harvest",
                          changes={"harvest_end": end.isoformat()}, reason="OR clock")
    assert result.product.expires_at == product.expires_at - timedelta(minutes=10)
    receipt = result.records[-1]
    assert receipt.step == "receive"  # its time since the harvest end is recomputed
    assert verify_all(session).ok


def test_the_qc_samples_count_is_not_corrected_but_deviated(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    error = refused_correction(session, product, "formulate", {"qc_samples": 3}, run=run)
    assert "deviation" in error.errors["qc_samples"]  # type: ignore[attr-defined]


def test_a_lot_corrected_to_an_expired_one_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    error = refused_correction(session, product, "isolate_mnc", {"medium_lot": "FP2101X"},
                               run=run)
    assert error.code == ErrorCode.REAGENT_EXPIRED


def test_reconciliation_finds_a_record_superseded_without_a_correction(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    [record] = records_of(session, product, "sediment")
    record.superseded = True  # an attacker hides a record from every count
    session.add(record)
    session.commit()
    report = verify_all(session)
    assert not report.ok
    assert any("superseded" in line for line in report.lines)


def test_a_warning_step_and_a_later_perform_use_the_corrected_values(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    product = correct_step(session, actor=run.user("tech1"), din=product.din,
                           step="isolate_mnc", changes={"viability_pct": 75.0},
                           reason="7-AAD gate").product
    values = with_values(product, "enrich", pre_tnc=None)
    result = perform(run, product, "enrich", values=values)
    assert result.record.values["pre_tnc"] == pytest.approx(1.2e9)


def test_reconciliation_finds_a_correction_whose_reason_was_rewritten(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")
    result = correct_step(session, actor=run.user("tech1"), din=product.din, step="sediment",
                          changes={"wbc_out_per_ul": 40500}, reason="print-out re-read")
    assert verify_all(session).ok
    record = session.get(StepRecord, result.records[0].id)
    assert record is not None
    record.reason = "no reason"
    session.add(record)
    session.commit()
    assert any("reason" in line for line in verify_all(session).lines)
