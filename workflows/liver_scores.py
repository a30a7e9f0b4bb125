"""Liver scores computed from laboratory values and clinical findings: MELD (the classic
UNOS formula), MELD-Na (UNOS, January 2016) and Child-Pugh. Never typed: always computed
here from the recorded values, with every bound and conversion applied in the open.

Sources:
- MELD: Kamath PS et al., Hepatology 2001;33:464-470 (the model); the UNOS/OPTN
  implementation (OPTN Policy 9.1 as of 2002-2015): MELD = 0.957 ln(creatinine mg/dL)
  + 0.378 ln(bilirubin mg/dL) + 1.120 ln(INR) + 0.643, "round to the tenth decimal place
  and multiply by 10"; values below 1.0 are set to 1.0; creatinine above 4.0 mg/dL is set
  to 4.0, and so is the creatinine of a patient dialysed at least twice in the past week
  (or given 24 h of CVVHD); the score is capped at 40.
  10 × (0.957, 0.378, 1.120, 0.643) = (9.57, 3.78, 11.2, 6.43), the form the brief gives.
- MELD-Na: OPTN Policy 9.1 from 11 January 2016 (OPTN news "MELD serum sodium policy
  changes", 2015; Kim WR et al., N Engl J Med 2008;359:1018-1026 for sodium's weight):
  if MELD(i) > 11, MELD = MELD(i) + 1.32 × (137 − Na) − 0.033 × MELD(i) × (137 − Na),
  sodium bounded to 125..137 mmol/L; otherwise MELD-Na is MELD(i).
- Child-Pugh: Pugh RNH et al., Br J Surg 1973;60:646-649 (the point table), with INR in
  place of prothrombin seconds as in current use (e.g. Durand F, Valla D, J Hepatol
  2005;42:S100-S107): bilirubin < 2 / 2-3 / > 3 mg/dL (< 34 / 34-50 / > 50 µmol/L);
  albumin > 3.5 / 2.8-3.5 / < 2.8 g/dL; INR < 1.7 / 1.7-2.3 / > 2.3; ascites none / mild /
  moderate-severe; encephalopathy none / grade 1-2 / grade 3-4; class A 5-6, B 7-9,
  C 10-15 points.

Unit conversions (explicit, one place): bilirubin 1 mg/dL = 17.1 µmol/L (molar mass
584.7 g/mol); creatinine 1 mg/dL = 88.4 µmol/L (113.12 g/mol); albumin 1 g/dL = 10 g/L;
sodium 1 mmol/L = 1 mEq/L (monovalent); platelets 10⁹/L = 10³/µL.

Pure standard library (no ORM, no web): unit-tested in tests/unit/test_liver_scores.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

BILIRUBIN_UMOL_PER_MG_DL = 17.1
CREATININE_UMOL_PER_MG_DL = 88.4
ALBUMIN_G_L_PER_G_DL = 10.0

MELD_FLOOR = 1.0  # UNOS: laboratory values below 1.0 are set to 1.0
MELD_CREATININE_MAX = 4.0  # UNOS: creatinine above 4.0 mg/dL, or dialysed, is 4.0
MELD_MAX = 40  # UNOS: the score is capped at 40
MELD_NA_THRESHOLD = 11.0  # OPTN 2016: sodium is added only when MELD(i) > 11
SODIUM_MIN, SODIUM_MAX = 125.0, 137.0  # OPTN 2016: sodium bounded to 125..137 mmol/L

ASCITES_GRADES = ("none", "mild", "moderate_severe")
ENCEPHALOPATHY_GRADES = ("none", "grade_1_2", "grade_3_4")
GRADE_WORDS: Mapping[str, str] = MappingProxyType({
    "none": "none", "mild": "mild", "moderate_severe": "moderate to severe",
    "grade_1_2": "grade 1-2", "grade_3_4": "grade 3-4"})


@dataclass(frozen=True)
class Analyte:
    """A laboratory value the follow-up records: its canonical unit (what the scores
    use), the units a laboratory may report it in with the factor that converts each to
    the canonical one (canonical = entered / factor), and its plausible range in the
    canonical unit (outside it is a typo or a wrong unit, and refused)."""

    name: str
    label: str
    unit: str
    units: Mapping[str, float]
    low: float
    high: float


def _analyte(name: str, label: str, unit: str, low: float, high: float,
             **others: float) -> Analyte:
    units = {unit: 1.0, **{_UNIT_NAMES[k]: v for k, v in others.items()}}
    return Analyte(name, label, unit, MappingProxyType(units), low, high)


_UNIT_NAMES = {"umol_l": "µmol/L", "g_l": "g/L", "meq_l": "mEq/L", "per_ul": "10^3/µL"}

# The trial's laboratory data (process-reference.md row 15: MELD, albumin, bilirubin, INR,
# creatinine) plus sodium (MELD-Na), platelets and the enzymes the trial's criteria name
# (alkaline phosphatase, ALT). Ranges are what a human serum can hold, not normal ranges.
ANALYTES: Mapping[str, Analyte] = MappingProxyType({a.name: a for a in (
    _analyte("bilirubin", "Total bilirubin", "mg/dL", 0.05, 80.0,
             umol_l=BILIRUBIN_UMOL_PER_MG_DL),
    _analyte("albumin", "Albumin", "g/dL", 0.5, 7.0, g_l=ALBUMIN_G_L_PER_G_DL),
    _analyte("inr", "INR", "ratio", 0.5, 20.0),
    _analyte("creatinine", "Creatinine", "mg/dL", 0.05, 30.0,
             umol_l=CREATININE_UMOL_PER_MG_DL),
    _analyte("sodium", "Sodium", "mmol/L", 90.0, 200.0, meq_l=1.0),
    _analyte("platelets", "Platelets", "10^9/L", 1.0, 3000.0, per_ul=1.0),
    _analyte("alkaline_phosphatase", "Alkaline phosphatase", "U/L", 1.0, 10000.0),
    _analyte("alt", "ALT", "U/L", 1.0, 20000.0),
    _analyte("ast", "AST", "U/L", 1.0, 20000.0),
)})

# Spellings of one unit (micro sign or Greek mu, ASCII "u") read as the same unit.
_UNIT_ALIASES = {"umol/l": "µmol/L", "μmol/l": "µmol/L", "µmol/l": "µmol/L",
                 "mg/dl": "mg/dL", "g/dl": "g/dL", "g/l": "g/L", "mmol/l": "mmol/L",
                 "meq/l": "mEq/L", "10^9/l": "10^9/L", "x10^9/l": "10^9/L",
                 "10^3/ul": "10^3/µL", "10^3/µl": "10^3/µL", "10^3/μl": "10^3/µL",
                 "u/l": "U/L", "iu/l": "U/L", "ratio": "ratio", "": "ratio"}


class UnitError(ValueError):
    """A unit the analyte is not reported in; the message says which ones are."""


def canonical_unit(analyte: Analyte, entered: str) -> str:
    """The unit `entered` names, spelled as `analyte.units` spells it; UnitError if the
    analyte is not reported in it (a creatinine in g/L is a mistake, not a conversion)."""
    unit = _UNIT_ALIASES.get(entered.strip().lower().replace(" ", ""), entered.strip())
    if analyte.unit == "ratio" and unit == "ratio":
        return unit
    if unit not in analyte.units:
        raise UnitError(f"{analyte.label} is recorded in {', '.join(analyte.units)}, "
                        f"not {entered!r}")
    return unit


def to_canonical(analyte: Analyte, value: float, entered_unit: str) -> float:
    """`value` in `entered_unit` converted to the analyte's canonical unit (÷ factor)."""
    return value / analyte.units[canonical_unit(analyte, entered_unit)]


def plausible_range(analyte: Analyte, entered_unit: str) -> tuple[float, float]:
    """The analyte's plausible range expressed in `entered_unit`."""
    factor = analyte.units[canonical_unit(analyte, entered_unit)]
    return analyte.low * factor, analyte.high * factor


def _half_up(value: float, places: int = 0) -> Decimal:
    """Round half away from zero (as a person and the UNOS calculator round), not to even."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Meld:
    """A MELD score and what it was computed from, after the UNOS bounds."""

    score: int
    unrounded: float  # 3.78 ln(bili) + 11.2 ln(INR) + 9.57 ln(creat) + 6.43, bounded inputs
    bilirubin_used: float
    inr_used: float
    creatinine_used: float
    notes: tuple[str, ...]


def meld(bilirubin_mg_dl: float, inr: float, creatinine_mg_dl: float, *,
         dialysis_twice_past_week: bool = False) -> Meld:
    """The classic UNOS MELD (Kamath 2001; OPTN Policy 9.1 before 2016).

    Values below 1.0 count as 1.0; creatinine above 4.0 mg/dL, or with dialysis at least
    twice in the past week, counts as 4.0. The sum 0.957 ln(Cr) + 0.378 ln(bili) +
    1.120 ln(INR) + 0.643 is rounded to the tenth and multiplied by 10; capped at 40."""
    for name, value in (("bilirubin", bilirubin_mg_dl), ("INR", inr),
                        ("creatinine", creatinine_mg_dl)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    notes: list[str] = []
    bili = max(bilirubin_mg_dl, MELD_FLOOR)
    ratio = max(inr, MELD_FLOOR)
    creat = max(creatinine_mg_dl, MELD_FLOOR)
    for name, given, used in (("bilirubin", bilirubin_mg_dl, bili), ("INR", inr, ratio),
                              ("creatinine", creatinine_mg_dl, creat)):
        if used != given:
            notes.append(f"{name} {given:g} below 1.0 counted as 1.0")
    if dialysis_twice_past_week:
        creat = MELD_CREATININE_MAX
        notes.append("dialysed at least twice in the past week: creatinine counted as 4.0")
    elif creat > MELD_CREATININE_MAX:
        notes.append(f"creatinine {creat:g} above 4.0 counted as 4.0")
        creat = MELD_CREATININE_MAX
    inner = 0.957 * math.log(creat) + 0.378 * math.log(bili) + 1.120 * math.log(ratio) + 0.643
    score = int(_half_up(inner, 1) * 10)
    if score > MELD_MAX:
        notes.append(f"MELD {score} capped at {MELD_MAX}")
        score = MELD_MAX
    return Meld(score, 10 * inner, bili, ratio, creat, tuple(notes))


@dataclass(frozen=True)
class MeldNa:
    score: int
    meld_i: int  # the classic MELD the sodium term is added to
    sodium_used: float
    sodium_applied: bool  # False when MELD(i) ≤ 11: MELD-Na is MELD(i)
    notes: tuple[str, ...]


def meld_na(bilirubin_mg_dl: float, inr: float, creatinine_mg_dl: float,
            sodium_mmol_l: float, *, dialysis_twice_past_week: bool = False) -> MeldNa:
    """MELD-Na as UNOS/OPTN computes it from 11 January 2016 (Policy 9.1).

    MELD(i) is the classic MELD above; if MELD(i) > 11, MELD = MELD(i) + 1.32 (137 − Na)
    − 0.033 MELD(i) (137 − Na), with sodium bounded to 125..137 mmol/L, rounded to the
    nearest whole number and capped at 40."""
    if not math.isfinite(sodium_mmol_l) or sodium_mmol_l <= 0:
        raise ValueError(f"sodium must be a positive number, got {sodium_mmol_l!r}")
    base = meld(bilirubin_mg_dl, inr, creatinine_mg_dl,
                dialysis_twice_past_week=dialysis_twice_past_week)
    notes = list(base.notes)
    sodium = min(max(sodium_mmol_l, SODIUM_MIN), SODIUM_MAX)
    if sodium != sodium_mmol_l:
        notes.append(f"sodium {sodium_mmol_l:g} counted as {sodium:g} (bounds 125-137)")
    if base.score <= MELD_NA_THRESHOLD:
        notes.append(f"MELD {base.score} ≤ 11: sodium not added")
        return MeldNa(base.score, base.score, sodium, False, tuple(notes))
    value = base.score + 1.32 * (137 - sodium) - 0.033 * base.score * (137 - sodium)
    score = min(int(_half_up(value)), MELD_MAX)
    return MeldNa(score, base.score, sodium, True, tuple(notes))


@dataclass(frozen=True)
class ChildPugh:
    points: int
    child_class: str  # A, B or C
    bilirubin_points: int
    albumin_points: int
    inr_points: int
    ascites_points: int
    encephalopathy_points: int


def _three(value: float, low: float, high: float, *, rising: bool) -> int:
    """1, 2 or 3 points: between `low` and `high` inclusive is 2 (Pugh's middle band)."""
    if low <= value <= high:
        return 2
    worse = value > high if rising else value < low
    return 3 if worse else 1


def child_pugh(bilirubin_mg_dl: float, albumin_g_dl: float, inr: float, *, ascites: str,
               encephalopathy: str) -> ChildPugh:
    """Child-Pugh points and class (Pugh 1973, INR bands 1.7 and 2.3).

    Bilirubin < 2 mg/dL 1, 2-3 2, > 3 3; albumin > 3.5 g/dL 1, 2.8-3.5 2, < 2.8 3;
    INR < 1.7 1, 1.7-2.3 2, > 2.3 3; ascites none 1, mild 2, moderate_severe 3;
    encephalopathy none 1, grade_1_2 2, grade_3_4 3. Class A 5-6, B 7-9, C 10-15."""
    if ascites not in ASCITES_GRADES:
        raise ValueError(f"ascites must be one of {', '.join(ASCITES_GRADES)}")
    if encephalopathy not in ENCEPHALOPATHY_GRADES:
        raise ValueError(f"encephalopathy must be one of {', '.join(ENCEPHALOPATHY_GRADES)}")
    for name, value in (("bilirubin", bilirubin_mg_dl), ("albumin", albumin_g_dl),
                        ("INR", inr)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    bili = _three(bilirubin_mg_dl, 2.0, 3.0, rising=True)
    alb = _three(albumin_g_dl, 2.8, 3.5, rising=False)
    ratio = _three(inr, 1.7, 2.3, rising=True)
    asc = ASCITES_GRADES.index(ascites) + 1
    enc = ENCEPHALOPATHY_GRADES.index(encephalopathy) + 1
    points = bili + alb + ratio + asc + enc
    child_class = "A" if points <= 6 else "B" if points <= 9 else "C"
    return ChildPugh(points, child_class, bili, alb, ratio, asc, enc)
