"""The limits of a release specification as people read and type them.

Each limit is named after the QC test it judges, in the registry's words and units
(workflows.registry), so the specification page says "Viability (7-AAD): minimum ≥ 70.0 %"
as the batch record does. A typed limit is read here: numbers with the digits 0–9 (cells
as plain cells, 2e8 or 200000000), yes/no, and the basis of the endotoxin limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.characters import name_odd_characters
from workflows.numbers import Style
from workflows.registry import QC, entry, format_any, label_of
from workflows.specifications import Specification
from workflows.step_limits import bound_text

ENDOTOXIN_BASES: Mapping[str, str] = {
    "per_kg": "K × body weight ÷ product volume",
    "per_ml": "a fixed limit per ml",
}


@dataclass(frozen=True)
class LimitField:
    """One limit of a specification: its attribute, the QC test it judges, how it is typed."""

    name: str  # the Specification attribute
    test: str  # the QC test (registry entry "qc", test)
    part: str  # "minimum", "maximum", "K", ...
    unit: str
    kind: str  # "number", "optional_number" (empty: not tested), "basis", "yes_no"

    @property
    def label(self) -> str:
        return f"{label_of(QC, self.test)}: {self.part}"


def _unit(test: str) -> str:
    return entry(QC, test).unit


LIMIT_FIELDS: tuple[LimitField, ...] = (
    LimitField("viability_min_pct", "viability", "minimum", _unit("viability"), "number"),
    LimitField("dose_min_cells", "viable_dose", "minimum", _unit("viable_dose"), "number"),
    LimitField("dose_max_cells", "viable_dose", "maximum", _unit("viable_dose"), "number"),
    LimitField("cd133_purity_min_pct", "cd133_purity", "minimum", _unit("cd133_purity"),
               "optional_number"),
    LimitField("endotoxin_basis", "endotoxin", "basis of the limit", "", "basis"),
    LimitField("endotoxin_k_eu_per_kg", "endotoxin", "K (per kg body weight)", "EU/kg",
               "number"),
    LimitField("endotoxin_eu_per_ml", "endotoxin", "fixed limit", _unit("endotoxin"), "number"),
    LimitField("mycoplasma_required", "mycoplasma", "required for release", "", "yes_no"),
)
FIELDS_BY_NAME: Mapping[str, LimitField] = {f.name: f for f in LIMIT_FIELDS}


def limit_text(name: str, value: Any, style: Style = "text") -> str:
    """One limit as read: "≥ 70.0 %", "≤ 12.0 × 10⁶ cells", "K × body weight ÷ ...", "yes"."""
    found = FIELDS_BY_NAME[name]
    if found.kind == "basis":
        return ENDOTOXIN_BASES.get(str(value), str(value))
    if found.kind == "yes_no":
        return "yes" if value else "no"
    if value is None:
        return "not tested in this arm"
    if found.name == "endotoxin_k_eu_per_kg":
        return f"K = {format_any(value, found.unit, style)}"
    number = float(value)
    if found.part == "minimum":
        return bound_text(number, None, found.unit, style)
    return bound_text(None, number, found.unit, style)


@dataclass(frozen=True)
class LimitRow:
    name: str
    label: str
    text: str
    changed: bool  # differs from the version it is compared with


def limit_rows(limits: Mapping[str, Any], against: Mapping[str, Any] | None = None,
               style: Style = "text") -> list[LimitRow]:
    """Every limit of a version, in the registry's words, marked where it differs from
    `against` (the version in force)."""
    return [LimitRow(f.name, f.label, limit_text(f.name, limits.get(f.name), style),
                     against is not None and against.get(f.name) != limits.get(f.name))
            for f in LIMIT_FIELDS]


def typed_value(name: str, value: Any) -> str:
    """A limit as it goes back into a form field."""
    found = FIELDS_BY_NAME[name]
    if found.kind == "yes_no":
        return "yes" if value else "no"
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def read_limit(name: str, text: str) -> Any:
    """A typed limit as its value, or ValueError saying what to type."""
    found = FIELDS_BY_NAME[name]
    entry_text = text.strip()
    if found.kind == "basis":
        if entry_text not in ENDOTOXIN_BASES:
            raise ValueError(f"choose one of {', '.join(ENDOTOXIN_BASES)}")
        return entry_text
    if found.kind == "yes_no":
        if entry_text.lower() not in ("yes", "no"):
            raise ValueError("answer yes or no")
        return entry_text.lower() == "yes"
    if not entry_text and found.kind == "optional_number":
        return None
    odd = name_odd_characters(entry_text)
    if odd is not None:
        raise ValueError(f"the value has {odd}; type it with the digits 0–9")
    try:
        number = float(entry_text.replace(" ", "").replace(",", ""))
    except ValueError:
        raise ValueError(f"{entry_text!r} is not a number"
                         + (f" of {found.unit}" if found.unit else "")) from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{entry_text!r} is not a possible limit")
    return number


def read_changes(typed: Mapping[str, str], shown: Mapping[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, str]]:
    """The limits typed differently from `shown` (a version's limits), and the errors of
    those that cannot be read, by attribute name."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in LIMIT_FIELDS:
        text = typed.get(f.name)
        if text is None or text.strip() == typed_value(f.name, shown.get(f.name)):
            continue
        try:
            value = read_limit(f.name, text)
        except ValueError as error:
            errors[f.name] = str(error)
            continue
        if value != shown.get(f.name):
            changes[f.name] = value
    return changes, errors


def specification_problem(limits: Mapping[str, Any]) -> str | None:
    """Why `limits` are not a whole, consistent specification; None when they are."""
    try:
        Specification.from_mapping(limits)
    except (TypeError, ValueError) as error:
        return str(error)
    return None
