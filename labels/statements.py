"""Which statements a label carries, decided from the product's facts, never fixed text.

21 CFR 1271.90(c) for an autologous HCT/P (standards.md §3.4; the wording of (c)(2)-(4) is
[UNVERIFIED] there, so each wording is configurable in `LabelTexts`):
- (c)(2) "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" unless all the screening (1271.75) and
  testing (1271.80, for the markers 1271.85 names) is recorded;
- (c)(3) the Biohazard legend (1271.3(h)) with "WARNING: Advise patient of communicable
  disease risks" when a result is reactive, and (c)(4) "WARNING: Reactive test results
  for …" naming the markers.
The investigational-use caution depends on the jurisdiction the trial runs in; the storage
statement comes from the protocol's storage range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from labels.model import LabelTexts

# The caution each regulator asks for on an investigational product; a protocol may give its
# own wording instead. [UNVERIFIED] all three: US 21 CFR 312.6(a) (standards.md §3.4 notes it
# was not checked), EU Annex 13 / Regulation 536/2014 Annex VI "for clinical trial use only",
# Iran (the trial's jurisdiction): the IFDA wording was not seen, the EU phrase is the default.
INVESTIGATIONAL_CAUTIONS: Final[Mapping[str, str]] = {
    "US": "Caution: New Drug – Limited by Federal (or United States) law to investigational use",
    "EU": "For clinical trial use only",
    "IR": "For clinical trial use only",
}
NEGATIVE: Final = frozenset({"negative", "non-reactive", "nonreactive", "not detected"})
REACTIVE: Final = frozenset({"positive", "reactive", "detected"})
# Keys of the patient's infectious-disease record that say the screening was done.
SCREENING_KEY: Final = "screening_1271_75"  # donor medical history and risk factors
TESTING_KEY: Final = "testing_1271_80"  # specimen timing, licensed tests, certified laboratory
DONE: Final = frozenset({"done", "complete", "completed", "yes"})


@dataclass(frozen=True)
class DonorTesting:
    """The patient's screening and test results as recorded, against what is required."""

    results: Mapping[str, str]  # marker -> result, as recorded ("negative", "reactive", ...)
    required: tuple[str, ...]  # markers 1271.85 names (protocol parameter)

    def _result(self, marker: str) -> str:
        found = {k.strip().lower(): str(v).strip().lower() for k, v in self.results.items()}
        return found.get(marker.strip().lower(), "")

    @property
    def reactive(self) -> tuple[str, ...]:
        """Markers recorded reactive (any recorded marker, required or not)."""
        return tuple(str(k) for k, v in self.results.items()
                     if str(v).strip().lower() in REACTIVE)

    @property
    def missing(self) -> tuple[str, ...]:
        """Required markers with no negative or reactive result recorded."""
        return tuple(m for m in self.required if self._result(m) not in NEGATIVE | REACTIVE)

    @property
    def screened(self) -> bool:
        return (self._result(SCREENING_KEY) in DONE) and (self._result(TESTING_KEY) in DONE)

    @property
    def complete(self) -> bool:
        return self.screened and not self.missing


def required_markers(listed: str) -> tuple[str, ...]:
    """"HIV, HBV ,HCV" -> ("HIV", "HBV", "HCV")."""
    return tuple(part.strip() for part in listed.split(",") if part.strip())


def infectious_statements(testing: DonorTesting, texts: LabelTexts, *,
                          not_evaluated_enabled: bool = True) -> tuple[tuple[str, ...], bool]:
    """(statements, biohazard legend) per 1271.90(c)(2)-(4)."""
    chosen: list[str] = []
    if not_evaluated_enabled and not testing.complete:
        chosen.append(texts.not_evaluated)
    reactive = testing.reactive
    if reactive:
        chosen.append(texts.advise_patient)
        chosen.append(f"{texts.reactive_results} {', '.join(reactive)}")
    return tuple(chosen), bool(reactive)


def investigational_statement(jurisdiction: str, caution: str, trial: str) -> str:
    """The caution for the trial's jurisdiction (or the protocol's own), with the trial ID."""
    wording = caution.strip() or INVESTIGATIONAL_CAUTIONS.get(jurisdiction.strip().upper(), "")
    if not wording:
        known = ", ".join(sorted(INVESTIGATIONAL_CAUTIONS))
        raise ValueError(f"no investigational-use caution for jurisdiction {jurisdiction!r}: "
                         f"set one in the protocol or use {known}")
    return f"{wording}. Trial {trial}" if trial else wording


def storage_statement(low_c: float, high_c: float, texts: LabelTexts) -> str:
    """"Store at 2–8 °C." from the protocol's storage range, then the fixed handling notes."""
    return f"Store at {low_c:g}–{high_c:g} °C. {texts.handling}".strip()


def final_statements(testing: DonorTesting, texts: LabelTexts, *, investigational: str,
                     not_evaluated_enabled: bool = True) -> tuple[tuple[str, ...], bool]:
    """Everything a final label says below the facility, in print order, and the biohazard
    legend flag."""
    infectious, biohazard = infectious_statements(testing, texts,
                                                  not_evaluated_enabled=not_evaluated_enabled)
    return (*infectious, investigational, texts.identify_recipient), biohazard


def blind(texts: LabelTexts) -> str:
    """The product description a blinded trial prints on the labels that leave the lab: the
    same words for both arms (the arm's class and method would unblind it)."""
    return texts.blinded_description


__all__: Sequence[str] = ["INVESTIGATIONAL_CAUTIONS", "DonorTesting", "blind",
                          "final_statements", "infectious_statements",
                          "investigational_statement", "required_markers",
                          "storage_statement"]
