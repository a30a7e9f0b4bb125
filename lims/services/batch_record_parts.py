"""Step values and computed figures of the batch record, named, united and judged.

Every label and unit comes from the one registry (workflows.registry `entry`/`find`,
built from the step registry and the QC tests), every number through workflows.numbers
in its one format, every limit from batch_record_limits with its source. Nothing is
guessed from a name: a value the registry does not describe is printed as "not in the
step registry", never dressed up with a made-up unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import labels.batch_record as br
from labels.batch_record_text import local_and_utc
from lims.models import QcResult, StepRecord
from lims.services.batch_record_limits import Bound
from workflows.numbers import format_value
from workflows.protocol import ProtocolParameters
from workflows.registry import Entry, entry, find
from workflows.specifications import QC_TESTS, Specification, endotoxin_limit
from workflows.steps import StepSpec

# Fields that hold a user name (the harvesting physician): printed as the person's name.
_PERSON_FIELDS = frozenset({"harvesting_physician"})
# The moment in each step that had to be before the product's expiry (workflows.step_rules).
EXPIRY_MOMENTS: Mapping[str, tuple[str, str]] = {
    "issue": ("time_issued", "Issued"),
    "administer": ("infusion_start", "Infusion started"),
}


@dataclass(frozen=True)
class Context:
    """What formatting a step's values needs beyond the record itself."""

    zone: str
    people: Mapping[str, str]  # user name → printed full name
    expires_at: datetime | None
    protocol: str


def number_markup(value: object, unit: str) -> str:
    """A stored number in its unit's one format, as paragraph markup."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value))
    return format_value(float(value), unit, "pdf")


def moment(value: object) -> datetime | None:
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.utcoffset() is not None else None


def _field_text(field: Entry, value: Any, context: Context) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field.kind == "datetime":
        when = moment(value)
        return escape(local_and_utc(when, context.zone) if when else str(value))
    if field.name in _PERSON_FIELDS:
        return escape(context.people.get(str(value), str(value)))
    if field.kind in ("number", "integer"):
        return number_markup(value, field.unit)
    return escape(str(value))


def _judged(found: Entry, text: str, value: object, bound: Bound | None) -> br.ValueLine:
    if bound is None or isinstance(value, bool) or not isinstance(value, int | float):
        return br.ValueLine(found.name, found.label, text, found.unit)
    return br.ValueLine(found.name, found.label, text, found.unit, bound.text(found.unit),
                        bound.judge(float(value)), bound.source)


def _expiry_line(found: Entry, text: str, value: object, context: Context) -> br.ValueLine:
    when = moment(value)
    if when is None or context.expires_at is None:
        return br.ValueLine(found.name, found.label, text, found.unit)
    in_date = when <= context.expires_at
    limit = f"before the expiry, {escape(local_and_utc(context.expires_at, context.zone))}"
    return br.ValueLine(found.name, found.label, text, found.unit, limit, in_date,
                        f"protocol {context.protocol}: expiry_hours_after_harvest_end",
                        "in date" if in_date else "EXPIRED")


def _unknown(name: str, value: object) -> br.ValueLine:
    """A stored value the registry does not describe: shown as it is, never given a unit."""
    return br.ValueLine(name, f"{name} (not in the step registry)", escape(str(value)), "")


def value_lines(spec: StepSpec, values: Mapping[str, Any], bounds: Mapping[str, Bound],
                context: Context) -> tuple[br.ValueLine, ...]:
    """The typed fields in the order of the form, named and united by the registry and
    judged where the protocol limits them; a stored value the form no longer has is shown
    as such rather than dropped."""
    lines = []
    expiry_field = EXPIRY_MOMENTS.get(spec.name, ("", ""))[0]
    for field in spec.fields:
        value = values.get(field.name)
        if value is None or value == "":
            continue
        found = entry(spec.name, field.name)
        text = _field_text(found, value, context)
        if field.name == expiry_field:
            lines.append(_expiry_line(found, text, value, context))
        else:
            lines.append(_judged(found, text, value, bounds.get(found.name)))
    known = {f.name for f in spec.fields}
    lines += [_unknown(name, value) for name, value in values.items() if name not in known]
    return tuple(lines)


def computed_lines(spec: StepSpec, computed: Mapping[str, Any],
                   bounds: Mapping[str, Bound]) -> tuple[br.ValueLine, ...]:
    """The computed figures in the order the rules gave them, named and united by the
    registry and judged where the protocol limits them."""
    lines = []
    for name, value in computed.items():
        found = find(spec.name, name)
        if found is None:
            lines.append(_unknown(name, value))
            continue
        lines.append(_judged(found, number_markup(value, found.unit), value,
                             bounds.get(found.name)))
    return tuple(lines)


def chart_series(records: list[StepRecord], results: Mapping[str, QcResult], spec: Specification,
                 params: ProtocolParameters, *, weight_kg: float,
                 volume_ml: float | None) -> tuple[br.ChartSeries, ...]:
    """This product's key values against their limits, for the reviewer's chart."""
    series = []

    def qc(test: str, low: float | None, high: float | None) -> None:
        row = results.get(test)
        if row is not None and row.passed is not None:
            definition = QC_TESTS[test]
            series.append(br.ChartSeries(definition.label, float(row.value), definition.unit,
                                         low, high))

    qc("viability", spec.viability_min_pct, None)
    if spec.cd133_purity_min_pct is not None:
        qc("cd133_purity", spec.cd133_purity_min_pct, None)
    qc("viable_dose", spec.dose_min_cells, spec.dose_max_cells)
    qc("endotoxin", None, endotoxin_limit(spec, weight_kg, volume_ml))
    computed = {r.step: r.computed for r in records}
    sediment = computed.get("sediment", {})
    if "rbc_depletion_pct" in sediment:
        series.append(br.ChartSeries("RBC depletion (sedimentation)",
                                     sediment["rbc_depletion_pct"], "%",
                                     params.rbc_depletion_min_pct, None))
    if "tnc_recovery_pct" in sediment:
        series.append(br.ChartSeries("TNC recovery (sedimentation)",
                                     sediment["tnc_recovery_pct"], "%",
                                     params.sedimentation_tnc_recovery_min_pct, None))
    return tuple(series)
