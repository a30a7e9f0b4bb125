"""Typed QC figures against their twins computed at formulation (pure rules)."""

from __future__ import annotations

import pytest

from workflows.protocol import ProtocolParameters
from workflows.qc_figures import computed_dose_problem, computed_twins, discrepancy
from workflows.specifications import default_specification

PARAMS = ProtocolParameters()
TWINS = computed_twins({"viability_pct": 97.1}, {"viable_dose": 4.3e5})


def test_the_twins_are_the_computed_dose_and_the_formulation_viability():
    assert TWINS == {"viable_dose": 4.3e5, "viability": 97.1}
    assert computed_twins({"viability_pct": True}, {"viable_dose": "n/a"}) == {}


def test_a_typed_dose_three_times_the_computed_dose_is_a_discrepancy():
    found = discrepancy("viable_dose", 1.5e6, TWINS, PARAMS)
    assert found is not None and found.difference == "249 %"
    assert "1.50 × 10⁶ cells" in found.describe() and "0.430 × 10⁶ cells" in found.describe()


@pytest.mark.parametrize(("typed", "flagged"), [(4.3e5 * 1.2, False), (4.3e5 * 1.21, True),
                                                (4.3e5 * 0.8, False), (4.3e5 * 0.79, True)])
def test_the_dose_tolerance_is_relative_to_the_computed_dose(typed, flagged):
    assert (discrepancy("viable_dose", typed, TWINS, PARAMS) is not None) is flagged


@pytest.mark.parametrize(("typed", "flagged"), [(92.1, False), (92.0, True), (100.0, False)])
def test_the_viability_tolerance_is_in_percentage_points(typed, flagged):
    assert (discrepancy("viability", typed, TWINS, PARAMS) is not None) is flagged


def test_a_figure_without_a_twin_is_never_a_discrepancy():
    assert discrepancy("endotoxin", 500.0, TWINS, PARAMS) is None
    assert discrepancy("viable_dose", 1.5e6, {}, PARAMS) is None


def test_a_computed_dose_outside_the_specification_fails_a_criterion():
    spec = default_specification(PARAMS, "CD133")  # 1e6 to 12e6 viable CD133+ cells
    assert "below the minimum" in (computed_dose_problem(TWINS, spec) or "")
    assert "above the maximum" in (computed_dose_problem({"viable_dose": 2e7}, spec) or "")
    assert computed_dose_problem({"viable_dose": 4.46e6}, spec) is None
    assert computed_dose_problem({}, spec) is None
