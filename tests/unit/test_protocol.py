"""Protocol parameters: documented defaults, validation and (de)serialisation."""

import dataclasses
import inspect
import json
import re

import pytest

from workflows.protocol import (
    CAPACITY_LIMITS,
    DEFAULT_LIMIT_ACTIONS,
    LIMIT_NAMES,
    ProtocolParameters,
)


def test_defaults_are_the_documented_protocol_figures():
    p = ProtocolParameters()
    assert p.expiry_hours_after_harvest_end == 12
    assert (p.harvest_min_volume_ml, p.harvest_target_volume_ml) == (150, 200)
    assert p.receipt_max_hours_after_harvest == 2
    assert (p.receipt_temperature_min_c, p.receipt_temperature_max_c) == (2, 25)
    assert p.rbc_depletion_min_pct == 80
    assert p.sedimentation_tnc_recovery_min_pct == 50
    assert p.ficoll_viability_min_pct == 80
    assert (p.ficoll_g_min, p.ficoll_g_max) == (300, 500)
    assert (p.ficoll_minutes_min, p.ficoll_minutes_max) == (20, 45)
    assert p.enrichment_purity_min_pct == 70
    assert p.enrichment_recovery_warn_below_pct == 20
    assert p.cd133_reagent_vial_capacity_target_cells == 600e6
    assert p.cd133_reagent_vial_capacity_total_cells == 60e9
    assert dict(p.tubing_set_capacity_total_cells) == {"TS": 60e9, "LS": 120e9}
    assert p.capacity_check_mode == "warn"
    assert p.final_volume_max_ml == 10
    assert (p.cd133_dose_min_cells, p.cd133_dose_max_cells) == (1e6, 12e6)
    assert (p.mnc_dose_min_cells, p.mnc_dose_max_cells) == (1e8, 1e10)
    assert p.viability_release_min_pct == 70
    assert (p.endotoxin_limit_eu_per_kg, p.endotoxin_limit_eu_per_ml) == (5, 0.5)
    assert p.marrow_density_g_per_ml == 1.055


def test_every_parameter_names_its_source_tag():
    source = inspect.getsource(ProtocolParameters)
    for f in dataclasses.fields(ProtocolParameters):
        line = re.search(rf"^\s+{f.name}: .*$", source, re.MULTILINE)
        assert line is not None, f.name
        assert re.search(r"# \[(V|Prop|UNVERIFIED)\]", line.group(0)), f.name


def test_the_protocol_refuses_only_the_hard_stops_by_default():
    refused = {name for name, action in DEFAULT_LIMIT_ACTIONS.items() if action == "refuse"}
    assert refused == {"bag_integrity", "final_volume_max", "product_expired"}


def test_every_limit_has_an_action():
    p = ProtocolParameters()
    assert {name: p.action_for(name) for name in LIMIT_NAMES}.keys() == set(LIMIT_NAMES)


def test_an_unknown_limit_has_no_action():
    with pytest.raises(ValueError, match="unknown limit"):
        ProtocolParameters().action_for("moon_phase")


def test_capacity_checks_follow_the_capacity_check_mode():
    assert {ProtocolParameters().action_for(name) for name in CAPACITY_LIMITS} == {"warn"}
    strict = ProtocolParameters(capacity_check_mode="refuse")
    assert {strict.action_for(name) for name in CAPACITY_LIMITS} == {"refuse"}


def test_limit_actions_from_configuration_are_merged_over_the_defaults():
    p = ProtocolParameters.from_mapping({"limit_actions": {"rbc_depletion_min": "refuse"}})
    assert p.action_for("rbc_depletion_min") == "refuse"
    assert p.action_for("bag_integrity") == "refuse"
    assert p.action_for("harvest_volume_min") == "warn"


def test_a_mapping_round_trips_through_json():
    original = ProtocolParameters(
        final_volume_max_ml=5.0, limit_actions={"dose_min": "refuse"}, capacity_check_mode="refuse"
    )
    stored = json.loads(json.dumps(original.to_mapping()))
    assert ProtocolParameters.from_mapping(stored) == original


def test_absent_keys_keep_their_defaults():
    p = ProtocolParameters.from_mapping({"final_volume_max_ml": 5})
    assert p.final_volume_max_ml == 5.0
    assert isinstance(p.final_volume_max_ml, float)
    assert p.harvest_min_volume_ml == 150.0


def test_unknown_keys_are_refused_by_name():
    with pytest.raises(ValueError, match="final_volume_maximum"):
        ProtocolParameters.from_mapping({"final_volume_maximum": 5})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("final_volume_max_ml", "10"),
        ("final_volume_max_ml", True),
        ("ficoll_brake_off_required", 1),
        ("capacity_check_mode", 1),
        ("tubing_set_capacity_total_cells", {"TS": "lots"}),
        ("tubing_set_capacity_total_cells", [60e9]),
        ("limit_actions", "warn"),
    ],
)
def test_wrong_types_are_refused_with_the_parameter_name(key, value):
    with pytest.raises(ValueError, match=key):
        ProtocolParameters.from_mapping({key: value})


@pytest.mark.parametrize(
    "data",
    [
        {"ficoll_g_min": 600},
        {"receipt_temperature_min_c": 30},
        {"cd133_dose_min_cells": 20e6},
        {"rbc_depletion_min_pct": 120},
        {"final_volume_max_ml": -1},
        {"final_volume_max_ml": float("nan")},
        {"marrow_density_g_per_ml": 0},
        {"capacity_check_mode": "ignore"},
        {"endotoxin_limit_basis": "per_dose"},
        {"tubing_set_capacity_total_cells": {"TS": 0}},
    ],
)
def test_impossible_values_are_refused(data):
    with pytest.raises(ValueError, match="invalid protocol parameters"):
        ProtocolParameters.from_mapping(data)


def test_a_limit_action_must_be_warn_or_refuse():
    with pytest.raises(ValueError, match="'warn' or 'refuse'"):
        ProtocolParameters.from_mapping({"limit_actions": {"dose_min": "ignore"}})


def test_limit_actions_cannot_name_an_unknown_limit():
    with pytest.raises(ValueError, match="unknown limits"):
        ProtocolParameters.from_mapping({"limit_actions": {"moon_phase": "warn"}})


def test_capacity_limits_are_set_through_capacity_check_mode_only():
    with pytest.raises(ValueError, match="capacity_check_mode"):
        ProtocolParameters.from_mapping({"limit_actions": {"tubing_set_capacity": "refuse"}})


def test_sub_zero_temperatures_are_allowed():
    p = ProtocolParameters(transport_temperature_min_c=-5.0)
    assert p.transport_temperature_min_c == -5.0


def test_parameters_cannot_be_changed_after_loading():
    p = ProtocolParameters()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.final_volume_max_ml = 20.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.limit_actions["bag_integrity"] = "warn"  # type: ignore[index]
    with pytest.raises(TypeError):
        p.tubing_set_capacity_total_cells["TS"] = 1.0  # type: ignore[index]


def test_equal_parameters_hash_alike_so_they_can_key_a_cache():
    assert hash(ProtocolParameters()) == hash(ProtocolParameters.from_mapping({}))
    assert {ProtocolParameters(), ProtocolParameters()} == {ProtocolParameters()}


def test_dose_range_depends_on_the_arm():
    p = ProtocolParameters()
    assert p.dose_range("CD133") == (1e6, 12e6)
    assert p.dose_range("BM-MNC") == (1e8, 1e10)
    with pytest.raises(ValueError, match="unknown arm"):
        p.dose_range("placebo")
