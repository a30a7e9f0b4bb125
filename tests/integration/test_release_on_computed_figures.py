"""Release rests on the figures computed from the formulation counts, not on typed ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from lims import demo_data as data
from lims.models import AuditEvent, Deviation, QcResult
from lims.services.common import utcnow
from lims.services.deviations import close_deviation
from lims.services.qc import complete_qc, record_qc_result
from lims.services.release import exceptional_release, release_product
from tests.factories import (
    PASSWORDS,
    acknowledge_all,
    advance,
    enter_qc,
    make_product,
    perform,
    qc_sample_of,
    seeded,
    snapshot,
    step_time,
    step_values,
)
from workflows.errors import DomainError, ErrorCode

E = ErrorCode


def formulated_with(session, total_cells):
    """A CD133 product formulated from `total_cells` (the demo: 5.2e6, a 4.46e6 dose)."""
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched",
                              t0=utcnow() - timedelta(hours=8))
    values = {**step_values("formulate", "CD133", step_time(product, "formulate")),
              "total_cells": total_cells}
    product = perform(run, product, "formulate", values=values).product
    assert product.state == "formulated"
    return run, product


def deviations(session, product):
    session.commit()
    return session.exec(select(Deviation).where(Deviation.product_id == product.id)).all()


def release(run, product):
    acknowledge_all(run, product)
    return release_product(run.session, actor=run.user("qa1"), din=product.din,
                           password=PASSWORDS["qa1"])


def test_a_typed_dose_far_above_the_computed_dose_opens_a_deviation_and_blocks_release(session):
    # given a product whose formulation counts give 4.3e5 viable CD133+ cells
    run, product = formulated_with(session, 5.0e5)
    # when QC types a viable dose of 1.5e6
    enter_qc(run, product, {**data.qc_results("CD133"), "viable_dose": "1.5e6"})
    # then a major dose-discrepancy deviation is open, naming both figures
    [deviation] = deviations(session, product)
    assert (deviation.kind, deviation.classification, deviation.status) == (
        "dose_discrepancy", "major", "open")
    assert "1.50 × 10⁶ cells" in deviation.description  # one format: no "1.5e+06"
    assert "0.429 × 10⁶ cells" in deviation.description
    # and the typed figure, though within specification, does not make a normal release
    product = complete_qc(session, actor=run.user("tech2"), din=product.din)
    before = snapshot(session, product.din)
    with pytest.raises(DomainError) as refused:
        release(run, product)
    assert refused.value.code == E.DEVIATION_OPEN
    assert snapshot(session, product.din) == before
    # once QA closed the deviation, the computed dose below the minimum still fails
    close_deviation(session, actor=run.user("qa1"), deviation_id=deviation.id,
                    disposition="QC typed the pre-dilution count", password=PASSWORDS["qa1"])
    with pytest.raises(DomainError) as low:
        release(run, product)
    assert low.value.code == E.QC_FAILED and "computed viable dose" in low.value.detail
    # so only an exceptional release with the physician's signature is possible
    acknowledge_all(run, product)
    released = exceptional_release(session, actor=run.user("qa1"), din=product.din,
                                   password=PASSWORDS["qa1"],
                                   justification="no second harvest possible",
                                   physician="doc2", physician_password=PASSWORDS["doc2"])
    assert released.state == "released"


def test_the_deviation_is_written_with_the_qc_result_that_caused_it(session):
    run, product = formulated_with(session, 5.0e5)

    row = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                           test="viable_dose", value="1.5e6",
                           **qc_sample_of(session, product.din, "viable_dose"))

    session.commit()
    raised = session.exec(select(AuditEvent).where(
        AuditEvent.action == "deviation_raised")).one()
    entered = session.exec(select(AuditEvent).where(AuditEvent.action == "qc_result")).one()
    assert raised.seq == entered.seq + 1 and raised.user_id == row.analyst_id


def test_a_computed_dose_below_the_minimum_allows_only_exceptional_release(session):
    # given formulation counts below the minimum and a QC dose that agrees with them
    run, product = formulated_with(session, 5.0e5)
    enter_qc(run, product, {**data.qc_results("CD133"), "viable_dose": "4.3e5"})
    product = complete_qc(session, actor=run.user("tech2"), din=product.din)
    assert deviations(session, product) == []
    # when QA releases it normally it is refused on the computed dose
    with pytest.raises(DomainError) as refused:
        release(run, product)
    assert refused.value.code == E.QC_FAILED
    assert "computed viable dose" in refused.value.detail


def test_a_typed_viability_far_from_the_formulation_viability_opens_a_deviation(session):
    run, product = formulated_with(session, 5.2e6)

    record_qc_result(session, actor=run.user("tech2"), din=product.din, test="viability",
                     value="80", **qc_sample_of(session, product.din, "viability"))

    [deviation] = deviations(session, product)
    assert deviation.kind == "dose_discrepancy" and "viability" in deviation.description


def test_figures_within_tolerance_open_nothing_and_release_normally(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released",
                              t0=utcnow() - timedelta(hours=8))
    assert product.state == "released"
    assert deviations(session, product) == []


def test_a_second_disagreeing_entry_adds_to_the_open_deviation(session):
    run, product = formulated_with(session, 5.0e5)
    tech = run.user("tech2")
    record_qc_result(session, actor=tech, din=product.din, test="viable_dose", value="1.5e6",
                     **qc_sample_of(session, product.din, "viable_dose"))

    record_qc_result(session, actor=tech, din=product.din, test="viable_dose", value="1.4e6",
                     reason="recounted", **qc_sample_of(session, product.din, "viable_dose"))

    assert len(deviations(session, product)) == 1
    session.commit()
    assert len(session.exec(select(QcResult).where(QcResult.product_id == product.id)).all()) == 2


def test_release_of_a_product_made_the_usual_way_still_passes(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated",
                              t0=utcnow() - timedelta(hours=8))
    product = advance(run, product, "released")
    assert product.state == "released"
