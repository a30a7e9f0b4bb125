"""Cells and volume between containers, through perform_step: a step cannot take in more
than the container it takes from holds, inputs are carried forward, and a recovery above
100 % opens a deviation for QA."""

from __future__ import annotations

import pytest
from sqlmodel import select

from lims.models import AuditEvent, Container, Deviation, Protocol
from lims.services.steps import StepDataInvalid
from lims.services.verification import verify_all
from tests.factories import advance, make_product, perform, seeded, snapshot
from tests.integration.test_guards import refused, with_values
from workflows.errors import ErrorCode


def test_a_formulation_of_11_million_cells_from_a_5_7_million_cd133_fraction_is_refused(
        session):
    # given an enriched product whose CD133+ target fraction holds 950/µL × 6 ml = 5.7e6 cells
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")

    # when the formulation claims 11e6 cells
    error = refused(run, product, "formulate",
                    values=with_values(product, "formulate", total_cells=11e6))

    # then it is refused, naming both figures and both containers, and nothing is written
    assert isinstance(error, StepDataInvalid) and error.code == ErrorCode.STEP_DATA_INVALID
    message = error.errors["total_cells"]
    assert "11.0 × 10⁶ cells" in message and "final product" in message
    assert "5.70 × 10⁶ cells" in message and "CD133+ target fraction" in message
    assert verify_all(session).ok


def test_a_bm_mnc_formulation_cannot_hold_more_cells_than_the_mnc_isolated(session):
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="mnc_isolated")

    error = refused(run, product, "formulate",
                    values=with_values(product, "formulate", total_cells=3e9))

    assert isinstance(error, StepDataInvalid)
    assert "MNC container" in error.errors["total_cells"]


def test_more_volume_into_sedimentation_than_the_harvest_put_in_the_bag_is_refused(session):
    # given a bag harvested with 205 ml
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    error = refused(run, product, "sediment",
                    values=with_values(product, "sediment", volume_in_ml=260))

    assert isinstance(error, StepDataInvalid)
    message = error.errors["volume_in_ml"]
    assert "260 ml" in message and "205 ml" in message
    assert "marrow collection bag" in message


def test_a_volume_within_the_counting_tolerance_is_accepted(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    result = perform(run, product, "sediment",
                     values=with_values(product, "sediment", volume_in_ml=220))

    assert result.product.state == "rbc_reduced"
    assert result.record.values["volume_in_ml"] == 220.0


def test_the_tolerance_is_the_protocols_to_set(session):
    run = seeded(session)
    protocol = session.exec(select(Protocol)).one()
    protocol.parameters = {**protocol.parameters, "balance_tolerance_pct": 0.0}
    session.add(protocol)
    session.commit()
    product, _ = make_product(run, arm="CD133", until="received")

    refused(run, product, "sediment", values=with_values(product, "sediment", volume_in_ml=210))


def test_an_input_left_empty_is_carried_forward_from_the_earlier_step(session):
    # given a received bag of 205 ml, and then an MNC container of 1.2e9 cells
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="received")

    # when the bench leaves the volume in empty
    result = perform(run, product, "sediment",
                     values=with_values(product, "sediment", volume_in_ml=""))

    # then the record holds the harvested volume, the trail says nobody typed it,
    # and so on down the line
    assert result.record.values["volume_in_ml"] == 205.0
    session.commit()
    [event] = session.exec(select(AuditEvent).where(
        AuditEvent.action == "input_carried_forward")).all()
    assert (event.entity_id, event.field) == (str(result.record.id), "volume_in_ml")
    product = perform(run, result.product, "isolate_mnc").product
    result = perform(run, product, "enrich", values=with_values(product, "enrich", pre_tnc=None))
    assert result.record.values["pre_tnc"] == pytest.approx(1.2e9)  # 24,000/µL × 50 ml
    assert verify_all(session).ok


def test_the_volume_injected_defaults_to_the_syringe_and_may_not_exceed_it(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="issued")

    error = refused(run, product, "administer",
                    values=with_values(product, "administer", volume_injected_ml=6.5))
    assert isinstance(error, StepDataInvalid) and "volume_injected_ml" in error.errors

    result = perform(run, product, "administer",
                     values=with_values(product, "administer", volume_injected_ml=None))
    # 5 ml formulated, less the demo's two 0.5 ml QC samples
    assert result.record.values["volume_injected_ml"] == pytest.approx(4.0)


def test_a_recovery_above_100_percent_is_saved_flagged_and_opens_a_deviation(session):
    # given an MNC container of 1.2e9 cells with 0.8 % CD133+ (9.6e6 CD133+ cells)
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="mnc_isolated")

    # when the target fraction counts 2100/µL × 6 ml at 88.4 % purity: 1.1e7 CD133+ (116 %)
    result = perform(run, product, "enrich",
                     values=with_values(product, "enrich", target_cells_per_ul=2100))

    # then the step is saved with the finding, and a major deviation awaits QA
    assert any("CD133+ recovery" in w and "above 100 %" in w for w in result.warnings)
    deviations = session.exec(select(Deviation).where(
        Deviation.product_id == product.id)).all()
    assert [(d.kind, d.classification, d.status) for d in deviations] == [
        ("cell_balance", "major", "open")]
    assert "CD133+ recovery" in deviations[0].description
    assert snapshot(session, product.din).state == "enriched"


def test_each_new_container_holds_the_volume_the_step_put_into_it(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")

    volumes = {c.kind: c.volume_ml for c in session.exec(select(Container).where(
        Container.product_id == product.id))}

    assert volumes == {"marrow_bag": 205.0, "rbc_reduced": 82.0, "mnc": 50.0,
                       "cd133_target": 6.0, "cd133_negative": 95.0}


def test_the_qc_samples_drawn_from_the_syringe_are_not_there_to_inject(session):
    # given a 5 ml formulation from which two QC samples of 0.5 ml were drawn
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")
    product = perform(run, product, "formulate", values=with_values(
        product, "formulate", qc_samples=2, qc_sample_volume_ml=0.5)).product
    product = advance(run, product, "issued")

    # when 5 ml are recorded as injected, then it is refused: the syringe held 4 ml
    error = refused(run, product, "administer",
                    values=with_values(product, "administer", volume_injected_ml=5))
    assert "4 ml" in error.errors["volume_injected_ml"]
    assert "final product" in error.errors["volume_injected_ml"]

    # and left empty, the volume injected is what the syringe held
    result = perform(run, product, "administer",
                     values=with_values(product, "administer", volume_injected_ml=None))
    assert result.record.values["volume_injected_ml"] == pytest.approx(4.0)


def test_qc_samples_cannot_take_the_whole_final_volume(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")

    error = refused(run, product, "formulate", values=with_values(
        product, "formulate", qc_samples=2, qc_sample_volume_ml=2.5))

    assert "qc_sample_volume_ml" in error.errors
