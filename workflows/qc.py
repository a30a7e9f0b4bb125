"""Release tests of the final product and how a result is judged against the protocol.

A later revision moves the limits into versioned specification sets; the judging
rule stays here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from workflows.protocol import ProtocolParameters


@dataclass(frozen=True)
class QcTest:
    name: str
    label: str
    unit: str
    kind: str  # "number" or "text"
    choices: tuple[str, ...] = ()
    cd133_only: bool = False
    pending_allowed: bool = False  # a result that may still be pending at release


QC_TESTS: Mapping[str, QcTest] = {t.name: t for t in (
    QcTest("viability", "Viability (7-AAD)", "%", "number"),
    QcTest("viable_dose", "Viable dose", "cells", "number"),
    QcTest("cd133_purity", "CD133+ purity", "%", "number", cd133_only=True),
    QcTest("gram_stain", "Gram stain", "", "text", ("no organisms seen", "organisms seen")),
    QcTest("endotoxin", "Endotoxin", "EU/mL", "number"),
    QcTest("sterility", "Sterility culture (aerobic/anaerobic/fungal)", "", "text",
           ("pending", "no growth", "growth"), pending_allowed=True),
)}


def required_tests(arm: str) -> tuple[str, ...]:
    return tuple(t.name for t in QC_TESTS.values() if arm == "CD133" or not t.cd133_only)


def parse_result(test: str, value: str) -> float | str:
    """The typed result, or ValueError with a message a technician can act on."""
    spec = QC_TESTS.get(test)
    if spec is None:
        raise ValueError(f"unknown QC test {test!r}; tests are {', '.join(QC_TESTS)}")
    text = value.strip()
    if spec.kind == "text":
        if text.lower() not in spec.choices:
            raise ValueError(f"{spec.label}: enter one of {', '.join(spec.choices)}")
        return text.lower()
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"{spec.label}: {value!r} is not a number") from None
    if number < 0 or (spec.unit == "%" and number > 100):
        raise ValueError(f"{spec.label}: {number:g} {spec.unit} is impossible")
    return number


def judge(test: str, result: float | str, *, arm: str, params: ProtocolParameters,
          weight_kg: float, volume_ml: float | None) -> bool | None:
    """True within specification, False out of it, None while pending."""
    if test == "viability":
        return float(result) >= params.viability_release_min_pct
    if test == "viable_dose":
        low, high = params.dose_range(arm)
        return low <= float(result) <= high
    if test == "cd133_purity":
        return float(result) >= params.enrichment_purity_min_pct
    if test == "gram_stain":
        return result == "no organisms seen"
    if test == "endotoxin":
        return float(result) <= endotoxin_limit(params, weight_kg, volume_ml)
    if test == "sterility":
        return None if result == "pending" else result == "no growth"
    raise ValueError(f"unknown QC test {test!r}")


def endotoxin_limit(params: ProtocolParameters, weight_kg: float, volume_ml: float | None) -> float:
    """EU/mL: K × body weight / product volume (per kg basis) or the fixed per-mL limit."""
    if params.endotoxin_limit_basis == "per_kg" and volume_ml:
        return params.endotoxin_limit_eu_per_kg * weight_kg / volume_ml
    return params.endotoxin_limit_eu_per_ml
