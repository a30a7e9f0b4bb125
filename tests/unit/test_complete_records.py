"""Records that are complete: step start and end, how cells were counted and on what, the
QC sample drawn, and the weight the dose per kg uses (issue 11)."""

from datetime import datetime, timedelta

import pytest

from tests.unit.test_steps import FORMS, at, make_context, run
from workflows.materials import EquipmentType, equipment_type_of
from workflows.protocol import ProtocolParameters
from workflows.qc_methods import (
    QC_METHODS,
    check_sample,
    drawn_from_final,
    instrument_problem,
    method_of,
)
from workflows.specifications import QC_TESTS
from workflows.step_cleaning import clean_values
from workflows.step_times import order_problems
from workflows.steps import STEPS, StepDataError


@pytest.mark.parametrize("step", ["sediment", "isolate_mnc", "formulate"])
def test_every_processing_step_asks_when_it_started_and_ended(step):
    spec = STEPS[step]
    assert spec.field("started_at").kind == "datetime" and spec.field("started_at").required
    assert spec.field("ended_at").kind == "datetime" and spec.field("ended_at").required
    with pytest.raises(StepDataError) as caught:
        run(step, started_at=None)
    assert caught.value.errors == {"started_at": "is required"}


@pytest.mark.parametrize("step", ["sediment", "isolate_mnc", "formulate"])
def test_a_step_that_ends_before_it_starts_is_refused(step):
    with pytest.raises(StepDataError) as caught:
        run(step, started_at=FORMS[step]["ended_at"], ended_at=FORMS[step]["started_at"])
    assert list(caught.value.errors) == ["ended_at"]


def test_a_step_of_no_minutes_is_out_of_order():
    values = {**FORMS["sediment"], "ended_at": FORMS["sediment"]["started_at"]}
    problems = order_problems(STEPS["sediment"], values, [])
    assert "0 minutes did not happen" in problems["ended_at"]


def test_a_sedimentation_longer_than_the_step_itself_is_refused():
    with pytest.raises(StepDataError) as caught:
        run("sediment", started_at=at("11:30"), ended_at=at("12:00"))
    assert "does not fit" in caught.value.errors["sedimentation_minutes"]


def test_every_step_that_counts_cells_names_the_method_and_the_counter():
    for step in ("sediment", "isolate_mnc", "enrich", "formulate"):
        spec = STEPS[step]
        assert spec.field("count_method").kind == "choice"
        assert spec.field("counter_id").equipment_type is EquipmentType.CELL_COUNTER
    for step in ("isolate_mnc", "enrich", "formulate"):
        assert STEPS[step].field("viability_method").kind == "choice"
        assert STEPS[step].field("cytometer_id").equipment_type is EquipmentType.FLOW_CYTOMETER


def test_a_counting_method_the_lab_does_not_use_is_refused():
    with pytest.raises(StepDataError) as caught:
        run("isolate_mnc", count_method="guessed")
    assert "must be one of" in caught.value.errors["count_method"]


@pytest.mark.parametrize(("kind", "expected"), [
    ("Haematology analyser Sysmex XN-350", EquipmentType.CELL_COUNTER),
    ("Cell counter NucleoCounter", EquipmentType.CELL_COUNTER),
    ("Flow cytometer BD FACSCanto II", EquipmentType.FLOW_CYTOMETER),
    ("flow  cytometer", EquipmentType.FLOW_CYTOMETER),
    ("Endotoxin reader PTS", EquipmentType.ENDOTOXIN_READER),
    ("Flowmeter", None),
    ("Cell", None),
])
def test_counters_and_cytometers_are_known_by_the_kind_they_are_registered_as(kind, expected):
    assert equipment_type_of(kind) is expected


# --- the weight the dose per kg uses ------------------------------------------------------------

def test_the_dose_per_kg_uses_the_weight_taken_at_formulation():
    outcome = run("formulate", weight_kg="60", context=make_context(weight_kg=62.0))
    assert outcome.computed["dose_per_kg"] == pytest.approx(outcome.computed["viable_dose"] / 60)
    limit = ProtocolParameters().endotoxin_limit_eu_per_kg * 60 / 10
    assert outcome.computed["endotoxin_limit_eu_per_ml"] == pytest.approx(limit)
    assert not outcome.warnings


def test_a_weight_far_from_the_enrolment_weight_is_flagged_for_qa():
    outcome = run("formulate", weight_kg="50", context=make_context(weight_kg=70.0))
    [finding] = [f for f in outcome.findings if f.code == "body_weight_change"]
    assert finding.action == "warn" and "50 kg" in finding.message and "70 kg" in finding.message


def test_how_far_the_weight_may_differ_is_a_protocol_parameter():
    strict = ProtocolParameters(formulation_weight_change_max_pct=1.0)
    outcome = run("formulate", weight_kg="69", params=strict)
    assert any(f.code == "body_weight_change" for f in outcome.findings)
    with pytest.raises(ValueError, match="formulation_weight_change_max_pct"):
        ProtocolParameters(formulation_weight_change_max_pct=-1.0)


@pytest.mark.parametrize("weight", ["0", "-70", "1", "700", "true"])
def test_a_weight_that_cannot_be_a_patients_is_refused(weight):
    with pytest.raises(StepDataError) as caught:
        run("formulate", weight_kg=True if weight == "true" else weight)
    assert "weight_kg" in caught.value.errors


# --- QC methods and samples ---------------------------------------------------------------------

def test_every_qc_test_has_its_methods():
    assert set(QC_METHODS) == set(QC_TESTS)
    assert all(QC_METHODS[test] for test in QC_TESTS)


def test_a_method_is_read_in_any_case_and_a_foreign_one_is_refused():
    assert method_of("viability", " 7-aad  FLOW cytometry").name == "7-AAD flow cytometry"
    with pytest.raises(ValueError, match="not a method of this test"):
        method_of("viability", "LAL gel clot")
    with pytest.raises(ValueError, match="required"):
        method_of("endotoxin", "")


def test_a_method_on_an_instrument_needs_it_and_one_without_takes_none():
    flow = method_of("cd133_purity", "flow cytometry (CD133/CD45/7-AAD)")
    assert "flow cytometer" in (instrument_problem(flow, "") or "")
    assert instrument_problem(flow, "FC-01") is None
    gel = method_of("endotoxin", "LAL gel clot")
    assert instrument_problem(gel, "") is None
    assert instrument_problem(gel, "ER-01") is not None


def test_a_sample_drawn_before_formulation_or_tested_before_drawing_is_refused():
    formulated = datetime.fromisoformat(at("13:55"))
    drawn = formulated - timedelta(minutes=10)
    problems = check_sample(drawn, 0.5, formulated_at=formulated,
                            tested_at=drawn - timedelta(minutes=30))
    assert set(problems) == {"sample_drawn_at", "tested_at"}
    assert check_sample(formulated + timedelta(minutes=5), 0.5, formulated_at=formulated,
                        tested_at=formulated + timedelta(hours=1)) == {}


@pytest.mark.parametrize("volume", [0.0, -0.1, 51.0])
def test_a_sample_volume_that_cannot_be_real_is_refused(volume):
    formulated = datetime.fromisoformat(at("13:55"))
    problems = check_sample(formulated, volume, formulated_at=formulated, tested_at=formulated)
    assert "sample_volume_ml" in problems


def test_qc_results_use_the_samples_drawn_at_formulation_first():
    assert drawn_from_final(1.0, [0.1, 0.2]) == 1.0  # within the two 0.5 ml tubes
    assert drawn_from_final(1.0, [0.5, 0.5, 0.5]) == 1.5  # 0.5 ml more from the product
    assert drawn_from_final(0.0, [0.2, 0.3]) == pytest.approx(0.5)


def test_results_from_tubes_of_unmeasured_volume_took_nothing_more_from_the_final_product():
    # tubes filled before the final volume was measured: the results came out of them
    assert drawn_from_final(None, [0.1, 0.1, 0.4]) == 0.0
    # tubes of 1 ml in all: results beyond them were drawn from the syringe later
    assert drawn_from_final(1.0, [0.5, 0.4]) == 1.0
    assert drawn_from_final(1.0, [0.5, 0.9]) == pytest.approx(1.4)


def test_a_volume_that_must_be_above_zero_is_refused_below_the_smallest_reading():
    spec = STEPS["sediment"]
    field = spec.field("volume_out_ml")
    with pytest.raises(StepDataError) as refused:
        clean_values(spec, {field.name: 1e-320})
    assert "smallest reading of 0.01 ml" in refused.value.errors[field.name]
