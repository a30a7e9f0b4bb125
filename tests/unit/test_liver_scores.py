"""MELD, MELD-Na and Child-Pugh against published worked examples and the published rules
(sources in workflows/liver_scores.py)."""

from __future__ import annotations

import math

import pytest

from workflows.liver_scores import (
    ANALYTES,
    UnitError,
    child_pugh,
    meld,
    meld_na,
    plausible_range,
    to_canonical,
)


def test_meld_worked_example_of_calculatorlib():
    # calculatorlib.com/meld-score-calculator, "Worked Example": bilirubin 1.9, INR 1.2,
    # creatinine 1.3 → 3.78 ln 1.9 + 11.2 ln 1.2 + 9.57 ln 1.3 + 6.43 = 13.41, MELD 13.
    result = meld(1.9, 1.2, 1.3)
    assert result.unrounded == pytest.approx(13.41, abs=0.005)
    assert result.score == 13
    assert result.notes == ()


def test_meld_of_normal_values_is_the_published_minimum_of_6():
    # OPTN/UNOS: MELD runs from 6 (values of 1.0, or below, counted as 1.0) to 40.
    assert meld(1.0, 1.0, 1.0).score == 6
    low = meld(0.4, 0.9, 0.6)
    assert low.score == 6
    assert (low.bilirubin_used, low.inr_used, low.creatinine_used) == (1.0, 1.0, 1.0)
    assert len(low.notes) == 3


def test_meld_is_capped_at_40_and_creatinine_at_4():
    assert meld(40.0, 8.0, 9.0).score == 40
    high = meld(2.0, 1.5, 6.5)
    assert high.creatinine_used == 4.0
    assert high.score == meld(2.0, 1.5, 4.0).score
    assert any("above 4.0" in note for note in high.notes)


def test_dialysis_twice_in_the_past_week_counts_creatinine_as_4():
    dialysed = meld(2.0, 1.5, 1.2, dialysis_twice_past_week=True)
    assert dialysed.creatinine_used == 4.0
    assert dialysed.score == meld(2.0, 1.5, 4.0).score
    assert dialysed.score > meld(2.0, 1.5, 1.2).score


def test_meld_rounds_the_tenths_as_unos_does_half_up():
    # UNOS: round the sum 0.957 ln Cr + 0.378 ln bili + 1.120 ln INR + 0.643 to the tenth,
    # then multiply by 10: 1.8536 → 1.9 → 19 (bilirubin 1.5, INR 1.1, creatinine 2.7).
    assert meld(1.5, 1.1, 2.7).score == 19
    inner = 0.957 * math.log(2.7) + 0.378 * math.log(1.5) + 1.120 * math.log(1.1) + 0.643
    assert round(inner, 4) == 1.8536


def test_meld_na_adds_at_most_11_points_for_sodium_as_unos_published():
    # UNOS (transplantpro.org, "Upcoming MELD serum sodium policy implementation", 2015):
    # candidates with a sodium below 128 may gain "as many as 11 points"; the most is
    # gained at MELD(i) 12 (the lowest that takes sodium) and sodium at the 125 bound:
    # 12 + 1.32 × 12 − 0.033 × 12 × 12 = 23.09 → 23.
    result = meld_na(1.0, 1.0, 1.8, 120.0)
    assert result.meld_i == 12
    assert result.sodium_used == 125.0
    assert result.score == 23
    assert result.score - result.meld_i == 11


def test_meld_na_of_the_thecalculator_inputs():
    # Inputs of thecalculator.co's example (INR 1.1, bilirubin 1.5 mg/dL, creatinine
    # 2.7 mg/dL, no dialysis, sodium 135): MELD(i) 19, then by OPTN 2016
    # 19 + 1.32 × 2 − 0.033 × 19 × 2 = 20.386 → 20 (figures computed here by hand).
    result = meld_na(1.5, 1.1, 2.7, 135.0)
    assert (result.meld_i, result.score, result.sodium_applied) == (19, 20, True)


def test_meld_na_is_meld_when_meld_is_11_or_less_and_sodium_is_bounded_above():
    low = meld_na(1.0, 1.0, 1.5, 125.0)
    assert low.meld_i <= 11 and low.score == low.meld_i and not low.sodium_applied
    assert meld_na(1.5, 1.1, 2.7, 150.0).score == 19  # 150 counted as 137: nothing added


def test_meld_refuses_what_is_not_a_measurement():
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            meld(bad, 1.0, 1.0)
    with pytest.raises(ValueError):
        meld_na(1.0, 1.0, 1.0, 0.0)


@pytest.mark.parametrize(("bilirubin", "points"), [(1.99, 1), (2.0, 2), (3.0, 2), (3.01, 3)])
def test_child_pugh_bilirubin_bands_of_pugh_1973(bilirubin, points):
    assert child_pugh(bilirubin, 4.0, 1.0, ascites="none",
                      encephalopathy="none").bilirubin_points == points


@pytest.mark.parametrize(("albumin", "points"), [(3.51, 1), (3.5, 2), (2.8, 2), (2.79, 3)])
def test_child_pugh_albumin_bands(albumin, points):
    assert child_pugh(1.0, albumin, 1.0, ascites="none",
                      encephalopathy="none").albumin_points == points


@pytest.mark.parametrize(("inr", "points"), [(1.69, 1), (1.7, 2), (2.3, 2), (2.31, 3)])
def test_child_pugh_inr_bands(inr, points):
    assert child_pugh(1.0, 4.0, inr, ascites="none", encephalopathy="none").inr_points == points


def test_child_pugh_classes_a_b_c():
    best = child_pugh(1.0, 4.0, 1.0, ascites="none", encephalopathy="none")
    assert (best.points, best.child_class) == (5, "A")
    # bilirubin 2.5 (2), albumin 3.0 (2), INR 1.9 (2), mild ascites (2), none (1): 9, B
    middle = child_pugh(2.5, 3.0, 1.9, ascites="mild", encephalopathy="none")
    assert (middle.points, middle.child_class) == (9, "B")
    ten = child_pugh(2.5, 3.0, 1.9, ascites="mild", encephalopathy="grade_1_2")
    assert (ten.points, ten.child_class) == (10, "C")
    worst = child_pugh(5.0, 2.0, 3.0, ascites="moderate_severe", encephalopathy="grade_3_4")
    assert (worst.points, worst.child_class) == (15, "C")
    six = child_pugh(1.0, 3.2, 1.0, ascites="none", encephalopathy="none")
    assert (six.points, six.child_class) == (6, "A")
    seven = child_pugh(2.0, 3.2, 1.0, ascites="none", encephalopathy="none")
    assert (seven.points, seven.child_class) == (7, "B")


def test_child_pugh_refuses_unknown_grades():
    with pytest.raises(ValueError, match="ascites"):
        child_pugh(1.0, 4.0, 1.0, ascites="some", encephalopathy="none")
    with pytest.raises(ValueError, match="encephalopathy"):
        child_pugh(1.0, 4.0, 1.0, ascites="none", encephalopathy="2")


def test_unit_conversions_are_the_published_factors():
    assert to_canonical(ANALYTES["bilirubin"], 34.2, "µmol/L") == pytest.approx(2.0)
    assert to_canonical(ANALYTES["bilirubin"], 34.2, "umol/L") == pytest.approx(2.0)
    assert to_canonical(ANALYTES["creatinine"], 88.4, "μmol/L") == pytest.approx(1.0)
    assert to_canonical(ANALYTES["albumin"], 35.0, "g/L") == pytest.approx(3.5)
    assert to_canonical(ANALYTES["sodium"], 130.0, "mEq/L") == 130.0
    assert to_canonical(ANALYTES["inr"], 1.4, "") == 1.4
    assert plausible_range(ANALYTES["creatinine"], "µmol/L")[1] == pytest.approx(30 * 88.4)


def test_a_unit_the_analyte_is_not_reported_in_is_refused():
    with pytest.raises(UnitError, match="mg/dL, µmol/L"):
        to_canonical(ANALYTES["creatinine"], 1.0, "g/L")
    with pytest.raises(UnitError):
        to_canonical(ANALYTES["albumin"], 1.0, "mg/dL")
