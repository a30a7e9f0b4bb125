"""Typed QC figures against the figures computed from the formulation counts.

Release rests on what the system computed from the step records (the viable dose from
the formulation's total cells, viability and, in the CD133 arm, the enrichment purity).
A QC figure typed by hand is checked against its computed twin: a disagreement beyond
the protocol's tolerance is an exception a person must resolve, never passed silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workflows.numbers import format_value
from workflows.protocol import ProtocolParameters
from workflows.specifications import QC_TESTS, Specification


@dataclass(frozen=True)
class Discrepancy:
    """A typed QC figure further from its computed twin than the protocol tolerates."""

    test: str
    typed: float
    computed: float
    difference: str  # e.g. "249 %" or "12.0 points"
    tolerance: str

    def describe(self) -> str:
        what = QC_TESTS[self.test]
        typed, computed = (format_value(v, what.unit) for v in (self.typed, self.computed))
        return (f"QC {what.label.lower()} {typed} disagrees with the "
                f"{computed} computed from the formulation counts by "
                f"{self.difference} (tolerance {self.tolerance}); release rests on the "
                "computed figure: check the count and the calculation, then close this "
                "deviation with a disposition")


def computed_twins(values: Mapping[str, object],
                   computed: Mapping[str, object]) -> dict[str, float]:
    """QC test name → the figure the formulation step recorded or computed for it."""
    twins: dict[str, float] = {}
    for test, figure in (("viable_dose", computed.get("viable_dose")),
                         ("viability", values.get("viability_pct"))):
        if isinstance(figure, int | float) and not isinstance(figure, bool):
            twins[test] = float(figure)
    return twins


def discrepancy(test: str, typed: float, twins: Mapping[str, float],
                params: ProtocolParameters) -> Discrepancy | None:
    """The disagreement of a typed figure with its computed twin, if beyond tolerance."""
    computed = twins.get(test)
    if computed is None:
        return None
    if test == "viable_dose":
        tolerance = params.qc_dose_tolerance_pct
        if computed <= 0:
            off = 0.0 if typed == computed else float("inf")
        else:
            off = abs(typed - computed) / computed * 100
        if off <= tolerance:
            return None
        return Discrepancy(test, typed, computed, f"{off:.0f} %", format_value(tolerance, "%"))
    if test == "viability":
        points = abs(typed - computed)
        if points <= params.qc_viability_tolerance_points:
            return None
        return Discrepancy(test, typed, computed, f"{points:.1f} points",
                           f"{params.qc_viability_tolerance_points:g} points")
    return None


def computed_dose_problem(twins: Mapping[str, float], spec: Specification) -> str | None:
    """Why the computed viable dose fails the specification (a failed criterion), if it does."""
    dose = twins.get("viable_dose")
    if dose is None:
        return None
    if dose < spec.dose_min_cells:
        return (f"computed viable dose {format_value(dose, 'cells')} is below the minimum "
                f"{format_value(spec.dose_min_cells, 'cells')} (specification)")
    if dose > spec.dose_max_cells:
        return (f"computed viable dose {format_value(dose, 'cells')} is above the maximum "
                f"{format_value(spec.dose_max_cells, 'cells')} (specification)")
    return None
