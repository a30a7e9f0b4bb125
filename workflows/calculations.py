"""Standard cell-processing calculations (process-reference.md §3).

Plain functions on plain numbers so that each figure on a batch record can be
recomputed by hand from the values beside it. Units are part of every name:
concentrations are cells/µL as analysers and flow cytometers report them,
volumes are ml, counts are absolute cells, percentages are 0-100.

Every function raises ValueError on input that cannot describe a real sample
(negative volume, viability above 100 %, a zero denominator, NaN) rather than
return a number that would end up on a release record.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

UL_PER_ML = 1000.0


def _finite(name: str, value: float) -> float:
    # bool is an int subclass; True as a cell count is always a wiring mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _non_negative(name: str, value: float) -> float:
    value = _finite(name, value)
    if value < 0:
        raise ValueError(f"{name} cannot be negative, got {value!r}")
    return value


def _positive(name: str, value: float) -> float:
    value = _finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be above zero, got {value!r}")
    return value


def _percentage(name: str, value: float) -> float:
    value = _finite(name, value)
    if not 0 <= value <= 100:
        raise ValueError(f"{name} must be between 0 and 100 %, got {value!r}")
    return value


def volume_from_weight(gross_g: float, tare_g: float, density_g_per_ml: float) -> float:
    """Net marrow volume from the bag weight: V [ml] = (gross − tare) [g] / density [g/ml].

    Bone marrow is about 1.05-1.06 g/ml; pass the protocol's configured density.
    """
    gross = _non_negative("gross weight", gross_g)
    tare = _non_negative("tare weight", tare_g)
    density = _positive("density", density_g_per_ml)
    if tare > gross:
        raise ValueError(f"tare weight {tare} g is heavier than the gross weight {gross} g")
    return (gross - tare) / density


def total_cells(concentration_per_ul: float, volume_ml: float) -> float:
    """Absolute count: N [cells] = concentration [cells/µL] × volume [ml] × 1000 [µL/ml].

    Example: 200 ml at 20,000 WBC/µL is 4.0 × 10^9 TNC.
    """
    concentration = _non_negative("concentration", concentration_per_ul)
    volume = _non_negative("volume", volume_ml)
    return concentration * volume * UL_PER_ML


def viable_cells(total: float, viability_pct: float) -> float:
    """Viable cells: N_viable [cells] = N [cells] × viability [%] / 100."""
    return _non_negative("cell count", total) * _percentage("viability", viability_pct) / 100


def recovery_pct(out_count: float, in_count: float) -> float:
    """Step recovery: R [%] = output count / input count × 100.

    May exceed 100 % through counting error; that is reported, not refused.
    """
    out = _non_negative("output count", out_count)
    return out / _positive("input count", in_count) * 100


def rbc_depletion_pct(rbc_in: float, rbc_out: float) -> float:
    """RBC depletion: D [%] = (1 − RBC_out / RBC_in) × 100 (counts, not concentrations).

    Negative when more red cells are counted out than in; left for the lab to see.
    """
    out = _non_negative("RBC out", rbc_out)
    return (1 - out / _positive("RBC in", rbc_in)) * 100


def purity_pct(target_events: float, denominator_events: float) -> float:
    """Purity: P [%] = target events / denominator events × 100.

    The denominator (CD45+ viable or all viable nucleated events) is fixed by the SOP.
    """
    target = _non_negative("target events", target_events)
    denominator = _positive("denominator events", denominator_events)
    if target > denominator:
        raise ValueError(
            f"target events ({target:g}) cannot exceed the denominator events ({denominator:g})"
        )
    return target / denominator * 100


def enrichment_factor(purity_out_pct: float, frequency_in_pct: float) -> float:
    """Enrichment factor (dimensionless) = purity out [%] / frequency in [%]."""
    purity = _percentage("purity out", purity_out_pct)
    frequency = _percentage("frequency in", frequency_in_pct)
    if frequency == 0:
        raise ValueError("frequency in must be above zero to compute an enrichment factor")
    return purity / frequency


def log_depletion(non_target_in: float, non_target_out: float) -> float:
    """Depletion of non-target cells: log10(non-target in / non-target out) [log]."""
    cells_in = _positive("non-target cells in", non_target_in)
    cells_out = _positive("non-target cells out", non_target_out)
    return math.log10(cells_in / cells_out)


def single_platform_count_per_ul(
    target_events: float, bead_events: float, beads_per_tube: float, sample_volume_ul: float
) -> float:
    """ISHAGE single-platform count [cells/µL] = (target / bead events) × (beads / sample µL).

    Multiply by the product volume (`total_cells`) for the absolute count.
    """
    target = _non_negative("target events", target_events)
    beads = _positive("bead events", bead_events)
    per_tube = _positive("beads per tube", beads_per_tube)
    sample = _positive("sample volume", sample_volume_ul)
    return target / beads * per_tube / sample


def dose_per_kg(cells: float, weight_kg: float) -> float:
    """Dose [cells/kg] = cells in the final product / body weight [kg] on the day of infusion."""
    return _non_negative("cell count", cells) / _positive("body weight", weight_kg)


def concentration_per_ml(cells: float, volume_ml: float) -> float:
    """Final concentration [cells/ml] = cells / final volume [ml]."""
    return _non_negative("cell count", cells) / _positive("volume", volume_ml)


def endotoxin_limit_eu_per_ml(
    k_eu_per_kg: float, weight_kg: float, product_volume_ml: float
) -> float:
    """Endotoxin limit [EU/ml] = K / M = K [EU/kg] × weight [kg] / product volume [ml].

    M is the dose in ml/kg; the whole product is given at once, so M = volume / weight.
    """
    k = _non_negative("K", k_eu_per_kg)
    weight = _positive("body weight", weight_kg)
    return k * weight / _positive("product volume", product_volume_ml)


def hours_between(start: datetime, end: datetime) -> float:
    """Elapsed time [h] = (end − start) / 3600 s; both must be timezone-aware.

    Naive times are refused: OR and lab clocks in different zones or across a
    DST change would silently give the wrong expiry.
    """
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} time {moment.isoformat()} has no timezone")
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return (end - start).total_seconds() / 3600


def product_expiry(harvest_end: datetime, hours_after_harvest_end: float, *,
                   latest_harvest_end: datetime) -> datetime:
    """Expiry = harvest end + the protocol's hours (default 12 h).

    `latest_harvest_end` is the server's clock plus the allowed clock skew: a harvest end
    after it has not happened yet and would push the expiry out, so it is refused.
    """
    if harvest_end.utcoffset() is None:
        raise ValueError(f"harvest end {harvest_end.isoformat()} has no timezone")
    if harvest_end > latest_harvest_end:
        raise ValueError(f"harvest end {harvest_end.isoformat()} is in the future")
    return harvest_end + timedelta(hours=_positive("hours after harvest end",
                                                   hours_after_harvest_end))
