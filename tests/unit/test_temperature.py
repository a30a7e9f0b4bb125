"""The monitoring system's export read strictly; excursions and gaps found in a series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflows.errors import InvalidInput
from workflows.temperature import (
    ExcursionKind,
    Point,
    find_excursions,
    parse_export,
    strict_celsius,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def parse(text: str) -> list:
    return parse_export(text, now=NOW, skew=SKEW)


def test_reads_a_file_with_header_zones_and_signs():
    readings = parse("device,time,celsius\n"
                     "FRZ-1,2026-11-30T10:00:00+01:00,-80.5\n"
                     "FRZ-1,2026-11-30T09:05:00Z,+4\n\n")
    assert [(r.line, r.device, r.celsius) for r in readings] == [(2, "FRZ-1", -80.5),
                                                                 (3, "FRZ-1", 4.0)]
    assert readings[0].measured_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_every_bad_line_is_named_and_nothing_is_returned():
    text = ("FRZ-1,2026-11-30T09:00:00Z,-80\n"
            "FRZ-1,2026-11-30T09:05:00,-80\n"  # no zone
            "FRZ-1,2026-11-30T13:00:00Z,-80\n"  # an hour ahead of the server
            "FRZ-1,2026-11-30T09:10:00Z,-80,5\n"  # a decimal comma makes 4 columns
            "FRZ-1,2026-11-30T09:15:00Z,1e2\n"  # an exponent
            "FRZ-1,2026-11-30T09:20:00Z,-300\n"  # below absolute zero
            "FRZ 1,2026-11-30T09:25:00Z,-80\n"  # not an identifier
            "FRZ-1,2026-11-30T09:00:00Z,-79\n")  # the same time twice
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    detail = refused.value.detail
    for line, words in ((2, "no zone"), (3, "in the future"), (4, "3 columns"),
                        (5, "not a number"), (6, "not a temperature"),
                        (7, "not a device identifier"), (8, "already on line 1")):
        assert f"line {line}: " in detail and words in detail
    assert "line 1:" not in detail
    assert "nothing was recorded" in detail


def test_a_time_within_the_clock_skew_is_accepted():
    assert parse("F,2026-11-30T12:04:00Z,4\n")[0].celsius == 4.0


@pytest.mark.parametrize("text", ["", "device,time,celsius\n", "\n\n"])
def test_an_empty_file_is_refused(text):
    with pytest.raises(InvalidInput, match="no readings"):
        parse(text)


@pytest.mark.parametrize("typed", ["4,5", "nan", "inf", "４", "4 °C", "", "1_0", "0x10"])
def test_strict_celsius_refuses_what_could_be_misread(typed):
    with pytest.raises(InvalidInput):
        strict_celsius(typed)


def series(*pairs: tuple[int, float]) -> list[Point]:
    return [Point(NOW + timedelta(minutes=m), c) for m, c in pairs]


def test_an_excursion_starts_at_the_first_reading_outside_and_ends_back_inside():
    found = find_excursions(series((0, 4), (5, 9), (10, 12), (15, 5), (20, 4)),
                            low=2, high=8, max_gap=timedelta(minutes=30))
    assert len(found) == 1
    excursion = found[0]
    assert excursion.kind == ExcursionKind.TEMPERATURE
    assert excursion.started_at == NOW + timedelta(minutes=5)
    assert excursion.ended_at == NOW + timedelta(minutes=15)
    assert (excursion.min_c, excursion.max_c) == (9, 12)


def test_an_excursion_still_outside_at_the_last_reading_is_open_and_order_does_not_matter():
    found = find_excursions(series((10, -60), (0, -80), (5, -70)), low=None, high=-65,
                            max_gap=timedelta(minutes=30))
    assert [(e.started_at, e.ended_at, e.min_c, e.max_c) for e in found] == [
        (NOW + timedelta(minutes=10), None, -60, -60)]


def test_readings_at_the_limits_are_inside():
    assert find_excursions(series((0, 2), (5, 8)), low=2, high=8,
                           max_gap=timedelta(minutes=30)) == []


def test_a_gap_longer_than_allowed_is_no_data_but_the_time_after_the_last_reading_is_not():
    found = find_excursions(series((0, 4), (30, 4), (91, 4)), low=2, high=8,
                            max_gap=timedelta(minutes=60))
    assert [(e.kind, e.started_at, e.ended_at) for e in found] == [
        (ExcursionKind.NO_DATA, NOW + timedelta(minutes=30), NOW + timedelta(minutes=91))]
    assert find_excursions(series((0, 4), (60, 4)), low=2, high=8,
                           max_gap=timedelta(minutes=60)) == []


def test_a_location_without_a_range_has_only_gaps():
    assert find_excursions(series((0, 40), (5, -100)), low=None, high=None,
                           max_gap=timedelta(minutes=60)) == []
