"""Per-step computations and protocol-limit checks.

Each rule takes the cleaned values of one step, computes what the batch record
shows (through `workflows.calculations`, so there is one formula per figure) and
compares it with ProtocolParameters. Whether a crossed limit warns or refuses is
never decided here: it comes from `params.action_for(code)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from workflows import calculations as calc
from workflows.protocol import ProtocolParameters
from workflows.step_model import Finding, StepContext, StepDataError

Computed = dict[str, float]

# Free text that means "nothing happened"; anything else is an event for QA.
_NO_EVENT = frozenset({"none", "no", "nil", "n/a", "na", "-"})


def _fmt(value: float, unit: str, *, limit: bool = False) -> str:
    """A figure the way the lab writes it: '72.0 %', '4.0 × 10^9 cells', '80 %'."""
    if unit == "cells":
        if value == 0:
            return "0 cells"
        exponent = math.floor(math.log10(abs(value)))
        if not limit and round(abs(value) / 10**exponent, 1) >= 10:  # 9.96e5 -> 1.0 × 10^6
            exponent += 1
        mantissa = value / 10**exponent
        shown = f"{mantissa:g}" if limit else f"{mantissa:.1f}"
        return f"{shown} × 10^{exponent} cells"
    if limit:
        return f"{value:g} {unit}"
    return f"{value:.3f} {unit}" if unit == "g/ml" else f"{value:.1f} {unit}"


def figure_text(value: float, unit: str) -> str:
    """A measured figure with its unit, as findings and refusals show it."""
    return _fmt(value, unit)


@dataclass(frozen=True)
class Limit:
    """A numeric protocol limit: `field` (a value or a computed figure) against params.

    `low`/`high` name the ProtocolParameters attributes holding the bounds; the
    action comes from `params.action_for(code)`.
    """

    code: str
    field: str
    what: str
    unit: str
    low: str | None = None
    high: str | None = None


class _Checks:
    """Collects findings for one step, taking each action from the protocol."""

    def __init__(self, params: ProtocolParameters) -> None:
        self.params = params
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

    def compare_with(self, lim: Limit, value: float, *, low: float | None = None,
                     high: float | None = None) -> None:
        """Judge `value` against bounds the caller resolved (per arm, per tubing set)."""
        shown = f"{lim.what} {_fmt(value, lim.unit)}"
        if low is not None and high is not None:
            if not low <= value <= high:
                window = f"{low:g}–{high:g} {lim.unit}"
                bound = low if value < low else high
                message = f"{shown} is outside the protocol range of {window}"
                self.flag(lim.code, lim.field, message, value, bound)
        elif low is not None and value < low:
            message = f"{shown} is below the protocol minimum of {_fmt(low, lim.unit, limit=True)}"
            self.flag(lim.code, lim.field, message, value, low)
        elif high is not None and value > high:
            message = f"{shown} is above the protocol maximum of {_fmt(high, lim.unit, limit=True)}"
            self.flag(lim.code, lim.field, message, value, high)


# The numeric limits of each step, as data: the table is the specification.
LIMITS: Mapping[str, tuple[Limit, ...]] = {
    "harvest": (
        Limit("harvest_volume_min", "volume_ml", "Harvest volume", "ml",
              low="harvest_min_volume_ml"),
    ),
    "receive": (
        Limit("receipt_time", "hours_since_harvest", "Time from harvest end to receipt", "h",
              high="receipt_max_hours_after_harvest"),
        Limit("receipt_temperature", "temperature_c", "Temperature on receipt", "°C",
              "receipt_temperature_min_c", "receipt_temperature_max_c"),
    ),
    "sediment": (
        Limit("rbc_depletion_min", "rbc_depletion_pct", "RBC depletion", "%",
              low="rbc_depletion_min_pct"),
        Limit("sedimentation_tnc_recovery_min", "tnc_recovery_pct", "TNC recovery", "%",
              low="sedimentation_tnc_recovery_min_pct"),
    ),
    "isolate_mnc": (
        Limit("ficoll_density", "density_g_per_ml", "Gradient density", "g/ml",
              "ficoll_density_min_g_per_ml", "ficoll_density_max_g_per_ml"),
        Limit("ficoll_g_force", "g_force", "Centrifugation force", "×g",
              "ficoll_g_min", "ficoll_g_max"),
        Limit("ficoll_spin_minutes", "spin_minutes", "Centrifugation time", "min",
              "ficoll_minutes_min", "ficoll_minutes_max"),
        Limit("ficoll_temperature", "temperature_c", "Centrifugation temperature", "°C",
              "ficoll_temperature_min_c", "ficoll_temperature_max_c"),
        Limit("ficoll_viability_min", "viability_pct", "MNC viability", "%",
              low="ficoll_viability_min_pct"),
    ),
    "enrich": (
        Limit("reagent_vial_target_capacity", "pre_cd133_cells", "CD133+ cells into labelling",
              "cells", high="cd133_reagent_vial_capacity_target_cells"),
        Limit("reagent_vial_total_capacity", "pre_tnc", "TNC into labelling", "cells",
              high="cd133_reagent_vial_capacity_total_cells"),
        Limit("labelling_incubation", "incubation_minutes", "Labelling incubation", "min",
              "labelling_incubation_minutes_min", "labelling_incubation_minutes_max"),
        Limit("enrichment_purity_min", "cd133_purity_pct", "CD133+ purity", "%",
              low="enrichment_purity_min_pct"),
        Limit("enrichment_viability_min", "target_viability_pct", "Target fraction viability",
              "%", low="enrichment_viability_min_pct"),
        Limit("enrichment_recovery_low", "cd133_recovery_pct", "CD133+ recovery", "%",
              low="enrichment_recovery_warn_below_pct"),
    ),
    "formulate": (
        Limit("final_volume_max", "final_volume_ml", "Final volume", "ml",
              high="final_volume_max_ml"),
        Limit("viability_release_min", "viability_pct", "Viability", "%",
              low="viability_release_min_pct"),
    ),
    "issue": (
        Limit("transport_temperature", "temperature_c", "Transport temperature", "°C",
              "transport_temperature_min_c", "transport_temperature_max_c"),
    ),
    "administer": (),
}


def _num(values: Mapping[str, object], name: str) -> float:
    value = values[name]
    assert isinstance(value, int | float), name  # the cleaner guarantees the type
    return float(value)


def _time(values: Mapping[str, object], name: str) -> datetime:
    value = values[name]
    assert isinstance(value, datetime), name
    return value


def _minutes(values: Mapping[str, object], start: str, end: str) -> float:
    return calc.hours_between(_time(values, start), _time(values, end)) * 60


def _since_harvest(context: StepContext, values: Mapping[str, object], field: str,
                   label: str) -> float | None:
    """Hours from harvest end to `values[field]`; refuses a time before the harvest ended."""
    moment = _time(values, field)
    if context.harvest_end is None:
        return None
    if moment < context.harvest_end:
        end = context.harvest_end.isoformat()
        raise StepDataError({field: f"{label} is before the harvest end ({end})"})
    return calc.hours_between(context.harvest_end, moment)


def _expiry(checks: _Checks, hours: float | None, field: str, what: str) -> None:
    limit = checks.params.expiry_hours_after_harvest_end
    if hours is not None and hours > limit:
        message = (f"Product expired: {what} {hours:.1f} h after harvest end, "
                   f"beyond the expiry of {limit:g} h")
        checks.flag("product_expired", field, message, hours, limit)


def _previous(context: StepContext, step: str, key: str) -> float | None:
    return context.previous.get(step, {}).get(key)


def harvest(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    return {"duration_minutes": _minutes(values, "harvest_start", "harvest_end")}


def receive(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    computed: Computed = {"transport_minutes": _minutes(values, "time_out", "time_received")}
    _since_harvest(context, values, "time_out", "time out")
    hours = _since_harvest(context, values, "time_received", "receipt")
    if hours is not None:
        computed["hours_since_harvest"] = hours
    gross, tare = values.get("gross_weight_g"), values.get("tare_g")
    if isinstance(gross, float) and isinstance(tare, float):
        if tare > gross:
            raise StepDataError({"tare_g": "is heavier than the gross weight"})
        density = checks.params.marrow_density_g_per_ml
        computed["net_volume_ml"] = calc.volume_from_weight(gross, tare, density)
    if values["bag_intact"] is False:
        checks.flag("bag_integrity", "bag_intact", "Bag not intact on receipt")
    return computed


def sediment(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    volume_in, volume_out = _num(values, "volume_in_ml"), _num(values, "volume_out_ml")
    tnc_in = calc.total_cells(_num(values, "wbc_in_per_ul"), volume_in)
    tnc_out = calc.total_cells(_num(values, "wbc_out_per_ul"), volume_out)
    rbc_in = calc.total_cells(_num(values, "rbc_in_per_ul"), volume_in)
    rbc_out = calc.total_cells(_num(values, "rbc_out_per_ul"), volume_out)
    return {
        "tnc_in": tnc_in,
        "tnc_out": tnc_out,
        "rbc_in": rbc_in,
        "rbc_out": rbc_out,
        "tnc_recovery_pct": calc.recovery_pct(tnc_out, tnc_in),
        "rbc_depletion_pct": calc.rbc_depletion_pct(rbc_in, rbc_out),
    }


def isolate_mnc(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    if checks.params.ficoll_brake_off_required and values["brake_off"] is False:
        checks.flag("ficoll_brake", "brake_off", "Gradient spun with the brake on")
    if values["grade"] == "RUO":
        message = "Gradient medium is research-use-only (RUO); the product is RUO-flagged"
        checks.flag("gradient_medium_grade", "grade", message)
    mnc_total = calc.total_cells(_num(values, "mnc_per_ul"), _num(values, "volume_ml"))
    viability = _num(values, "viability_pct")
    computed = {
        "mnc_total": mnc_total,
        "viable_mnc": calc.viable_cells(mnc_total, viability),
        "cd34_cells": mnc_total * _num(values, "cd34_pct") / 100,
        "cd133_cells": mnc_total * _num(values, "cd133_pct") / 100,
        "viability_pct": viability,
    }
    tnc_in = _previous(context, "sediment", "tnc_out")
    if tnc_in:  # without a sedimentation count there is no input to recover from
        computed["mnc_recovery_pct"] = calc.recovery_pct(mnc_total, tnc_in)
    return computed


def _tubing_capacity(checks: _Checks, values: Mapping[str, object]) -> None:
    tubing = str(values["tubing_set_type"])
    capacity = checks.params.tubing_set_capacity_total_cells.get(tubing)
    if capacity is None:
        message = f"No capacity is configured for tubing set {tubing}; check it against the IFU"
        checks.flag("tubing_set_capacity", "tubing_set_type", message)
        return
    what = f"TNC loaded on tubing set {tubing}"
    lim = Limit("tubing_set_capacity", "pre_tnc", what, "cells")
    checks.compare_with(lim, _num(values, "pre_tnc"), high=capacity)


def _selection_figures(values: Mapping[str, object]) -> Computed:
    pre_tnc, pre_pct = _num(values, "pre_tnc"), _num(values, "pre_cd133_pct")
    purity = _num(values, "cd133_purity_pct")
    target = calc.total_cells(_num(values, "target_cells_per_ul"), _num(values, "target_volume_ml"))
    # Purity is measured on viable events, so CD133+ out = target × purity, and the
    # viable CD133+ count applies viability on top (the SOP fixes the denominator).
    cd133_out = target * purity / 100
    computed = {
        "pre_cd133_cells": pre_tnc * pre_pct / 100,
        "target_cells": target,
        "cd133_cells": cd133_out,
        "viable_cd133": calc.viable_cells(cd133_out, _num(values, "target_viability_pct")),
        "cd133_purity_pct": purity,
    }
    if computed["pre_cd133_cells"] > 0:
        computed["cd133_recovery_pct"] = calc.recovery_pct(cd133_out, computed["pre_cd133_cells"])
        computed["enrichment_factor"] = calc.enrichment_factor(purity, pre_pct)
    non_target_in, non_target_out = pre_tnc - computed["pre_cd133_cells"], target - cd133_out
    if non_target_in > 0 and non_target_out > 0:
        computed["log_depletion"] = calc.log_depletion(non_target_in, non_target_out)
    return computed


def enrich(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    if context.arm != "CD133":
        raise StepDataError({"arm": "CliniMACS CD133+ enrichment is for the CD133 arm only"})
    computed = _selection_figures(values)
    computed["incubation_minutes"] = _minutes(values, "incubation_start", "incubation_end")
    computed["run_minutes"] = _minutes(values, "run_start", "run_end")
    _tubing_capacity(checks, values)
    if values.get("alarms"):
        checks.flag("run_alarm", "alarms", f"CliniMACS run alarm recorded: {values['alarms']}")
    return computed


def _final_cells(values: Mapping[str, object]) -> float:
    total, per_ul = values.get("total_cells"), values.get("cells_per_ul")
    if (total is None) == (per_ul is None):
        message = "enter either the total cells or the concentration in cells/µL, not both"
        raise StepDataError({"total_cells": message})
    if isinstance(total, float):
        return total
    return calc.total_cells(_num(values, "cells_per_ul"), _num(values, "final_volume_ml"))


def _dose_cells(viable: float, context: StepContext) -> float:
    """Viable cells that count as dose: viable MNC, or viable CD133+ in the CD133 arm."""
    if context.arm == "BM-MNC":
        return viable
    purity = _previous(context, "enrich", "cd133_purity_pct")
    if purity is None:
        message = "the CD133+ purity of the enrichment step is needed for a CD133 dose"
        raise StepDataError({"enrich": message})
    return viable * purity / 100


def _endotoxin_limit(params: ProtocolParameters, weight_kg: float, volume_ml: float) -> float:
    if params.endotoxin_limit_basis == "per_kg":
        k = params.endotoxin_limit_eu_per_kg
        return calc.endotoxin_limit_eu_per_ml(k, weight_kg, volume_ml)
    return params.endotoxin_limit_eu_per_ml


def _samples_fit(values: Mapping[str, object], volume: float) -> None:
    each, count = values.get("qc_sample_volume_ml"), values.get("qc_samples")
    if isinstance(each, float) and isinstance(count, int) and count * each >= volume:
        message = (f"{count} QC samples of {each:g} ml would take all of the final volume "
                   f"of {volume:g} ml")
        raise StepDataError({"qc_sample_volume_ml": message})


def formulate(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    volume, total = _num(values, "final_volume_ml"), _final_cells(values)
    _samples_fit(values, volume)
    viable = calc.viable_cells(total, _num(values, "viability_pct"))
    dose = _dose_cells(viable, context)
    low, high = checks.params.dose_range(context.arm)
    what = "Viable CD133+ dose" if context.arm == "CD133" else "Viable MNC dose"
    checks.compare_with(Limit("dose_min", "viable_dose", what, "cells"), dose, low=low)
    checks.compare_with(Limit("dose_max", "viable_dose", what, "cells"), dose, high=high)
    return {
        "total_cells": total,
        "final_volume_ml": volume,
        "concentration_per_ml": calc.concentration_per_ml(total, volume),
        "viable_cells": viable,
        "viable_dose": dose,
        "dose_per_kg": calc.dose_per_kg(dose, context.weight_kg),
        "endotoxin_limit_eu_per_ml": _endotoxin_limit(checks.params, context.weight_kg, volume),
    }


def issue(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    hours = _since_harvest(context, values, "time_issued", "issue")
    _expiry(checks, hours, "time_issued", "issued")
    return {} if hours is None else {"hours_since_harvest": hours}


def administer(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    computed = {"infusion_minutes": _minutes(values, "infusion_start", "infusion_end")}
    hours = _since_harvest(context, values, "infusion_start", "infusion start")
    if hours is not None:
        computed["hours_since_harvest"] = hours
    _expiry(checks, hours, "infusion_start", "infusion started")
    formulated = _previous(context, "formulate", "final_volume_ml")
    if formulated is not None and _num(values, "volume_injected_ml") > formulated:
        message = f"is more than the formulated volume of {formulated:g} ml"
        raise StepDataError({"volume_injected_ml": message})
    if values["sonography_guided"] is False:
        checks.flag("sonography_guidance", "sonography_guided", "Infusion not sonography-guided")
    events = values.get("adverse_events")
    if isinstance(events, str) and events.casefold() not in _NO_EVENT:
        checks.flag("adverse_event", "adverse_events", f"Immediate adverse event: {events}")
    return computed


Rule = Callable[[Mapping[str, object], StepContext, _Checks], Computed]

_RULES: Mapping[str, Rule] = {
    "harvest": harvest,
    "receive": receive,
    "sediment": sediment,
    "isolate_mnc": isolate_mnc,
    "enrich": enrich,
    "formulate": formulate,
    "issue": issue,
    "administer": administer,
}


def apply_rules(step: str, values: Mapping[str, object], params: ProtocolParameters,
                context: StepContext) -> tuple[Computed, tuple[Finding, ...]]:
    """Computed figures and findings of one cleaned step submission."""
    checks = _Checks(params)
    computed = _RULES[step](values, context, checks)
    checks.apply(LIMITS[step], {**values, **computed})
    return computed, tuple(checks.found)
