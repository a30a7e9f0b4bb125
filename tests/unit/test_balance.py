"""The field registry, the cell and volume balance between containers, and carried inputs."""

from __future__ import annotations

import pytest

from workflows.balance import (
    balance_breaches,
    carried_input,
    carry_forward,
    holdings,
    recovery_findings,
)
from workflows.fields import Flow, Quantity, Where
from workflows.identity import ContainerKind as K
from workflows.materials import EquipmentType, Material
from workflows.protocol import ProtocolParameters
from workflows.step_model import Field, StepContext
from workflows.steps import STEPS, StepDataError, evaluate_step

PARAMS = ProtocolParameters()

# What the demo's CD133 product recorded, step by step (values and computed figures).
RECORDS = {
    "harvest": {"volume_ml": 205.0},
    "sediment": {"volume_in_ml": 205.0, "volume_out_ml": 82.0, "tnc_out": 3.362e9},
    "isolate_mnc": {"volume_ml": 50.0, "mnc_total": 1.2e9},
    "enrich": {"target_volume_ml": 6.0, "target_cells": 5.7e6, "negative_volume_ml": 95.0},
    "formulate": {"final_volume_ml": 5.0, "total_cells": 5.2e6},
}


def context(arm: str = "CD133", drawn: dict[K, float] | None = None) -> StepContext:
    return StepContext(arm=arm, weight_kg=70.0, holdings=holdings(STEPS, RECORDS, drawn or {}))


# --- the registry ---------------------------------------------------------------------------

def test_every_field_says_what_it_measures():
    for spec in STEPS.values():
        for field in (*spec.fields, *spec.figures):
            assert isinstance(field.what, Quantity), (spec.name, field.name)


def test_every_computed_figure_of_every_step_is_described():
    for spec in STEPS.values():
        assert tuple(f.name for f in spec.figures) == spec.computed
        assert all(f.label and f.unit for f in spec.figures), spec.name


def test_the_sedimentation_takes_volume_from_the_marrow_bag_and_puts_it_into_the_rbc_bag():
    spec = STEPS["sediment"]
    assert spec.field("volume_in_ml").where == Where(Flow.IN, K.MARROW_BAG)
    assert spec.field("volume_out_ml").where == Where(Flow.OUT, K.RBC_REDUCED)
    assert spec.field("volume_in_ml").what is Quantity.VOLUME
    assert spec.figure("tnc_out").where == Where(Flow.OUT, K.RBC_REDUCED)
    assert spec.figure("tnc_out").what is Quantity.CELLS
    assert spec.figure("rbc_out").what is Quantity.RED_CELLS
    assert spec.figure("tnc_recovery_pct").what is Quantity.RECOVERY


def test_the_units_of_the_forms_give_the_quantity_of_each_value():
    ficoll = STEPS["isolate_mnc"]
    assert ficoll.field("mnc_per_ul").what is Quantity.CONCENTRATION
    assert ficoll.field("temperature_c").what is Quantity.TEMPERATURE
    assert ficoll.field("washes").what is Quantity.COUNT
    assert STEPS["harvest"].field("harvest_end").what is Quantity.MOMENT
    assert STEPS["receive"].field("bag_intact").what is Quantity.YES_NO


def test_every_lot_field_takes_one_material_and_every_equipment_field_one_type():
    lots = {(s.name, f.name): f.material for s in STEPS.values() for f in s.fields if f.reagent}
    assert lots == {
        ("harvest", "anticoagulant_lot"): Material.ANTICOAGULANT,
        ("harvest", "collection_set_lot"): Material.COLLECTION_SET,
        ("harvest", "filter_lot"): Material.FILTER,
        ("sediment", "agent_lot"): Material.SEDIMENTATION_AGENT,
        ("isolate_mnc", "medium_lot"): Material.DENSITY_GRADIENT_MEDIUM,
        ("enrich", "reagent_lot"): Material.CD133_REAGENT,
        ("enrich", "tubing_set_lot"): Material.TUBING_SET,
        ("formulate", "diluent_lot"): Material.DILUENT,
    }
    assert all(STEPS[s].field(f).what is Quantity.MATERIAL_LOT for s, f in lots)
    assert STEPS["isolate_mnc"].field("centrifuge_id").equipment_type is EquipmentType.CENTRIFUGE
    assert STEPS["enrich"].field("instrument_id").equipment_type is EquipmentType.CLINIMACS


def test_a_lot_field_without_its_material_cannot_be_declared():
    with pytest.raises(ValueError, match="material"):
        Field("medium_lot", "Medium lot", "text", reagent=True)
    with pytest.raises(ValueError, match="instrument"):
        Field("centrifuge_id", "Centrifuge", "text", equipment=True)


def test_the_carried_inputs_are_the_amounts_taken_in_from_a_container():
    carried = {(s.name, f.name) for s in STEPS.values() for f in s.fields if carried_input(f)}
    assert carried == {("sediment", "volume_in_ml"), ("enrich", "pre_tnc"),
                       ("administer", "volume_injected_ml")}


# --- what each container holds --------------------------------------------------------------

def test_each_container_holds_what_the_step_that_filled_it_put_out():
    held = holdings(STEPS, RECORDS, {})
    assert held[K.MARROW_BAG].volume_ml == 205.0
    assert held[K.MARROW_BAG].cells is None  # the harvest counts no cells
    assert (held[K.RBC_REDUCED].cells, held[K.RBC_REDUCED].volume_ml) == (3.362e9, 82.0)
    assert held[K.MNC].cells == 1.2e9
    assert held[K.CD133_TARGET].cells == 5.7e6
    assert held[K.CD133_TARGET].cells_from == ("Cells in target fraction, "
                                               "CliniMACS CD133+ enrichment")
    assert held[K.CD133_NEGATIVE].volume_ml == 95.0
    assert held[K.FINAL_PRODUCT].volume_ml == 5.0


def test_what_other_children_took_is_no_longer_in_the_container():
    held = holdings(STEPS, RECORDS, {K.FINAL_PRODUCT: 1.0})[K.FINAL_PRODUCT]
    assert held.volume_ml == pytest.approx(4.0)
    assert held.cells == pytest.approx(5.2e6 * 4 / 5)  # the cells went with the sample


# --- the balance ----------------------------------------------------------------------------

def breaches(step: str, figures: dict[str, object], arm: str = "CD133",
             params: ProtocolParameters = PARAMS) -> dict[str, str]:
    return balance_breaches(STEPS[step], figures, context(arm), params)


def test_a_formulation_cannot_hold_more_cells_than_the_cd133_fraction_it_came_from():
    found = breaches("formulate", {"total_cells": 11e6})
    message = found["total_cells"]
    assert "11.0 × 10⁶ cells" in message and "5.70 × 10⁶ cells" in message
    assert "CD133+ target fraction" in message and "final product" in message
    assert breaches("formulate", {"total_cells": 5.2e6}) == {}


def test_the_bm_mnc_formulation_is_balanced_against_the_mnc_container():
    assert "total_cells" in breaches("formulate", {"total_cells": 2e9}, arm="BM-MNC")
    assert breaches("formulate", {"total_cells": 4.6e8}, arm="BM-MNC") == {}


def test_a_step_cannot_take_in_more_volume_than_the_container_holds():
    message = breaches("sediment", {"volume_in_ml": 250.0})["volume_in_ml"]
    assert "250 ml" in message and "205 ml" in message
    assert "marrow collection bag" in message


def test_counting_error_within_the_tolerance_is_accepted_and_beyond_it_refused():
    assert breaches("sediment", {"volume_in_ml": 225.0}) == {}  # 205 ml + 10 %
    assert breaches("sediment", {"volume_in_ml": 226.0}) != {}
    strict = ProtocolParameters(balance_tolerance_pct=0.0)
    assert breaches("sediment", {"volume_in_ml": 206.0}, params=strict) != {}


def test_a_gradient_cannot_yield_more_mnc_than_the_nucleated_cells_it_was_given():
    assert "mnc_total" in breaches("isolate_mnc", {"mnc_total": 4e9})
    assert breaches("isolate_mnc", {"mnc_total": 1.2e9}) == {}


def test_the_enrichment_cannot_label_more_cells_than_the_mnc_container_holds():
    assert "pre_tnc" in breaches("enrich", {"pre_tnc": 1.5e9})


def test_the_volume_injected_cannot_exceed_what_the_syringe_holds():
    assert "volume_injected_ml" in breaches("administer", {"volume_injected_ml": 6.0})


def test_without_a_record_of_the_earlier_step_there_is_nothing_to_balance_against():
    empty = StepContext(arm="CD133", weight_kg=70.0)
    assert balance_breaches(STEPS["formulate"], {"total_cells": 11e6}, empty, PARAMS) == {}


# --- carried inputs -------------------------------------------------------------------------

def test_an_input_left_empty_is_carried_forward_from_the_earlier_output():
    raw, carried = carry_forward(STEPS["sediment"], {"volume_in_ml": ""}, context())
    assert raw["volume_in_ml"] == 205.0 and carried == ("volume_in_ml",)
    raw, carried = carry_forward(STEPS["enrich"], {}, context())
    assert raw["pre_tnc"] == 1.2e9 and carried == ("pre_tnc",)


def test_a_typed_input_is_kept_and_checked_not_replaced():
    raw, carried = carry_forward(STEPS["sediment"], {"volume_in_ml": "200"}, context())
    assert raw["volume_in_ml"] == "200" and carried == ()


def test_evaluating_a_step_carries_the_input_and_refuses_a_breach():
    form = {"volume_out_ml": "82", "wbc_in_per_ul": "19500", "rbc_in_per_ul": "4.1e6",
            "wbc_out_per_ul": "41000", "rbc_out_per_ul": "0.35e6", "agent": "HES 6 %",
            "agent_lot": "HES2403", "ratio": "1:5", "sedimentation_minutes": "45",
            "started_at": "2024-05-01T11:05+03:30", "ended_at": "2024-05-01T12:00+03:30",
            "count_method": "automated haematology analyser", "counter_id": "CC-01"}
    outcome = evaluate_step("sediment", form, params=PARAMS, context=context())
    assert outcome.values["volume_in_ml"] == 205.0
    assert outcome.carried == ("volume_in_ml",)
    with pytest.raises(StepDataError) as caught:
        evaluate_step("sediment", {**form, "volume_in_ml": "300"}, params=PARAMS,
                      context=context())
    assert set(caught.value.errors) == {"volume_in_ml"}


# --- recoveries -----------------------------------------------------------------------------

def test_a_recovery_above_100_percent_plus_the_tolerance_is_flagged_for_qa():
    found = recovery_findings(STEPS["enrich"], {"cd133_recovery_pct": 116.0}, PARAMS)
    assert [(f.code, f.action, f.field) for f in found] == [
        ("recovery_above_100", "warn", "cd133_recovery_pct")]
    assert "116.0 %" in found[0].message
    assert recovery_findings(STEPS["enrich"], {"cd133_recovery_pct": 108.0}, PARAMS) == ()


def test_a_target_fraction_with_more_cells_than_were_labelled_is_flagged():
    figures = {"pre_tnc": 1.2e9, "target_cells": 2.0e9, "cd133_recovery_pct": 104.0}
    [finding] = recovery_findings(STEPS["enrich"], figures, PARAMS)
    assert (finding.code, finding.field) == ("recovery_above_100", "target_cells")
    assert "2,000 × 10⁶ cells" in finding.message and "1,200 × 10⁶ cells" in finding.message
    assert recovery_findings(STEPS["enrich"], {**figures, "target_cells": 5.7e6}, PARAMS) == ()


def test_an_over_recovery_within_the_sedimentation_is_flagged_once():
    figures = {"tnc_in": 4e9, "tnc_out": 4.8e9, "tnc_recovery_pct": 120.0}
    assert [f.field for f in recovery_findings(STEPS["sediment"], figures, PARAMS)] == [
        "tnc_recovery_pct"]


def test_an_mnc_yield_above_100_percent_is_flagged_like_a_recovery():
    # MNC out / nucleated cells in: the MNC are part of the cells in, so above 100 % plus the
    # counting tolerance the counts are wrong
    found = recovery_findings(STEPS["isolate_mnc"], {"mnc_yield_pct": 125.0}, PARAMS)
    assert [(f.code, f.field) for f in found] == [("recovery_above_100", "mnc_yield_pct")]
    assert found[0].message.startswith("MNC yield (MNC out / nucleated cells in) 125.0 %")
    assert STEPS["isolate_mnc"].figure("mnc_yield_pct").what is Quantity.YIELD
