"""One registry of every figure a person reads: name, label, unit, format and limits.

Every typed step field and every computed figure (workflows.steps STEPS), every QC test
(workflows.specifications QC_TESTS) and every figure a label prints has one `Entry`:
its label as the lab says it, its unit, its number format (workflows.numbers) and what
judges it, with the source of each bound:

- "physical": the range a real value can have (Field min/max; `above_min`: not even min);
- "protocol": a ProtocolParameters attribute (workflows.step_limits LIMITS, the rules);
- "specification": an attribute of the product's release Specification (QC tests).

Screens, API schema descriptions, labels, the batch record and refusal messages look
figures up here (`entry`, `format_figure`), so a figure has one name, unit and format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from workflows.fields import Figure, Quantity, quantity_for
from workflows.numbers import MILLION_UNITS, Style, format_value
from workflows.protocol import ProtocolParameters
from workflows.specifications import QC_TESTS, Specification, endotoxin_limit
from workflows.step_limits import LIMITS, bound_text
from workflows.step_model import Field
from workflows.steps import STEPS

Source = Literal["physical", "protocol", "specification"]
QC = "qc"  # the "step" of the QC tests' entries
LABEL = "label"  # the "step" of figures only a label prints
# Units as QC results stored them before the registry wrote "ml" everywhere (QcResult.unit
# keeps the unit of its day); the registry and QC_TESTS hold the one way.
_UNIT_ALIASES: Mapping[str, str] = {"EU/mL": "EU/ml"}
# Old names of renamed figures, still found in records stored before the rename.
ALIASES: Mapping[tuple[str, str], str] = {("isolate_mnc", "mnc_recovery_pct"): "mnc_yield_pct"}
# Per arm, the attribute holding a bound; a plain string holds for both arms.
Attribute = str | Mapping[str, str]


@dataclass(frozen=True)
class LimitRef:
    """What judges a value beyond its physical range: a protocol or specification limit."""

    code: str  # the protocol's limit name (params.action_for), or the QC test
    source: Source
    low: Attribute | None = None
    high: Attribute | None = None

    def bounds(self, of: ProtocolParameters | Specification,
               arm: str | None = None) -> tuple[float | None, float | None]:
        """The bounds in force in `of` (the protocol, or the product's specification)."""
        return _resolve(of, self.low, arm), _resolve(of, self.high, arm)

    def attributes(self) -> str:
        """Where the bounds are set, e.g. "ficoll_g_min, ficoll_g_max"."""
        names = [_attribute_text(a) for a in (self.low, self.high) if a is not None]
        return ", ".join(names)


def _resolve(of: object, attribute: Attribute | None, arm: str | None) -> float | None:
    if attribute is None:
        return None
    if not isinstance(attribute, str):
        if arm is None:
            return None  # the bound depends on the arm
        attribute = attribute[arm]
    value = getattr(of, attribute)
    return float(value) if isinstance(value, int | float) else None


def _attribute_text(attribute: Attribute) -> str:
    if isinstance(attribute, str):
        return attribute
    return "; ".join(f"{name} ({arm} arm)" for arm, name in attribute.items())


@dataclass(frozen=True)
class Entry:
    """One figure: where it belongs (`step`), its `name`, `label`, `unit` and limits."""

    step: str
    name: str
    label: str
    unit: str  # "" for a plain number, text, a time or a yes/no answer
    quantity: Quantity
    kind: str  # the form kind of a typed field, or "figure" for a computed figure
    physical_min: float | None = None
    physical_max: float | None = None
    above_min: bool = False
    limits: tuple[LimitRef, ...] = ()

    def format(self, value: object, style: Style = "text") -> str:
        """The value as people read it: "4,000 × 10⁶ cells", "96.6 %", "yes", "—"."""
        return format_any(value, self.unit, style)

    def physical_text(self, style: Style = "text") -> str:
        """The physically possible range: "0–100 %", "> 0 ml", "≥ 1 cells/µL"."""
        low, high = self.physical_min, self.physical_max
        if self.unit in MILLION_UNITS and low is not None and 0 < low < 1e3:
            low, above = 0.0, True  # "at least 1 cell" reads "> 0 × 10⁶" in millions
            return bound_text(low, None, self.unit, style, above_min=above) + (
                f", ≤ {format_value(high, self.unit, style)}" if high is not None else "")
        if self.above_min and high is not None and low is not None:
            return (f"> {format_value(low, self.unit, style)}, "
                    f"≤ {format_value(high, self.unit, style)}")
        return bound_text(low, high, self.unit, style, above_min=self.above_min)

    def limit_texts(self, of: ProtocolParameters | Specification, arm: str | None = None,
                    style: Style = "text") -> tuple[str, ...]:
        """Each limit of `source` kind in force in `of`, as printed: "≥ 80.0 %"."""
        wanted: Source = "specification" if isinstance(of, Specification) else "protocol"
        texts = []
        for ref in self.limits:
            if ref.source == wanted:
                low, high = ref.bounds(of, arm)
                text = bound_text(low, high, self.unit, style)
                if text:
                    texts.append(text)
        return tuple(texts)

    def describe(self) -> str:
        """Label, unit and limits with their source, for an API schema or a form's help."""
        parts = [f"{self.label}" + (f", in {self.unit}" if self.unit else "")]
        physical = self.physical_text()
        if physical:
            parts.append(f"possible range {physical}")
        defaults = ProtocolParameters()
        for ref in self.limits:
            if ref.source != "protocol":
                continue
            shown = "; ".join(self.limit_texts_for(ref, defaults))
            parts.append(f"protocol limit {ref.code} ({ref.attributes()}"
                         + (f"; default {shown})" if shown else ")"))
        return "; ".join(parts)

    def limit_texts_for(self, ref: LimitRef, params: ProtocolParameters) -> list[str]:
        arms = ("CD133", "BM-MNC") if any(
            not isinstance(a, str) and a is not None for a in (ref.low, ref.high)) else (None,)
        texts = []
        for arm in arms:
            low, high = ref.bounds(params, arm)
            text = bound_text(low, high, self.unit)
            texts.append(f"{arm} arm {text}" if arm else text)
        return texts


def format_any(value: object, unit: str, style: Style = "text") -> str:
    """Any stored value in `unit`: numbers in their one format, yes/no, times, text."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_value(float(value), _UNIT_ALIASES.get(unit, unit), style)
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return str(value)


def _of_field(step: str, f: Field) -> Entry:
    return Entry(step, f.name, f.label, f.unit or "", f.what, f.kind, f.min, f.max, f.above_min)


def _of_figure(step: str, f: Figure) -> Entry:
    return Entry(step, f.name, f.label, f.unit, f.what, "figure")


# Limits the rules resolve themselves (per arm, per tubing set, the expiry at issue and
# infusion, a recovery or yield above 100 % plus the counting tolerance).
_DOSE_MIN = {"CD133": "cd133_dose_min_cells", "BM-MNC": "mnc_dose_min_cells"}
_DOSE_MAX = {"CD133": "cd133_dose_max_cells", "BM-MNC": "mnc_dose_max_cells"}
_EXPIRY = LimitRef("product_expired", "protocol", high="expiry_hours_after_harvest_end")
_RULE_LIMITS: Mapping[tuple[str, str], tuple[LimitRef, ...]] = {
    ("formulate", "viable_dose"): (
        LimitRef("dose_min", "protocol", low=_DOSE_MIN),
        LimitRef("dose_max", "protocol", high=_DOSE_MAX)),
    # Per tubing set (a table, not one figure): the rule names the set in its message.
    ("enrich", "pre_tnc"): (LimitRef("tubing_set_capacity", "protocol",
                                     high="tubing_set_capacity_total_cells"),),
    ("issue", "hours_since_harvest"): (_EXPIRY,),
    ("administer", "hours_since_harvest"): (_EXPIRY,),
}
# Release specification attributes judging each QC test (workflows.specifications.judge).
_QC_LIMITS: Mapping[str, LimitRef] = {
    "viability": LimitRef("viability", "specification", low="viability_min_pct"),
    "viable_dose": LimitRef("viable_dose", "specification", low="dose_min_cells",
                            high="dose_max_cells"),
    "cd133_purity": LimitRef("cd133_purity", "specification", low="cd133_purity_min_pct"),
    "endotoxin": LimitRef("endotoxin", "specification", high="endotoxin_eu_per_ml"),
}


def _step_entries() -> dict[tuple[str, str], Entry]:
    found: dict[tuple[str, str], Entry] = {}
    for step, spec in STEPS.items():
        for figure in spec.figures:
            found[(step, figure.name)] = _of_figure(step, figure)
        for field in spec.fields:  # a typed value wins over the figure that repeats it
            found[(step, field.name)] = _of_field(step, field)
        for lim in LIMITS.get(step, ()):
            ref = LimitRef(lim.code, "protocol", lim.low, lim.high)
            _add_limit(found, (step, lim.field), ref)
        for figure in spec.figures:
            if figure.what in (Quantity.RECOVERY, Quantity.YIELD):
                ref = LimitRef("recovery_above_100", "protocol", high="balance_tolerance_pct")
                _add_limit(found, (step, figure.name), ref)
    for key, refs in _RULE_LIMITS.items():
        for ref in refs:
            _add_limit(found, key, ref)
    return found


def _add_limit(found: dict[tuple[str, str], Entry], key: tuple[str, str], ref: LimitRef) -> None:
    old = found[key]
    found[key] = Entry(old.step, old.name, old.label, old.unit, old.quantity, old.kind,
                       old.physical_min, old.physical_max, old.above_min, (*old.limits, ref))


def _qc_entries() -> dict[tuple[str, str], Entry]:
    found = {}
    for test in QC_TESTS.values():
        unit = test.unit
        quantity = quantity_for("number", unit) if test.kind == "number" else Quantity.CHOICE
        high = 100.0 if unit == "%" else None
        limit = _QC_LIMITS.get(test.name)
        found[(QC, test.name)] = Entry(QC, test.name, test.label, unit, quantity, test.kind,
                                       0.0 if test.kind == "number" else None, high,
                                       limits=(limit,) if limit else ())
    return found


def _label_entries(steps: Mapping[tuple[str, str], Entry]) -> dict[tuple[str, str], Entry]:
    """Figures a label prints: the dose figures are the formulation's own entries."""
    return {
        (LABEL, "volume_ml"): Entry(LABEL, "volume_ml", "Volume", "ml", Quantity.VOLUME, "figure"),
        (LABEL, "storage_temperature_c"): Entry(LABEL, "storage_temperature_c",
                                                "Storage temperature", "°C",
                                                Quantity.TEMPERATURE, "figure"),
        (LABEL, "viable_dose"): steps[("formulate", "viable_dose")],
        (LABEL, "dose_per_kg"): steps[("formulate", "dose_per_kg")],
    }


def _build() -> Mapping[tuple[str, str], Entry]:
    steps = _step_entries()
    return MappingProxyType({**steps, **_qc_entries(), **_label_entries(steps)})


REGISTRY: Mapping[tuple[str, str], Entry] = _build()


def entry(step: str, name: str) -> Entry:
    """The entry of `name` in `step` ("qc" for QC tests, "label" for label figures).

    KeyError for a name the registry does not know: every figure must have an entry.
    """
    return REGISTRY[(step, ALIASES.get((step, name), name))]


def find(step: str, name: str) -> Entry | None:
    """The entry, or None (a stored record may hold a figure since removed)."""
    return REGISTRY.get((step, ALIASES.get((step, name), name)))


def format_figure(step: str, name: str, value: object, style: Style = "text") -> str:
    """`value` of figure `name` of `step` with its unit, in the one format."""
    return entry(step, name).format(value, style)


def label_of(step: str, name: str) -> str:
    """The lab's name of a figure; an unknown one is its name in words."""
    found = find(step, name)
    return found.label if found else name.replace("_", " ").capitalize()


def figure_entry(name: str) -> Entry | None:
    """A computed figure by name alone (a name means one figure in every step)."""
    for (step, figure), found in REGISTRY.items():
        if figure == name and found.kind == "figure" and step not in (QC, LABEL):
            return found
    return None


def qc_limit_text(test: str, spec: Specification, *, weight_kg: float,
                  volume_ml: float | None, style: Style = "text") -> str:
    """The release specification of a QC test as printed beside its result."""
    qc = entry(QC, test)
    if test == "endotoxin":
        return bound_text(None, endotoxin_limit(spec, weight_kg, volume_ml), qc.unit, style)
    if test == "cd133_purity" and spec.cd133_purity_min_pct is None:
        return "not tested in this arm"
    texts = qc.limit_texts(spec, style=style)
    if texts:
        return texts[0]
    return {"gram_stain": "no organisms seen", "sterility": "no growth (may be pending)",
            "mycoplasma": "absent"}.get(test, "")
