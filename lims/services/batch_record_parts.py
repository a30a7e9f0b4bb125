"""Formatting of step values, computed figures and the key-value chart for the batch record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import labels.batch_record as br
from labels.batch_record_text import local_and_utc
from lims.models import QcResult, StepRecord
from workflows.protocol import ProtocolParameters
from workflows.specifications import Specification, endotoxin_limit
from workflows.step_rules import LIMITS
from workflows.steps import StepSpec


def value_lines(spec: StepSpec, values: Mapping[str, Any],
                zone: str) -> tuple[tuple[str, str, str], ...]:
    lines = []
    for field in spec.fields:
        if field.name in values and values[field.name] not in (None, ""):
            value = values[field.name]
            if isinstance(value, bool):
                text = "yes" if value else "no"
            elif field.kind == "datetime":
                text = _moment(value, zone)
            else:
                text = _text(value)
            lines.append((field.label, text, field.unit or ""))
    return tuple(lines)


def _moment(value: Any, zone: str) -> str:
    """A stored ISO time as the lab reads it: local time, with UTC beside it."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return local_and_utc(moment, zone) if moment.utcoffset() is not None else str(value)


def computed_lines(step: str, computed: Mapping[str, float],
                   params: object) -> tuple[tuple[str, str, str, str], ...]:
    assert isinstance(params, ProtocolParameters)
    limits = {lim.field: lim for lim in LIMITS.get(step, ())}
    lines = []
    for name, value in computed.items():
        lim = limits.get(name)
        unit = lim.unit if lim else _unit(name)
        limit = ""
        if lim is not None:
            low = getattr(params, lim.low) if lim.low else None
            high = getattr(params, lim.high) if lim.high else None
            limit = " – ".join(p for p in (f"≥ {low:g}" if low is not None else "",
                                           f"≤ {high:g}" if high is not None else "") if p)
        label = lim.what if lim else _LABELS.get(name, name.replace("_", " ").capitalize())
        lines.append((label, _text(value), unit, limit))
    return tuple(lines)


_LABELS = {"tnc_in": "TNC in", "tnc_out": "TNC out", "rbc_in": "RBC in", "rbc_out": "RBC out",
           "mnc_total": "MNC total", "viable_mnc": "Viable MNC", "cd34_cells": "CD34+ cells",
           "cd133_cells": "CD133+ cells", "mnc_recovery_pct": "MNC recovery",
           "pre_cd133_cells": "CD133+ cells before selection", "target_cells": "Target cells",
           "viable_cd133": "Viable CD133+ cells", "cd133_recovery_pct": "CD133+ recovery",
           "log_depletion": "Non-target depletion (log10)", "viable_dose": "Viable dose",
           "dose_per_kg": "Dose per kg", "concentration_per_ml": "Concentration per ml",
           "hours_since_harvest": "Hours since harvest end", "duration_minutes": "Duration",
           "transport_minutes": "Transport time", "net_volume_ml": "Net volume"}


def chart_series(records: list[StepRecord], results: Mapping[str, QcResult], spec: Specification,
                 params: ProtocolParameters, *, weight_kg: float,
                 volume_ml: float | None) -> tuple[br.ChartSeries, ...]:
    """This product's key values against their limits, for the reviewer's chart."""
    series = []

    def qc(test: str, name: str, unit: str, low: float | None, high: float | None) -> None:
        row = results.get(test)
        if row is not None and row.passed is not None:
            series.append(br.ChartSeries(name, float(row.value), unit, low, high))

    qc("viability", "Viability", "%", spec.viability_min_pct, None)
    if spec.cd133_purity_min_pct is not None:
        qc("cd133_purity", "CD133+ purity", "%", spec.cd133_purity_min_pct, None)
    qc("viable_dose", "Viable dose", "cells", spec.dose_min_cells, spec.dose_max_cells)
    qc("endotoxin", "Endotoxin", "EU/mL", None, endotoxin_limit(spec, weight_kg, volume_ml))
    computed = {r.step: r.computed for r in records}
    sediment = computed.get("sediment", {})
    if "rbc_depletion_pct" in sediment:
        series.append(br.ChartSeries("RBC depletion", sediment["rbc_depletion_pct"], "%",
                                     params.rbc_depletion_min_pct, None))
    if "tnc_recovery_pct" in sediment:
        series.append(br.ChartSeries("TNC recovery (sedimentation)",
                                     sediment["tnc_recovery_pct"], "%",
                                     params.sedimentation_tnc_recovery_min_pct, None))
    return tuple(series)


def _text(value: Any) -> str:
    """Numbers as the lab writes them: 19,500; 96.59; 4.00 × 10^9."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 1e6:
        exponent = len(str(int(abs(value)))) - 1
        return f"{value / 10**exponent:.2f} × 10^{exponent}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"


def _unit(name: str) -> str:
    if name.endswith("_pct"):
        return "%"
    if name.endswith("_minutes"):
        return "min"
    if name.endswith("_ml"):
        return "ml"
    if name.startswith("hours"):
        return "h"
    return "cells" if "cells" in name or name.startswith(("tnc", "mnc", "viable")) else ""
