"""The protocol limits of each step as data, and how a crossed limit is worded.

`LIMITS` is the specification: which value or computed figure of which step is judged
against which ProtocolParameters attribute. Whether a crossed limit warns or refuses
comes from `params.action_for(code)`, never from here. Messages state every figure
through `workflows.numbers` (the registry's one format) and name the value by its
registry label, so "Viability 72.0 %" reads the same in a refusal, on screen and in
the batch record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workflows.numbers import MILLION_UNITS, Style, format_number, format_value
from workflows.protocol import ProtocolParameters
from workflows.step_model import Finding


def figure_text(value: float, unit: str, style: Style = "text") -> str:
    """A measured figure with its unit, as findings and refusals show it."""
    return format_value(value, unit, style)


def range_text(low: float, high: float, unit: str, style: Style = "text") -> str:
    """"2–25 °C", "1.00–12.0 × 10⁶ cells", "1 h–2 h": both ends in the unit's one format."""
    if unit in MILLION_UNITS:
        power = format_value(1e6, unit, style).split(" × ", 1)[1]  # "10⁶ cells"
        return f"{_millions(low)}–{_millions(high)} × {power}"
    if unit == "h":
        return f"{format_value(low, unit, style)}–{format_value(high, unit, style)}"
    return f"{format_number(low, unit, style)}–{format_value(high, unit, style)}"


def _millions(value: float) -> str:
    return format_number(value, "cells").split(" × ", 1)[0]


def bound_text(low: float | None, high: float | None, unit: str, style: Style = "text", *,
               above_min: bool = False) -> str:
    """A limit as printed beside a value: "≥ 80.0 %", "≤ 10 ml", "> 0 ml", "2–25 °C"."""
    if low is not None and high is not None:
        return range_text(low, high, unit, style)
    if low is not None:
        return f"{'>' if above_min else '≥'} {format_value(low, unit, style)}"
    if high is not None:
        return f"≤ {format_value(high, unit, style)}"
    return ""


@dataclass(frozen=True)
class Limit:
    """A numeric protocol limit: `field` (a value or a computed figure) against params.

    `low`/`high` name the ProtocolParameters attributes holding the bounds; the
    action comes from `params.action_for(code)`. `what` names the value in messages;
    empty, it is the value's registry label (the step's field or figure label).
    """

    code: str
    field: str
    unit: str
    low: str | None = None
    high: str | None = None
    what: str = ""


class Checks:
    """Collects findings for one step, taking each action from the protocol."""

    def __init__(self, params: ProtocolParameters,
                 labels: Mapping[str, str] | None = None) -> None:
        self.params = params
        self.labels: Mapping[str, str] = labels or {}
        self.found: list[Finding] = []

    def flag(self, code: str, field: str, message: str, value: float | None = None,
             limit: float | None = None) -> None:
        action = self.params.action_for(code)
        self.found.append(Finding(field, code, message, action, value, limit))

    def apply(self, limits: tuple[Limit, ...], figures: Mapping[str, object]) -> None:
        for lim in limits:
            value = figures.get(lim.field)
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.compare(lim, float(value))

    def compare(self, lim: Limit, value: float) -> None:
        low = None if lim.low is None else float(getattr(self.params, lim.low))
        high = None if lim.high is None else float(getattr(self.params, lim.high))
        self.compare_with(lim, value, low=low, high=high)

    def what(self, lim: Limit) -> str:
        return lim.what or self.labels.get(lim.field, lim.field.replace("_", " "))

    def compare_with(self, lim: Limit, value: float, *, low: float | None = None,
                     high: float | None = None) -> None:
        """Judge `value` against bounds the caller resolved (per arm, per tubing set)."""
        shown = f"{self.what(lim)} {figure_text(value, lim.unit)}"
        if low is not None and high is not None:
            if not low <= value <= high:
                bound = low if value < low else high
                message = (f"{shown} is outside the protocol range of "
                           f"{range_text(low, high, lim.unit)}")
                self.flag(lim.code, lim.field, message, value, bound)
        elif low is not None and value < low:
            message = f"{shown} is below the protocol minimum of {figure_text(low, lim.unit)}"
            self.flag(lim.code, lim.field, message, value, low)
        elif high is not None and value > high:
            message = f"{shown} is above the protocol maximum of {figure_text(high, lim.unit)}"
            self.flag(lim.code, lim.field, message, value, high)


# The numeric limits of each step, as data: the table is the specification. Limits the
# rules resolve themselves (the dose per arm, the tubing set's capacity, the expiry) are
# listed in workflows.registry so it can still say what judges each figure.
LIMITS: Mapping[str, tuple[Limit, ...]] = {
    "harvest": (
        Limit("harvest_volume_min", "volume_ml", "ml", low="harvest_min_volume_ml"),
    ),
    "receive": (
        Limit("receipt_time", "hours_since_harvest", "h",
              high="receipt_max_hours_after_harvest"),
        Limit("receipt_temperature", "temperature_c", "°C",
              "receipt_temperature_min_c", "receipt_temperature_max_c"),
    ),
    "sediment": (
        Limit("rbc_depletion_min", "rbc_depletion_pct", "%", low="rbc_depletion_min_pct"),
        Limit("sedimentation_tnc_recovery_min", "tnc_recovery_pct", "%",
              low="sedimentation_tnc_recovery_min_pct"),
    ),
    "isolate_mnc": (
        Limit("ficoll_density", "density_g_per_ml", "g/ml",
              "ficoll_density_min_g_per_ml", "ficoll_density_max_g_per_ml"),
        Limit("ficoll_g_force", "g_force", "×g", "ficoll_g_min", "ficoll_g_max"),
        Limit("ficoll_spin_minutes", "spin_minutes", "min",
              "ficoll_minutes_min", "ficoll_minutes_max"),
        Limit("ficoll_temperature", "temperature_c", "°C",
              "ficoll_temperature_min_c", "ficoll_temperature_max_c"),
        Limit("ficoll_viability_min", "viability_pct", "%", low="ficoll_viability_min_pct"),
    ),
    "enrich": (
        Limit("reagent_vial_target_capacity", "pre_cd133_cells", "cells",
              high="cd133_reagent_vial_capacity_target_cells"),
        Limit("reagent_vial_total_capacity", "pre_tnc", "cells",
              high="cd133_reagent_vial_capacity_total_cells"),
        Limit("labelling_incubation", "incubation_minutes", "min",
              "labelling_incubation_minutes_min", "labelling_incubation_minutes_max"),
        Limit("enrichment_purity_min", "cd133_purity_pct", "%", low="enrichment_purity_min_pct"),
        Limit("enrichment_viability_min", "target_viability_pct", "%",
              low="enrichment_viability_min_pct"),
        Limit("enrichment_recovery_low", "cd133_recovery_pct", "%",
              low="enrichment_recovery_warn_below_pct"),
    ),
    "formulate": (
        Limit("final_volume_max", "final_volume_ml", "ml", high="final_volume_max_ml"),
        Limit("viability_release_min", "viability_pct", "%", low="viability_release_min_pct"),
    ),
    "issue": (
        Limit("transport_temperature", "temperature_c", "°C",
              "transport_temperature_min_c", "transport_temperature_max_c"),
    ),
    "administer": (),
}
