"""Outcome figures per arm and visit, and who may see a patient's arm (pure rules)."""

from __future__ import annotations

import pytest

from workflows.blinding import HIDDEN_ARM, POOLED, arm_groups, sees_arm, shown_arm
from workflows.outcomes import BASELINE, Observation, compare, summarise
from workflows.protocol import ProtocolParameters

ARMS = {"RYN-1": "CD133", "RYN-2": "CD133", "RYN-3": "BM-MNC"}


def test_by_default_no_role_is_blinded_as_the_trial_blinds_only_the_patient():
    params = ProtocolParameters()
    assert params.arm_blinded_roles == ""
    for role in ("physician", "supervisor", "qa", "technician", "admin"):
        assert sees_arm(role, params)
        assert shown_arm("CD133", role, params) == "CD133"


def test_a_blinded_role_reads_that_the_arm_is_hidden_and_others_read_the_arm():
    params = ProtocolParameters(arm_blinded_roles="physician, qa")
    assert shown_arm("CD133", "physician", params) == HIDDEN_ARM
    assert shown_arm("BM-MNC", "qa", params) == HIDDEN_ARM
    assert shown_arm("BM-MNC", "supervisor", params) == "BM-MNC"


def test_an_unknown_role_in_the_blinded_list_is_refused_by_name():
    with pytest.raises(ValueError, match=r"arm_blinded_roles names unknown roles \['assessor'\]"):
        ProtocolParameters(arm_blinded_roles="physician,assessor")
    with pytest.raises(ValueError, match="arm_blinded_roles must be text"):
        ProtocolParameters.from_mapping({"arm_blinded_roles": ["physician"]})


def test_the_blinded_roles_survive_storage():
    params = ProtocolParameters(arm_blinded_roles="physician")
    assert ProtocolParameters.from_mapping(params.to_mapping()) == params


def test_groups_are_the_arms_for_a_reader_who_may_see_them_and_one_pool_otherwise():
    params = ProtocolParameters(arm_blinded_roles="physician")
    assert arm_groups(ARMS, "supervisor", params) == {"BM-MNC": ["RYN-3"],
                                                       "CD133": ["RYN-1", "RYN-2"]}
    pooled = arm_groups(ARMS, "physician", params)
    assert pooled == {POOLED: ["RYN-1", "RYN-2", "RYN-3"]}
    assert "CD133" not in str(pooled) and "BM-MNC" not in str(pooled)
    assert arm_groups({}, "physician", params) == {}


def test_summary_of_no_values_has_no_figures():
    empty = summarise([], [])
    assert (empty.n, empty.median, empty.mean, empty.change_n, empty.change_mean) == (
        0, None, None, 0, None)


def test_the_table_gives_n_median_mean_and_the_change_from_each_patients_own_baseline():
    seen = [Observation("RYN-1", BASELINE, 18), Observation("RYN-2", BASELINE, 12),
            Observation("RYN-3", BASELINE, 20),
            Observation("RYN-1", "week_4", 15), Observation("RYN-2", "week_4", 13),
            Observation("RYN-3", "week_4", 21),
            Observation("RYN-1", "week_12", 14)]  # RYN-2 missed week 12
    table = compare(seen, arm_groups(ARMS, "supervisor", ProtocolParameters()),
                    ["week_4", "week_12"])

    assert table.visits == (BASELINE, "week_4", "week_12")
    assert table.groups == ("BM-MNC", "CD133")
    assert table.patients == {"BM-MNC": 1, "CD133": 2}
    base = table.cell(BASELINE, "CD133")
    assert (base.n, base.median, base.mean, base.change_n) == (2, 15, 15, 0)
    week4 = table.cell("week_4", "CD133")
    assert (week4.n, week4.median, week4.mean) == (2, 14, 14)
    assert (week4.change_n, week4.change_mean) == (2, -1.0)  # (−3 + 1) / 2
    week12 = table.cell("week_12", "CD133")
    assert (week12.n, week12.mean, week12.change_n, week12.change_mean) == (1, 14, 1, -4)
    other = table.cell("week_12", "BM-MNC")
    assert (other.n, other.mean, other.change_mean) == (0, None, None)


def test_a_value_without_baseline_counts_in_n_but_not_in_the_change():
    table = compare([Observation("RYN-1", "week_1", 16)], {"all": ["RYN-1"]}, ["week_1"])
    cell = table.cell("week_1", "all")
    assert (cell.n, cell.mean, cell.change_n, cell.change_mean) == (1, 16, 0, None)


def test_a_corrected_value_replaces_the_earlier_one_and_a_patient_counts_once():
    seen = [Observation("RYN-1", BASELINE, 10), Observation("RYN-1", BASELINE, 11),
            Observation("RYN-9", BASELINE, 30)]  # RYN-9 is in no group
    table = compare(seen, {"all": ["RYN-1", "RYN-1"]}, [BASELINE])
    cell = table.cell(BASELINE, "all")
    assert (cell.n, cell.mean) == (1, 11)
    assert table.patients == {"all": 1}
