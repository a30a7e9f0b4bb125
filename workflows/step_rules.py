"""Per-step computations and protocol-limit checks.

Each rule takes the cleaned values of one step, computes what the batch record
shows (through `workflows.calculations`, so there is one formula per figure) and
compares it with ProtocolParameters. Whether a crossed limit warns or refuses is
never decided here: it comes from `params.action_for(code)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from workflows import calculations as calc
from workflows.numbers import format_value
from workflows.protocol import ProtocolParameters
from workflows.step_limits import LIMITS, Limit, figure_text
from workflows.step_limits import Checks as _Checks
from workflows.step_model import Finding, StepContext, StepDataError

__all__ = ["LIMITS", "Limit", "apply_rules", "figure_text"]

Computed = dict[str, float]

# Free text that means "nothing happened"; anything else is an event for QA.
_NO_EVENT = frozenset({"none", "no", "nil", "n/a", "na", "-"})


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
        message = (f"Product expired: {what} {format_value(hours, 'h')} after harvest end, "
                   f"beyond the expiry of {format_value(limit, 'h')}")
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
    if tnc_in:  # without a sedimentation count there is no input to take a yield of
        # MNC are a part of the nucleated cells in: out / in is a yield (registry label).
        computed["mnc_yield_pct"] = calc.recovery_pct(mnc_total, tnc_in)
    return computed


def _tubing_capacity(checks: _Checks, values: Mapping[str, object]) -> None:
    tubing = str(values["tubing_set_type"])
    capacity = checks.params.tubing_set_capacity_total_cells.get(tubing)
    if capacity is None:
        message = f"No capacity is configured for tubing set {tubing}; check it against the IFU"
        checks.flag("tubing_set_capacity", "tubing_set_type", message)
        return
    what = f"TNC loaded on tubing set {tubing}"
    lim = Limit("tubing_set_capacity", "pre_tnc", "cells", what=what)
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
        message = (f"{count} QC samples of {format_value(each, 'ml')} would take all of the "
                   f"final volume of {format_value(volume, 'ml')}")
        raise StepDataError({"qc_sample_volume_ml": message})


def _weight_at_formulation(values: Mapping[str, object], context: StepContext,
                           checks: _Checks) -> float:
    """The body weight the dose per kg uses: the one taken at formulation, flagged when it
    is further from the enrolment weight than the protocol allows."""
    weight = _num(values, "weight_kg")
    change = abs(weight - context.weight_kg) / context.weight_kg * 100
    allowed = checks.params.formulation_weight_change_max_pct
    if change > allowed:
        checks.flag("body_weight_change", "weight_kg",
                    f"Body weight at formulation {format_value(weight, 'kg')} differs from "
                    f"the enrolment weight {format_value(context.weight_kg, 'kg')} by "
                    f"{format_value(change, '%')} (more than {format_value(allowed, '%')}): "
                    "check which is right before release", change, allowed)
    return weight


def formulate(values: Mapping[str, object], context: StepContext, checks: _Checks) -> Computed:
    volume, total = _num(values, "final_volume_ml"), _final_cells(values)
    weight = _weight_at_formulation(values, context, checks)
    _samples_fit(values, volume)
    viable = calc.viable_cells(total, _num(values, "viability_pct"))
    dose = _dose_cells(viable, context)
    low, high = checks.params.dose_range(context.arm)
    what = "Viable CD133+ dose" if context.arm == "CD133" else "Viable MNC dose"
    checks.compare_with(Limit("dose_min", "viable_dose", "cells", what=what), dose, low=low)
    checks.compare_with(Limit("dose_max", "viable_dose", "cells", what=what), dose, high=high)
    return {
        "total_cells": total,
        "final_volume_ml": volume,
        "concentration_per_ml": calc.concentration_per_ml(total, volume),
        "viable_cells": viable,
        "viable_dose": dose,
        "dose_per_kg": calc.dose_per_kg(dose, weight),
        "endotoxin_limit_eu_per_ml": _endotoxin_limit(checks.params, weight, volume),
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
        message = f"is more than the formulated volume of {format_value(formulated, 'ml')}"
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
                context: StepContext, labels: Mapping[str, str] | None = None,
                ) -> tuple[Computed, tuple[Finding, ...]]:
    """Computed figures and findings of one cleaned step submission; `labels` name each
    value and figure in the messages (the step's registry labels)."""
    checks = _Checks(params, labels)
    computed = _RULES[step](values, context, checks)
    checks.apply(LIMITS[step], {**values, **computed})
    return computed, tuple(checks.found)
