"""QC results that say how they were obtained: method, instrument, the sample drawn from
the final product (when, how much), its volume no longer in the product; and the weight
at formulation behind every per-kg figure (issue 11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from lims.models import QcResult
from lims.services import step_store as store
from lims.services.common import utcnow
from lims.services.qc import record_qc_result
from lims.services.qc_sample import dose_weight_kg, formulated_at
from lims.services.verification import verify_all
from tests.factories import (
    advance,
    make_product,
    perform,
    qc_sample_of,
    seeded,
    snapshot,
)
from tests.integration.test_guards import refused, with_values
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.identity import ContainerKind


def enter(run, product, test="viability", value="96", **changes):
    sample = {**qc_sample_of(run.session, product.din, test), **changes}
    return record_qc_result(run.session, actor=run.user("tech2"), din=product.din, test=test,
                            value=value, **sample)


def refused_entry(run, product, test="viability", **changes):
    before = snapshot(run.session, product.din)
    with pytest.raises(DomainError) as caught:
        enter(run, product, test, **changes)
    assert snapshot(run.session, product.din) == before
    return caught.value


def test_a_result_keeps_its_method_instrument_and_sample(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    row = enter(run, product, method="7-aad flow cytometry")
    assert (row.method, row.instrument, row.sample_volume_ml) == (
        "7-AAD flow cytometry", "FC-01", 0.1)
    assert row.sample_drawn_at == formulated_at(session, product) + timedelta(minutes=1)


@pytest.mark.parametrize(("changes", "words"), [
    ({"method": ""}, "method is required"),
    ({"method": "astrology"}, "not a method of this test"),
    ({"instrument": ""}, "runs on a flow cytometer"),
    ({"sample_drawn_at": None}, "sample_drawn_at"),
    ({"sample_volume_ml": None}, "sample_volume_ml"),
    ({"sample_volume_ml": 0.0}, "sample_volume_ml"),
])
def test_a_first_result_without_how_it_was_obtained_is_refused(session, changes, words):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    error = refused_entry(run, product, **changes)
    assert isinstance(error, InvalidInput) and words in error.detail


def test_the_instrument_must_be_registered_of_the_right_type_and_calibrated(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    assert refused_entry(run, product, instrument="FC-99").code == ErrorCode.EQUIPMENT_UNKNOWN
    wrong = refused_entry(run, product, instrument="CF-01")
    assert wrong.code == ErrorCode.EQUIPMENT_WRONG_KIND and "centrifuge" in wrong.detail
    gel = refused_entry(run, product, "endotoxin", value="0.1", method="LAL gel clot")
    assert "uses no instrument" in gel.detail


def test_a_sample_drawn_before_formulation_or_in_the_future_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    made = formulated_at(session, product)
    assert made is not None
    early = refused_entry(run, product, sample_drawn_at=made - timedelta(hours=1))
    assert "before the final product was formulated" in early.detail
    future = refused_entry(run, product, sample_drawn_at=utcnow() + timedelta(hours=1))
    assert future.code == ErrorCode.TIME_IN_FUTURE


def test_a_correction_keeps_the_sample_of_the_result_it_corrects(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    first = enter(run, product, value="96")
    corrected = record_qc_result(session, actor=run.user("tech2"), din=product.din,
                                 test="viability", value="95", reason="re-gated")
    assert (corrected.method, corrected.instrument, corrected.sample_drawn_at,
            corrected.sample_volume_ml) == (first.method, first.instrument,
                                            first.sample_drawn_at, first.sample_volume_ml)


def test_qc_draws_beyond_the_formulation_samples_leave_less_to_administer(session):
    # given a released 5 ml syringe with two 0.5 ml QC tubes, whose six results took 0.6 ml
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="released")

    # when a mycoplasma sample of 1.4 ml is drawn: 2 ml in all, 1 ml beyond the tubes
    enter(run, product, "mycoplasma", value="absent", sample_volume_ml=1.4)

    # then the syringe holds 3 ml
    ctx = store.load_context(session.connection(), product.din)
    assert ctx is not None
    held = store.step_context(session.connection(), ctx).holdings[ContainerKind.FINAL_PRODUCT]
    assert held.volume_ml == pytest.approx(3.0)
    # and its final label, which said 4 ml, is printed again saying 3 ml
    [label] = run.label_all(product)
    assert label.volume_ml == pytest.approx(3.0) and label.reprint

    # and 4 ml cannot be injected from it; left empty, the volume injected is the 3 ml
    product = advance(run, product, "issued")
    error = refused(run, product, "administer",
                    values=with_values(product, "administer", volume_injected_ml=4))
    assert "volume_injected_ml" in error.errors
    result = perform(run, product, "administer",
                     values=with_values(product, "administer", volume_injected_ml=None))
    assert result.record.values["volume_injected_ml"] == pytest.approx(3.0)
    assert verify_all(session).ok


def test_a_sample_that_would_leave_nothing_to_administer_is_refused(session):
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    error = refused_entry(run, product, sample_volume_ml=5.0)
    assert "nothing would be left" in error.detail


def test_the_endotoxin_limit_uses_the_weight_taken_at_formulation(session):
    # given a patient enrolled at 70 kg who weighs 50 kg at formulation (5 ml product)
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="enriched")
    product = perform(run, product, "formulate",
                      values=with_values(product, "formulate", weight_kg=50)).product
    assert dose_weight_kg(session, product) == 50.0

    # when endotoxin is 60 EU/ml: the limit is 5 × 50 / 5 = 50 EU/ml (70 kg would give 70)
    row = enter(run, product, "endotoxin", value="60")

    # then it fails against the formulation weight, and reconciliation judges it the same
    assert row.passed is False
    assert verify_all(session).ok
    warned = session.exec(select(QcResult)).all()
    assert warned


def test_a_corrected_formulation_weight_is_what_later_results_are_judged_on(session):
    from lims.services.corrections import correct_step

    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="formulated")
    passed = enter(run, product, "endotoxin", value="60")  # 70 kg: limit 70 EU/ml
    assert passed.passed is True
    correct_step(session, actor=run.user("tech1"), din=product.din, step="formulate",
                 changes={"weight_kg": 50}, reason="weighed again on the ward")
    assert dose_weight_kg(session, product) == 50.0
    assert verify_all(session).ok  # the first result was judged on the weight of its day
