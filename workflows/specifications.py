"""Release specifications of one arm, and how a QC result is judged against them.

A specification set is versioned data: the lab changes a limit by making a new
version, and a product is always judged against the version in force when it was
made. Defaults come from the protocol parameters (process-reference.md §2.6).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from workflows.characters import name_odd_characters
from workflows.protocol import ProtocolParameters


@dataclass(frozen=True)
class Specification:
    arm: str
    viability_min_pct: float
    dose_min_cells: float
    dose_max_cells: float
    cd133_purity_min_pct: float | None  # None: not a test of this arm
    endotoxin_basis: str  # "per_kg" (K × weight / volume) or "per_ml"
    endotoxin_k_eu_per_kg: float
    endotoxin_eu_per_ml: float
    mycoplasma_required: bool = False

    def to_mapping(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Specification:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown specification fields: {', '.join(sorted(unknown))}")
        spec = cls(**data)
        spec.check()
        return spec

    def check(self) -> None:
        problems = _type_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        if not 0 <= self.viability_min_pct <= 100:
            problems.append("viability minimum must be 0–100 %")
        if not 0 < self.dose_min_cells <= self.dose_max_cells:
            problems.append("dose minimum must be above 0 and not above the maximum")
        if self.cd133_purity_min_pct is not None and not 0 <= self.cd133_purity_min_pct <= 100:
            problems.append("CD133 purity minimum must be 0–100 %")
        if self.endotoxin_basis not in ("per_kg", "per_ml"):
            problems.append("endotoxin basis must be per_kg or per_ml")
        if problems:
            raise ValueError("; ".join(problems))


_NUMBERS = ("viability_min_pct", "dose_min_cells", "dose_max_cells", "endotoxin_k_eu_per_kg",
            "endotoxin_eu_per_ml")


def _type_problems(spec: Specification) -> list[str]:
    """Numbers that are real finite numbers, a yes/no that is one (JSON may carry anything)."""
    problems = []
    for name in (*_NUMBERS, "cd133_purity_min_pct"):
        value = getattr(spec, name)
        if value is None and name == "cd133_purity_min_pct":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            problems.append(f"{name.replace('_', ' ')} must be a number")
        elif value < 0:
            problems.append(f"{name.replace('_', ' ')} cannot be negative")
    if not isinstance(spec.mycoplasma_required, bool):
        problems.append("mycoplasma required must be yes or no")
    return problems


class SpecificationStatus(StrEnum):
    """Where a version of an arm's release specification stands (the column holds the value).

    A change is drafted, approved by QA's electronic signature over the limits' hash and is
    in force from its `effective_from`; a draft never approved is withdrawn and kept."""

    DRAFT = "draft"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"

    @property
    def words(self) -> str:
        return _STATUS_WORDS[self]


_STATUS_WORDS: Mapping[SpecificationStatus, str] = {
    SpecificationStatus.DRAFT: "draft: awaiting QA approval, not in force",
    SpecificationStatus.APPROVED: "approved by QA",
    SpecificationStatus.WITHDRAWN: "withdrawn: never in force",
}
APPROVAL_MEANING = "Approved"  # the meaning of QA's signature on a specification version
SYSTEM_APPROVER = "system (protocol defaults)"  # the printed name of the seeded version 1


def standing(status: str, effective_from: datetime | None, *, in_force: bool,
             now: datetime) -> str:
    """A version's standing in words: "in force", "approved, takes effect ...", ..."""
    if status != SpecificationStatus.APPROVED:
        return SpecificationStatus(status).words
    if in_force:
        return "in force"
    if effective_from is not None and effective_from > now:
        return "approved, not yet in force"
    return "superseded by a later version"


def changed_limits(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the limits that differ between two versions (in the field order)."""
    names = [f.name for f in fields(Specification)]
    return tuple(n for n in names if before.get(n) != after.get(n))


def default_specification(params: ProtocolParameters, arm: str) -> Specification:
    low, high = params.dose_range(arm)
    return Specification(
        arm=arm, viability_min_pct=params.viability_release_min_pct, dose_min_cells=low,
        dose_max_cells=high,
        cd133_purity_min_pct=params.enrichment_purity_min_pct if arm == "CD133" else None,
        endotoxin_basis=params.endotoxin_limit_basis,
        endotoxin_k_eu_per_kg=params.endotoxin_limit_eu_per_kg,
        endotoxin_eu_per_ml=params.endotoxin_limit_eu_per_ml)


@dataclass(frozen=True)
class QcTest:
    name: str
    label: str
    unit: str
    kind: str  # "number" or "text"
    choices: tuple[str, ...] = ()
    pending_allowed: bool = False  # may still be pending at release (culture)


QC_TESTS: Mapping[str, QcTest] = {t.name: t for t in (
    QcTest("viability", "Viability (7-AAD)", "%", "number"),
    QcTest("viable_dose", "Viable dose", "cells", "number"),
    QcTest("cd133_purity", "CD133+ purity", "%", "number"),
    QcTest("gram_stain", "Gram stain", "", "text", ("no organisms seen", "organisms seen")),
    QcTest("endotoxin", "Endotoxin", "EU/ml", "number"),
    QcTest("sterility", "Sterility culture (aerobic/anaerobic/fungal)", "", "text",
           ("pending", "no growth", "growth"), pending_allowed=True),
    QcTest("mycoplasma", "Mycoplasma", "", "text", ("pending", "absent", "present"),
           pending_allowed=True),
)}


def required_tests(spec: Specification) -> tuple[str, ...]:
    tests = ["viability", "viable_dose", "gram_stain", "endotoxin", "sterility"]
    if spec.cd133_purity_min_pct is not None:
        tests.insert(2, "cd133_purity")
    if spec.mycoplasma_required:
        tests.append("mycoplasma")
    return tuple(tests)


def allowed_tests(spec: Specification) -> tuple[str, ...]:
    """Required tests plus optional ones (mycoplasma may always be recorded)."""
    return tuple(dict.fromkeys([*required_tests(spec), "mycoplasma"]))


def parse_result(test: str, value: str) -> float | str:
    """The typed result, or ValueError with a message a technician can act on."""
    definition = QC_TESTS.get(test)
    if definition is None:
        raise ValueError(f"unknown QC test {test!r}; tests are {', '.join(QC_TESTS)}")
    text = value.strip()
    if definition.kind == "text":
        if text.lower() not in definition.choices:
            raise ValueError(f"{definition.label}: enter one of {', '.join(definition.choices)}")
        return text.lower()
    odd = name_odd_characters(text)
    if odd is not None:  # float() would read a full-width '３' or an Arabic-Indic digit
        raise ValueError(f"{definition.label}: the value has {odd}; type it with the digits "
                         "0–9")
    try:
        number = float(text.replace(" ", ""))
    except ValueError:
        raise ValueError(f"{definition.label}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{definition.label}: {value.strip()!r} is not a number of "
                         f"{definition.unit}: enter the measured value")
    if number < 0 or (definition.unit == "%" and number > 100):
        raise ValueError(f"{definition.label}: {number:g} {definition.unit} is impossible")
    return number


def endotoxin_limit(spec: Specification, weight_kg: float, volume_ml: float | None) -> float:
    """EU/ml: K × body weight / product volume on the per-kg basis, else the fixed limit."""
    if spec.endotoxin_basis == "per_kg" and volume_ml:
        return spec.endotoxin_k_eu_per_kg * weight_kg / volume_ml
    return spec.endotoxin_eu_per_ml


def judge(test: str, result: float | str, spec: Specification, *, weight_kg: float,
          volume_ml: float | None) -> bool | None:
    """True within specification, False out of it, None while pending."""
    if result == "pending":
        return None
    if test == "viability":
        return float(result) >= spec.viability_min_pct
    if test == "viable_dose":
        return spec.dose_min_cells <= float(result) <= spec.dose_max_cells
    if test == "cd133_purity":
        return spec.cd133_purity_min_pct is not None and float(result) >= spec.cd133_purity_min_pct
    if test == "endotoxin":
        return float(result) <= endotoxin_limit(spec, weight_kg, volume_ml)
    return result in ("no organisms seen", "no growth", "absent")


def limit_text(test: str, spec: Specification, *, weight_kg: float,
               volume_ml: float | None) -> str:
    """The specification as printed beside the result."""
    if test == "viability":
        return f"≥ {spec.viability_min_pct:g} %"
    if test == "viable_dose":
        return f"{spec.dose_min_cells:.3g}–{spec.dose_max_cells:.3g} cells"
    if test == "cd133_purity":
        return f"≥ {spec.cd133_purity_min_pct:g} %" if spec.cd133_purity_min_pct else "n/a"
    if test == "endotoxin":
        return f"≤ {endotoxin_limit(spec, weight_kg, volume_ml):.3g} EU/ml"
    return {"gram_stain": "no organisms seen", "sterility": "no growth (may be pending)",
            "mycoplasma": "absent"}.get(test, "")
