"""Step forms: cleaning, computed figures and protocol findings, in the lab's numbers."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

import pytest

from workflows.protocol import (
    CAPACITY_LIMITS,
    DEFAULT_LIMIT_ACTIONS,
    LIMIT_NAMES,
    ProtocolParameters,
)
from workflows.step_rules import LIMITS
from workflows.steps import (
    STEPS,
    Field,
    Finding,
    StepContext,
    StepDataError,
    StepOutcome,
    evaluate_step,
    late_entry_hours,
)

TEHRAN = timezone(timedelta(hours=3, minutes=30))
HARVEST_END = datetime(2024, 5, 1, 10, 0, tzinfo=TEHRAN)
SEDIMENT_COMPUTED = {"tnc_out": 3.2e9}
ENRICH_COMPUTED = {"cd133_purity_pct": 90.0}


def at(clock: str) -> str:
    """An ISO-8601 time on harvest day in Tehran time, as a form would send it."""
    return f"2024-05-01T{clock}:00+03:30"


# How the cells were counted, as the form sends it (the counting and viability method and
# the instruments).
COUNTED = {"count_method": "automated haematology analyser", "counter_id": "CC-01"}
COUNTED_AND_VIABILITY = {**COUNTED, "viability_method": "7-AAD flow cytometry",
                         "cytometer_id": "FC-01"}

# Nominal submissions, as strings from an HTML form; all within the protocol.
FORMS: dict[str, dict[str, object]] = {
    "harvest": {
        "harvest_start": at("09:00"), "harvest_end": at("10:00"), "volume_ml": "200",
        "anticoagulant": "heparin", "anticoagulant_lot": "HEP-24-001",
        "anticoagulant_volume_ml": "20", "collection_set_lot": "CS-881", "filter_lot": "F-12",
        "puncture_sites": "4", "operating_room": "OR 3",
    },
    "receive": {
        "time_out": at("10:15"), "time_received": at("11:00"), "temperature_c": "18",
        "bag_intact": "yes", "gross_weight_g": "261", "tare_g": "50",
    },
    "sediment": {
        "volume_in_ml": "200", "wbc_in_per_ul": "20000", "rbc_in_per_ul": "4500000",
        "volume_out_ml": "80", "wbc_out_per_ul": "40000", "rbc_out_per_ul": "562500",
        "agent": "HES 6 %", "agent_lot": "HES-77", "ratio": "1:5", "sedimentation_minutes": "45",
        "started_at": at("11:05"), "ended_at": at("12:00"), **COUNTED,
    },
    "isolate_mnc": {
        "medium": "Ficoll-Paque PLUS", "density_g_per_ml": "1.077", "grade": "GMP",
        "medium_lot": "FP-10", "dilution": "2", "centrifuge_id": "CF-01", "g_force": "400",
        "spin_minutes": "30", "temperature_c": "20", "brake_off": "yes", "washes": "2",
        "mnc_per_ul": "50000", "volume_ml": "20", "viability_pct": "95", "cd34_pct": "1.0",
        "cd133_pct": "0.5", "started_at": at("12:05"), "ended_at": at("13:05"),
        **COUNTED_AND_VIABILITY,
    },
    "enrich": {
        "pre_tnc": "1e9", "pre_cd133_pct": "0.8", "reagent_lot": "CD133-5",
        "reagent_volume_ml": "7.5",
        "incubation_start": at("11:30"), "incubation_end": at("12:00"), "washes": "2",
        "instrument_id": "MACS-1", "program": "ENRICHMENT 1.1", "tubing_set_type": "TS",
        "tubing_set_lot": "TS-9", "run_start": at("12:30"), "run_end": at("13:30"), "alarms": "",
        "target_volume_ml": "5", "target_cells_per_ul": "1000", "target_viability_pct": "96",
        "cd133_purity_pct": "90", "negative_volume_ml": "150", **COUNTED_AND_VIABILITY,
    },
    "formulate": {
        "diluent": "0.9 % NaCl + 5 % HSA", "diluent_lot": "NS-3", "final_volume_ml": "10",
        "total_cells": "9e8", "viability_pct": "95", "container_type": "syringe",
        "qc_samples": "2", "weight_kg": "70", "started_at": at("13:35"),
        "ended_at": at("13:55"), **COUNTED_AND_VIABILITY,
    },
    "issue": {
        "time_issued": at("14:00"), "transport_conditions": "cool box 2-8 °C",
        "temperature_c": "6",
    },
    "administer": {
        "infusion_start": at("15:00"), "infusion_end": at("15:20"), "volume_injected_ml": "10",
        "route": "portal vein", "sonography_guided": "yes", "adverse_events": "",
    },
}
CD133_FORMULATION = {"total_cells": "5e6", "final_volume_ml": "5", "viability_pct": "96"}


def make_context(arm: str = "BM-MNC", **overrides: object) -> StepContext:
    fields: dict[str, object] = {
        "arm": arm,
        "weight_kg": 70.0,
        "harvest_end": HARVEST_END,
        "previous": {"sediment": SEDIMENT_COMPUTED, "enrich": ENRICH_COMPUTED},
    }
    fields.update(overrides)
    return StepContext(**fields)  # type: ignore[arg-type]


def run(
    step: str,
    form: Mapping[str, object] | None = None,
    *,
    arm: str = "BM-MNC",
    params: ProtocolParameters | None = None,
    context: StepContext | None = None,
    **overrides: object,
) -> StepOutcome:
    """The nominal form of `step` with `form` and `overrides` laid over it."""
    raw = {**FORMS[step], **(form or {}), **overrides}
    return evaluate_step(
        step, raw, params=params or ProtocolParameters(), context=context or make_context(arm)
    )


def codes(outcome: StepOutcome) -> list[str]:
    return [f.code for f in outcome.findings]


def data_errors(
    step: str,
    form: Mapping[str, object] | None = None,
    *,
    arm: str = "BM-MNC",
    context: StepContext | None = None,
    **overrides: object,
) -> dict[str, str]:
    """The field errors of a submission that cannot describe a real event."""
    with pytest.raises(StepDataError) as caught:
        run(step, {**(form or {}), **overrides}, arm=arm, context=context)
    return dict(caught.value.errors)


# --- the registry -----------------------------------------------------------------


def test_the_registry_has_exactly_the_state_machine_steps():
    assert set(STEPS) == {
        "harvest", "receive", "sediment", "isolate_mnc", "enrich", "formulate", "issue",
        "administer",
    }
    assert set(LIMITS) == set(STEPS)


def test_lot_numbers_checked_for_expiry_are_marked_as_reagents():
    assert STEPS["harvest"].reagent_fields == ("anticoagulant_lot", "collection_set_lot",
                                               "filter_lot")
    assert STEPS["sediment"].reagent_fields == ("agent_lot",)
    assert STEPS["isolate_mnc"].reagent_fields == ("medium_lot",)
    assert STEPS["enrich"].reagent_fields == ("reagent_lot", "tubing_set_lot")
    assert STEPS["formulate"].reagent_fields == ("diluent_lot",)


def test_instruments_checked_for_calibration_are_marked_as_equipment():
    assert STEPS["isolate_mnc"].equipment_fields == ("centrifuge_id", "counter_id",
                                                     "cytometer_id")
    assert STEPS["enrich"].equipment_fields == ("instrument_id", "counter_id", "cytometer_id")
    assert STEPS["sediment"].equipment_fields == ("counter_id",)


def test_a_field_is_found_by_name_with_its_lab_label_and_unit():
    field = STEPS["isolate_mnc"].field("g_force")
    assert (field.label, field.kind, field.unit) == ("Centrifugation force", "number", "×g")
    with pytest.raises(KeyError):
        STEPS["isolate_mnc"].field("rpm")


def test_choices_belong_to_choice_fields_only():
    with pytest.raises(ValueError):
        Field("grade", "Grade", "text", choices=("GMP", "RUO"))
    with pytest.raises(ValueError):
        Field("grade", "Grade", "choice")


def test_every_limit_in_the_rules_has_a_protocol_action():
    for limits in LIMITS.values():
        for limit in limits:
            assert limit.code in LIMIT_NAMES


# --- nominal submissions ---------------------------------------------------------


@pytest.mark.parametrize("step", list(FORMS))
def test_a_nominal_submission_has_no_findings(step):
    arm = "CD133" if step == "enrich" else "BM-MNC"
    outcome = run(step, arm=arm)
    assert outcome.findings == ()
    assert not outcome.refused
    assert set(outcome.computed) <= set(STEPS[step].computed)


def test_form_strings_are_cleaned_into_typed_values():
    values = run("isolate_mnc").values
    assert values["g_force"] == 400.0 and isinstance(values["g_force"], float)
    assert values["washes"] == 2 and isinstance(values["washes"], int)
    assert values["brake_off"] is True
    assert values["grade"] == "GMP"


def test_json_numbers_and_booleans_are_accepted_as_well_as_strings():
    outcome = run("receive", temperature_c=18, bag_intact=True, gross_weight_g=261)
    assert outcome.values["temperature_c"] == 18.0
    assert outcome.values["bag_intact"] is True


def test_times_are_parsed_to_timezone_aware_datetimes():
    value = run("harvest").values["harvest_end"]
    assert value == HARVEST_END
    assert isinstance(value, datetime) and value.utcoffset() == timedelta(hours=3, minutes=30)


def test_a_utc_z_suffix_is_a_timezone():
    outcome = run("issue", time_issued="2024-05-01T10:30:00Z")
    assert outcome.computed["hours_since_harvest"] == pytest.approx(4.0)


def test_an_empty_optional_field_is_recorded_as_absent():
    values = run("harvest", bag_sample_id="  ").values
    assert values["bag_sample_id"] is None


def test_choices_are_matched_whatever_the_case():
    assert run("harvest", anticoagulant="acd-a").values["anticoagulant"] == "ACD-A"


# --- computed figures, hand-computed -----------------------------------------------


def test_harvest_duration_is_computed_in_minutes():
    assert run("harvest").computed == {"duration_minutes": 60.0}


def test_receipt_computes_elapsed_time_and_net_volume():
    computed = run("receive").computed
    assert computed["hours_since_harvest"] == pytest.approx(1.0)
    assert computed["transport_minutes"] == pytest.approx(45.0)
    # (261 g - 50 g) / 1.055 g/ml = 200 ml
    assert computed["net_volume_ml"] == pytest.approx(200.0)


def test_receipt_without_a_tare_has_no_net_volume():
    assert "net_volume_ml" not in run("receive", tare_g="").computed


def test_sedimentation_computes_tnc_recovery_and_rbc_depletion():
    computed = run("sediment").computed
    assert computed["tnc_in"] == pytest.approx(4.0e9)  # 200 ml × 20,000/µL
    assert computed["tnc_out"] == pytest.approx(3.2e9)  # 80 ml × 40,000/µL
    assert computed["tnc_recovery_pct"] == pytest.approx(80.0)
    assert computed["rbc_in"] == pytest.approx(9.0e11)  # 200 ml × 4.5e6/µL
    assert computed["rbc_out"] == pytest.approx(4.5e10)  # 80 ml × 562,500/µL
    assert computed["rbc_depletion_pct"] == pytest.approx(95.0)


def test_mnc_isolation_computes_counts_and_the_mnc_yield_from_the_sedimented_tnc():
    computed = run("isolate_mnc").computed
    assert computed["mnc_total"] == pytest.approx(1.0e9)  # 20 ml × 50,000/µL
    assert computed["viable_mnc"] == pytest.approx(9.5e8)
    assert computed["cd34_cells"] == pytest.approx(1.0e7)
    assert computed["cd133_cells"] == pytest.approx(5.0e6)
    assert computed["mnc_yield_pct"] == pytest.approx(31.25)  # 1.0e9 / 3.2e9


def test_the_mnc_yield_is_not_computed_without_a_sedimentation_count():
    outcome = run("isolate_mnc", context=make_context(previous={}))
    assert "mnc_yield_pct" not in outcome.computed


def test_enrichment_computes_cd133_yield_recovery_and_depletion():
    computed = run("enrich", arm="CD133").computed
    assert computed["pre_cd133_cells"] == pytest.approx(8.0e6)  # 1e9 × 0.8 %
    assert computed["target_cells"] == pytest.approx(5.0e6)  # 5 ml × 1,000/µL
    assert computed["cd133_cells"] == pytest.approx(4.5e6)  # × 90 % purity
    assert computed["viable_cd133"] == pytest.approx(4.32e6)  # × 96 % viable
    assert computed["cd133_recovery_pct"] == pytest.approx(56.25)  # 4.5e6 / 8e6
    assert computed["enrichment_factor"] == pytest.approx(112.5)  # 90 / 0.8
    # non-target in 1e9 - 8e6 = 9.92e8; out 5e6 - 4.5e6 = 5e5; log10(1984)
    assert computed["log_depletion"] == pytest.approx(3.2975, abs=1e-4)
    assert computed["incubation_minutes"] == pytest.approx(30.0)
    assert computed["run_minutes"] == pytest.approx(60.0)


def test_log_depletion_is_not_computed_for_a_pure_target_fraction():
    computed = run("enrich", arm="CD133", cd133_purity_pct="100").computed
    assert "log_depletion" not in computed


def test_bm_mnc_dose_counts_all_viable_mnc():
    computed = run("formulate").computed
    assert computed["viable_cells"] == pytest.approx(8.55e8)  # 9e8 × 95 %
    assert computed["viable_dose"] == pytest.approx(8.55e8)
    assert computed["dose_per_kg"] == pytest.approx(8.55e8 / 70)
    assert computed["concentration_per_ml"] == pytest.approx(9.0e7)
    assert computed["endotoxin_limit_eu_per_ml"] == pytest.approx(35.0)  # 5 × 70 / 10


def test_cd133_dose_counts_only_viable_cd133_cells_from_the_enrichment_purity():
    cd133 = run("formulate", CD133_FORMULATION, arm="CD133")
    bm_mnc = run("formulate", CD133_FORMULATION, arm="BM-MNC")
    # 5e6 × 96 % viable = 4.8e6; × 90 % purity = 4.32e6 viable CD133+
    assert cd133.computed["viable_dose"] == pytest.approx(4.32e6)
    assert cd133.computed["dose_per_kg"] == pytest.approx(4.32e6 / 70)
    assert bm_mnc.computed["viable_dose"] == pytest.approx(4.8e6)
    # the same cells are a proper CD133 dose but far below a BM-MNC dose
    assert codes(cd133) == []
    assert codes(bm_mnc) == ["dose_min"]


def test_a_formulation_may_give_a_concentration_instead_of_a_total():
    computed = run("formulate", total_cells="", cells_per_ul="90000").computed
    assert computed["total_cells"] == pytest.approx(9.0e8)  # 10 ml × 90,000/µL


def test_the_endotoxin_limit_can_be_the_fixed_per_ml_specification():
    params = ProtocolParameters(endotoxin_limit_basis="per_ml")
    assert run("formulate", params=params).computed["endotoxin_limit_eu_per_ml"] == 0.5


def test_issue_and_administration_compute_hours_since_harvest():
    assert run("issue").computed["hours_since_harvest"] == pytest.approx(4.0)
    computed = run("administer").computed
    assert computed["hours_since_harvest"] == pytest.approx(5.0)
    assert computed["infusion_minutes"] == pytest.approx(20.0)


# --- every limit warns by default and can be configured the other way ---------------

LIMIT_CASES: list[tuple[str, str, dict[str, object], dict[str, object]]] = [
    ("harvest_volume_min", "harvest", {"volume_ml": "120"}, {}),
    ("receipt_time", "receive", {"time_received": at("12:30")}, {}),
    ("receipt_temperature", "receive", {"temperature_c": "30"}, {}),
    ("bag_integrity", "receive", {"bag_intact": "no"}, {}),
    ("rbc_depletion_min", "sediment", {"rbc_out_per_ul": "3150000"}, {}),
    ("sedimentation_tnc_recovery_min", "sediment", {"wbc_out_per_ul": "20000"}, {}),
    ("recovery_above_100", "sediment", {"wbc_out_per_ul": "60000"}, {}),  # 4.8e9 of 4e9
    ("ficoll_density", "isolate_mnc", {"density_g_per_ml": "1.084"}, {}),
    ("ficoll_g_force", "isolate_mnc", {"g_force": "800"}, {}),
    ("ficoll_spin_minutes", "isolate_mnc", {"spin_minutes": "60"}, {}),
    ("ficoll_temperature", "isolate_mnc", {"temperature_c": "30"}, {}),
    ("ficoll_brake", "isolate_mnc", {"brake_off": "no"}, {}),
    ("gradient_medium_grade", "isolate_mnc", {"grade": "RUO"}, {}),
    ("ficoll_viability_min", "isolate_mnc", {"viability_pct": "75"}, {}),
    ("labelling_incubation", "enrich", {"incubation_end": at("12:20")}, {}),
    ("run_alarm", "enrich", {"alarms": "Air detected, run paused"}, {}),
    ("enrichment_purity_min", "enrich", {"cd133_purity_pct": "60"}, {}),
    ("enrichment_viability_min", "enrich", {"target_viability_pct": "75"}, {}),
    ("enrichment_recovery_low", "enrich", {"target_cells_per_ul": "200"}, {}),
    ("reagent_vial_target_capacity", "enrich", {"pre_cd133_pct": "70"}, {}),
    ("reagent_vial_total_capacity", "enrich", {"pre_tnc": "7e10"}, {}),
    ("tubing_set_capacity", "enrich", {}, {"tubing_set_capacity_total_cells": {"TS": 5e8}}),
    ("final_volume_max", "formulate", {"final_volume_ml": "12"}, {}),
    ("viability_release_min", "formulate", {"viability_pct": "65"}, {}),
    ("body_weight_change", "formulate", {"weight_kg": "60"}, {}),
    ("dose_min", "formulate", {"total_cells": "1e8"}, {}),
    ("dose_max", "formulate", {"total_cells": "2e10"}, {}),
    ("transport_temperature", "issue", {"temperature_c": "30"}, {}),
    ("product_expired", "issue", {"time_issued": at("22:30")}, {}),
    ("sonography_guidance", "administer", {"sonography_guided": "no"}, {}),
    ("adverse_event", "administer", {"adverse_events": "transient abdominal pain"}, {}),
]


def test_the_limit_cases_cover_every_protocol_limit():
    assert sorted(case[0] for case in LIMIT_CASES) == sorted(LIMIT_NAMES)


def _evaluate_case(step: str, form: dict[str, object], params: ProtocolParameters) -> StepOutcome:
    arm = "CD133" if step == "enrich" else "BM-MNC"
    return run(step, form, arm=arm, params=params)


def _finding(outcome: StepOutcome, code: str) -> Finding:
    matches = [f for f in outcome.findings if f.code == code]
    assert len(matches) == 1, codes(outcome)
    return matches[0]


@pytest.mark.parametrize(("code", "step", "form", "config"), LIMIT_CASES)
def test_a_crossed_limit_takes_its_default_action(code, step, form, config):
    params = ProtocolParameters.from_mapping(config)
    outcome = _evaluate_case(step, form, params)
    finding = _finding(outcome, code)
    assert finding.action == DEFAULT_LIMIT_ACTIONS.get(code, "warn")
    assert outcome.refused == (finding.action == "refuse")


@pytest.mark.parametrize(("code", "step", "form", "config"), LIMIT_CASES)
def test_a_crossed_limit_can_be_configured_to_the_other_action(code, step, form, config):
    default = ProtocolParameters.from_mapping(config).action_for(code)
    other = "warn" if default == "refuse" else "refuse"
    if code in CAPACITY_LIMITS:
        config = {**config, "capacity_check_mode": other}
    else:
        config = {**config, "limit_actions": {code: other}}
    outcome = _evaluate_case(step, form, ProtocolParameters.from_mapping(config))
    assert _finding(outcome, code).action == other


def test_findings_read_the_way_the_lab_says_them():
    finding = _finding(run("sediment", rbc_out_per_ul="3150000"), "rbc_depletion_min")
    assert finding.message == "RBC depletion 72.0 % is below the protocol minimum of 80.0 %"
    assert (finding.field, finding.value, finding.limit) == ("rbc_depletion_pct", 72.0, 80.0)
    assert finding.value == pytest.approx(72.0)


def test_a_range_finding_names_the_window_and_the_bound_crossed():
    finding = _finding(run("receive", temperature_c="30"), "receipt_temperature")
    assert finding.message == (
        "Temperature on receipt 30 °C is outside the protocol range of 2–25 °C"
    )
    assert finding.limit == 25.0


def test_a_dose_finding_writes_cells_in_millions_with_a_real_superscript():
    finding = _finding(run("formulate", total_cells="1e8"), "dose_min")
    assert finding.message == (
        "Viable MNC dose 95.0 × 10⁶ cells is below the protocol minimum of 100 × 10⁶ cells"
    )


def test_an_over_volume_syringe_is_refused_by_default():
    outcome = run("formulate", final_volume_ml="12")
    assert outcome.refused
    assert outcome.warnings == ()
    assert outcome.refusals[0].message == (
        "Final volume 12 ml is above the protocol maximum of 10 ml"
    )


def test_a_warning_does_not_refuse_the_step():
    outcome = run("harvest", volume_ml="120")
    assert not outcome.refused
    assert [f.code for f in outcome.warnings] == ["harvest_volume_min"]


def test_an_infusion_started_after_expiry_is_refused():
    outcome = run("administer", infusion_start=at("22:30"), infusion_end=at("22:50"))
    assert _finding(outcome, "product_expired").action == "refuse"
    assert outcome.refused


def test_expiry_follows_the_configured_hours():
    params = ProtocolParameters(expiry_hours_after_harvest_end=3.0)
    assert codes(run("issue", params=params)) == ["product_expired"]  # issued at 4 h


def test_a_tubing_set_without_a_configured_capacity_is_flagged():
    params = ProtocolParameters(tubing_set_capacity_total_cells={"TS": 60e9})
    outcome = run("enrich", arm="CD133", params=params, tubing_set_type="LS")
    assert "No capacity is configured for tubing set LS" in _finding(
        outcome, "tubing_set_capacity"
    ).message


def test_none_written_as_adverse_events_is_not_an_event():
    assert codes(run("administer", adverse_events="None")) == []


def test_the_brake_need_not_be_off_when_the_protocol_does_not_require_it():
    params = ProtocolParameters(ficoll_brake_off_required=False)
    assert codes(run("isolate_mnc", params=params, brake_off="no")) == []


# --- data that cannot be real ----------------------------------------------------------


def test_an_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown step"):
        evaluate_step("qc", {}, params=ProtocolParameters(), context=make_context())


def test_unknown_fields_are_refused():
    assert data_errors("harvest", surgeon_mood="good") == {
        "surgeon_mood": "is not a field of this step"
    }


def test_missing_required_fields_are_all_reported_together():
    with pytest.raises(StepDataError) as caught:
        evaluate_step(
            "issue", {"temperature_c": "6"}, params=ProtocolParameters(), context=make_context()
        )
    assert caught.value.errors == {
        "time_issued": "is required",
        "transport_conditions": "is required",
    }


def test_a_step_data_error_is_a_value_error_with_a_readable_message():
    with pytest.raises(ValueError, match="volume_ml: must be a number"):
        run("harvest", volume_ml="two hundred")


@pytest.mark.parametrize(
    ("step", "field", "value", "message"),
    [
        ("harvest", "volume_ml", "two hundred", "must be a number"),
        ("harvest", "volume_ml", "1,5", "without commas"),
        ("harvest", "volume_ml", "nan", "finite"),
        ("harvest", "volume_ml", True, "must be a number"),
        ("harvest", "puncture_sites", "2.5", "whole number"),
        ("harvest", "anticoagulant", "citrate", "must be one of heparin, ACD-A"),
        ("harvest", "operating_room", 3, "must be text"),
        ("receive", "bag_intact", "maybe", "yes or no"),
        ("receive", "time_received", "yesterday", "ISO-8601"),
        ("receive", "time_received", datetime(2024, 5, 1, 11, 0), "timezone"),
        ("receive", "time_received", "2024-05-01T11:00:00", "timezone"),
    ],
)
def test_values_of_the_wrong_kind_are_refused(step, field, value, message):
    assert message in data_errors(step, {field: value})[field]


@pytest.mark.parametrize(
    ("step", "field", "value", "message"),
    [
        ("isolate_mnc", "viability_pct", "120", "at most 100 %"),
        ("isolate_mnc", "cd133_pct", "-1", "at least 0 %"),
        ("sediment", "volume_in_ml", "-5", "at least 1 ml"),
        ("sediment", "wbc_in_per_ul", "0", "at least 1 cells/µL"),
        ("receive", "temperature_c", "99", "at most 60 °C"),
        ("formulate", "qc_samples", "-1", "at least 0"),
    ],
)
def test_values_outside_the_physical_range_are_refused(step, field, value, message):
    assert message in data_errors(step, {field: value})[field]


@pytest.mark.parametrize(
    ("step", "earlier", "later", "times"),
    [
        ("harvest", "harvest_start", "harvest_end", (at("10:00"), at("09:00"))),
        ("receive", "time_out", "time_received", (at("11:00"), at("10:30"))),
        ("enrich", "incubation_start", "incubation_end", (at("12:00"), at("11:30"))),
        ("enrich", "incubation_end", "run_start", (at("12:40"), at("12:30"))),
        ("administer", "infusion_start", "infusion_end", (at("15:20"), at("15:00"))),
    ],
)
def test_an_end_before_its_start_is_refused(step, earlier, later, times):
    arm = "CD133" if step == "enrich" else "BM-MNC"
    errors = data_errors(step, {earlier: times[0], later: times[1]}, arm=arm)
    assert errors[later].startswith("is before")


def test_leaving_the_or_before_the_harvest_ended_is_refused():
    errors = data_errors("receive", time_out=at("09:45"))
    assert errors["time_out"].startswith("time out is before the harvest end")


def test_issue_before_the_harvest_ended_is_refused():
    assert "time_issued" in data_errors("issue", time_issued=at("09:00"))


def test_a_tare_heavier_than_the_bag_is_refused():
    assert data_errors("receive", tare_g="300") == {"tare_g": "is heavier than the gross weight"}


def test_enrichment_on_the_bm_mnc_arm_is_refused():
    errors = data_errors("enrich", arm="BM-MNC")
    assert errors == {"arm": "CliniMACS CD133+ enrichment is for the CD133 arm only"}


def test_a_cd133_dose_needs_the_enrichment_purity():
    context = make_context("CD133", previous={"sediment": SEDIMENT_COMPUTED})
    assert "enrich" in data_errors("formulate", context=context)


def test_a_formulation_needs_exactly_one_of_total_cells_or_concentration():
    assert "total_cells" in data_errors("formulate", cells_per_ul="90000")
    assert "total_cells" in data_errors("formulate", total_cells="")


def test_injecting_more_than_was_formulated_is_refused():
    context = make_context(previous={"formulate": {"final_volume_ml": 8.0}})
    errors = data_errors("administer", context=context)
    assert errors == {"volume_injected_ml": "is more than the formulated volume of 8 ml"}


@pytest.mark.parametrize(
    "overrides",
    [{"arm": "placebo"}, {"weight_kg": 0.0}, {"harvest_end": datetime(2024, 5, 1, 10, 0)}],
)
def test_a_context_that_cannot_be_real_is_refused(overrides):
    with pytest.raises(ValueError):
        make_context(**overrides)


def test_a_step_recorded_hours_after_the_times_it_reports_is_a_late_entry():
    received = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    values = {"time_out": (received - timedelta(minutes=30)).isoformat(),
              "time_received": received.isoformat(), "temperature_c": 19.5}

    late = late_entry_hours("receive", values, received + timedelta(hours=3), 2.0)
    prompt = late_entry_hours("receive", values, received + timedelta(minutes=20), 2.0)

    assert late == pytest.approx(3.0)
    assert prompt is None
    assert late_entry_hours("sediment", {"volume_in_ml": 205}, received, 2.0) is None
