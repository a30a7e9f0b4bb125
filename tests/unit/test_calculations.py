"""Hand-computed checks of the standard cell-processing calculations."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from workflows import calculations as calc

TEHRAN = timezone(timedelta(hours=3, minutes=30))


def test_net_marrow_volume_is_weight_over_density():
    # (261 g - 50 g) / 1.055 g/ml = 211 / 1.055 = 200.0 ml
    assert calc.volume_from_weight(261.0, 50.0, 1.055) == pytest.approx(200.0)


def test_an_empty_bag_has_no_volume():
    assert calc.volume_from_weight(50.0, 50.0, 1.055) == 0.0


@pytest.mark.parametrize(
    ("gross", "tare", "density"),
    [(40.0, 50.0, 1.055), (-1.0, 0.0, 1.055), (261.0, -5.0, 1.055), (261.0, 50.0, 0.0)],
)
def test_volume_from_weight_refuses_impossible_weights_and_densities(gross, tare, density):
    with pytest.raises(ValueError):
        calc.volume_from_weight(gross, tare, density)


def test_200_ml_at_20000_wbc_per_ul_is_four_billion_tnc():
    assert calc.total_cells(20_000, 200) == pytest.approx(4.0e9)


@pytest.mark.parametrize(("concentration", "volume"), [(-1.0, 200.0), (20_000.0, -0.1)])
def test_total_cells_refuses_negative_concentrations_and_volumes(concentration, volume):
    with pytest.raises(ValueError):
        calc.total_cells(concentration, volume)


def test_total_cells_refuses_nan_and_booleans():
    with pytest.raises(ValueError):
        calc.total_cells(float("nan"), 200)
    with pytest.raises(ValueError):
        calc.total_cells(True, 200)


def test_viable_cells_apply_the_viability_fraction():
    assert calc.viable_cells(4.0e9, 95) == pytest.approx(3.8e9)


@pytest.mark.parametrize("viability", [-0.1, 100.1, float("inf")])
def test_viability_outside_0_to_100_percent_is_refused(viability):
    with pytest.raises(ValueError):
        calc.viable_cells(4.0e9, viability)


def test_recovery_is_output_over_input_in_percent():
    assert calc.recovery_pct(3.0e9, 4.0e9) == pytest.approx(75.0)


def test_recovery_above_100_percent_is_reported_not_refused():
    assert calc.recovery_pct(4.2e9, 4.0e9) == pytest.approx(105.0)


def test_recovery_from_zero_input_is_refused():
    with pytest.raises(ValueError, match="input count"):
        calc.recovery_pct(1.0, 0.0)


def test_rbc_depletion_is_one_minus_out_over_in():
    # 1 - 8e10 / 1e12 = 0.92
    assert calc.rbc_depletion_pct(1.0e12, 8.0e10) == pytest.approx(92.0)


def test_rbc_depletion_from_zero_red_cells_in_is_refused():
    with pytest.raises(ValueError):
        calc.rbc_depletion_pct(0.0, 0.0)


def test_purity_is_target_over_denominator_events():
    assert calc.purity_pct(900, 1000) == pytest.approx(90.0)


@pytest.mark.parametrize(("target", "denominator"), [(1001, 1000), (10, 0), (-1, 1000)])
def test_purity_refuses_more_targets_than_events_and_zero_denominators(target, denominator):
    with pytest.raises(ValueError):
        calc.purity_pct(target, denominator)


def test_enrichment_factor_is_purity_out_over_frequency_in():
    assert calc.enrichment_factor(90.0, 0.5) == pytest.approx(180.0)


@pytest.mark.parametrize(("purity", "frequency"), [(90.0, 0.0), (101.0, 0.5), (90.0, -1.0)])
def test_enrichment_factor_refuses_zero_frequency_and_impossible_percentages(purity, frequency):
    with pytest.raises(ValueError):
        calc.enrichment_factor(purity, frequency)


def test_log_depletion_of_a_hundredfold_reduction_is_two_logs():
    assert calc.log_depletion(1.0e9, 1.0e7) == pytest.approx(2.0)


@pytest.mark.parametrize(("cells_in", "cells_out"), [(1.0e9, 0.0), (0.0, 1.0e7)])
def test_log_depletion_needs_non_target_cells_on_both_sides(cells_in, cells_out):
    with pytest.raises(ValueError):
        calc.log_depletion(cells_in, cells_out)


def test_single_platform_count_uses_the_bead_ratio():
    # (500 / 10,000 beads) × (50,000 beads / 100 µL) = 0.05 × 500 = 25 cells/µL
    assert calc.single_platform_count_per_ul(500, 10_000, 50_000, 100) == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("target", "beads", "per_tube", "volume"),
    [(500, 0, 50_000, 100), (500, 10_000, 50_000, 0), (-1, 10_000, 50_000, 100)],
)
def test_single_platform_count_refuses_zero_beads_and_zero_sample_volume(
    target, beads, per_tube, volume
):
    with pytest.raises(ValueError):
        calc.single_platform_count_per_ul(target, beads, per_tube, volume)


def test_dose_per_kg_divides_by_body_weight():
    assert calc.dose_per_kg(6.0e6, 75.0) == pytest.approx(8.0e4)


def test_dose_per_kg_refuses_a_zero_body_weight():
    with pytest.raises(ValueError, match="body weight"):
        calc.dose_per_kg(6.0e6, 0.0)


def test_concentration_is_cells_over_volume():
    assert calc.concentration_per_ml(6.0e6, 5.0) == pytest.approx(1.2e6)


def test_concentration_in_zero_volume_is_refused():
    with pytest.raises(ValueError):
        calc.concentration_per_ml(6.0e6, 0.0)


def test_endotoxin_limit_is_k_times_weight_over_volume():
    # 5 EU/kg × 70 kg / 10 ml = 35 EU/ml
    assert calc.endotoxin_limit_eu_per_ml(5.0, 70.0, 10.0) == pytest.approx(35.0)


@pytest.mark.parametrize(("k", "weight", "volume"), [(5, 0, 10), (5, 70, 0), (-5, 70, 10)])
def test_endotoxin_limit_refuses_zero_weight_zero_volume_and_negative_k(k, weight, volume):
    with pytest.raises(ValueError):
        calc.endotoxin_limit_eu_per_ml(k, weight, volume)


def test_hours_between_two_local_times():
    start = datetime(2024, 5, 1, 10, 0, tzinfo=TEHRAN)
    assert calc.hours_between(start, start + timedelta(hours=3, minutes=30)) == 3.5


def test_hours_between_compares_times_in_different_zones_on_one_clock():
    start = datetime(2024, 5, 1, 10, 0, tzinfo=TEHRAN)  # 06:30 UTC
    end = datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
    assert calc.hours_between(start, end) == pytest.approx(1.0)


def test_hours_between_refuses_naive_times():
    with pytest.raises(ValueError, match="timezone"):
        calc.hours_between(datetime(2024, 5, 1, 10, 0), datetime(2024, 5, 1, 11, 0, tzinfo=UTC))


def test_hours_between_refuses_an_end_before_the_start():
    start = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="before start"):
        calc.hours_between(start, start - timedelta(minutes=1))
