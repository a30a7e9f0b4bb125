"""The calendar's rules (workflows.scheduling), without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflows.errors import ErrorCode
from workflows.protocol import ProtocolParameters
from workflows.scheduling import (
    Booked,
    BookingKind,
    BookingRefused,
    Calendar,
    Resource,
    ResourceKind,
    Shift,
    Slot,
    check_infusion,
    check_slot,
    covered,
    daily_shifts,
    find_processing,
    overlaps,
    processing_minutes,
)

TEHRAN = ZoneInfo("Asia/Tehran")
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
H = timedelta(hours=1)
PARAMS = ProtocolParameters()

ROOM = Resource(1, ResourceKind.ROOM, "Clean room 1", frozenset({"clean_room"}))
MACS = Resource(2, ResourceKind.INSTRUMENT, "CliniMACS 1", frozenset({"clinimacs"}))
TECH = Resource(3, ResourceKind.STAFF, "Tara Tech", frozenset({"processing", "clinimacs"}))
DOC = Resource(4, ResourceKind.STAFF, "Dr Doc", frozenset({"harvest", "infusion"}))
NEWBIE = Resource(5, ResourceKind.STAFF, "Nima New", frozenset({"processing"}))
ALL = (ROOM, MACS, TECH, DOC, NEWBIE)


def day_shifts(*resources: Resource, start: datetime = T0, hours: int = 12) -> list[Shift]:
    return [Shift(r.id, start, start + timedelta(hours=hours)) for r in resources]


def calendar(shifts: list[Shift] | None = None, bookings: list[Booked] | None = None,
             resources: tuple[Resource, ...] = ALL) -> Calendar:
    return Calendar(resources, day_shifts(*ALL) if shifts is None else shifts,
                    bookings or [], TEHRAN)


def refusal(call, *args) -> BookingRefused:  # type: ignore[no-untyped-def]
    with pytest.raises(BookingRefused) as caught:
        call(*args)
    return caught.value


# --- intervals ---------------------------------------------------------------------------

def test_touching_intervals_do_not_overlap_and_one_minute_more_does():
    assert not overlaps(T0, T0 + H, T0 + H, T0 + 2 * H)
    assert overlaps(T0, T0 + H + timedelta(minutes=1), T0 + H, T0 + 2 * H)
    assert overlaps(T0, T0 + 3 * H, T0 + H, T0 + 2 * H)  # one inside the other


def test_intervals_in_different_zones_compare_as_instants():
    tehran = T0.astimezone(TEHRAN)  # 09:30 in Tehran is 06:00 UTC
    assert not overlaps(T0 - H, tehran, tehran, T0 + H)
    assert overlaps(T0 - H, tehran + timedelta(seconds=1), T0, T0 + H)


def test_back_to_back_shifts_cover_a_slot_across_them_and_a_gap_does_not():
    joined = [Shift(1, T0, T0 + H), Shift(1, T0 + H, T0 + 2 * H)]
    assert covered(T0, T0 + 2 * H, joined)
    gap = [Shift(1, T0, T0 + H), Shift(1, T0 + H + timedelta(minutes=1), T0 + 2 * H)]
    assert not covered(T0, T0 + 2 * H, gap)
    assert covered(T0, T0 + H, [Shift(1, T0, T0 + H)])  # a shift ending with the slot
    assert not covered(T0 - timedelta(minutes=1), T0 + H, [Shift(1, T0, T0 + H)])


# --- double booking, availability, staff -----------------------------------------------

def test_an_instrument_booked_twice_is_refused_naming_the_other_booking():
    other = Booked(9, BookingKind.PROCESSING, T0 + H, T0 + 3 * H, frozenset({2}), "DIN X")
    error = refusal(check_slot, calendar(bookings=[other]), BookingKind.PROCESSING, "CD133",
                    Slot(T0 + 2 * H, T0 + 4 * H), [1, 2, 3])
    assert error.code == ErrorCode.BOOKING_DOUBLE_BOOKED
    assert "CliniMACS 1 is already booked from 2026-12-01 10:30 to 2026-12-01 12:30" in (
        error.detail)
    assert "DIN X" in error.detail


def test_a_slot_starting_when_the_other_ends_is_not_double_booked():
    other = Booked(9, BookingKind.PROCESSING, T0, T0 + 2 * H, frozenset({1, 2, 3}))
    held = check_slot(calendar(bookings=[other]), BookingKind.PROCESSING, "CD133",
                      Slot(T0 + 2 * H, T0 + 4 * H), [1, 2, 3])
    assert set(held) == {1, 2, 3}


def test_a_room_outside_its_availability_is_refused():
    shifts = [*day_shifts(MACS, TECH, DOC), Shift(ROOM.id, T0, T0 + 2 * H)]
    error = refusal(check_slot, calendar(shifts), BookingKind.PROCESSING, "BM-MNC",
                    Slot(T0 + H, T0 + 3 * H), [1])
    assert error.code == ErrorCode.BOOKING_RESOURCE_UNAVAILABLE
    assert "Clean room 1 is not available" in error.detail


def test_an_out_of_use_instrument_is_refused():
    broken = Resource(2, ResourceKind.INSTRUMENT, "CliniMACS 1", frozenset({"clinimacs"}),
                      active=False)
    error = refusal(check_slot, calendar(resources=(ROOM, broken, TECH, DOC)),
                    BookingKind.PROCESSING, "CD133", Slot(T0, T0 + H), [2])
    assert error.code == ErrorCode.BOOKING_RESOURCE_UNAVAILABLE
    assert "out of use" in error.detail


def test_cd133_processing_needs_clinimacs_trained_staff_on_shift_for_the_whole_slot():
    # the CliniMACS-trained technician leaves one minute before the run ends
    leaves = T0 + 4 * H - timedelta(minutes=1)
    shifts = [*day_shifts(ROOM, MACS, NEWBIE, DOC), Shift(TECH.id, T0, leaves)]
    error = refusal(check_slot, calendar(shifts), BookingKind.PROCESSING, "CD133",
                    Slot(T0, T0 + 4 * H), [1, 2, 5])
    assert error.code == ErrorCode.BOOKING_NO_QUALIFIED_STAFF
    assert "CliniMACS-qualified staff" in error.detail
    # the BM-MNC arm needs no CliniMACS: the newcomer does it
    assert set(check_slot(calendar(shifts), BookingKind.PROCESSING, "BM-MNC",
                          Slot(T0, T0 + 4 * H), [1, 5])) == {1, 5}
    # and with the shift to the minute the run ends, the trained technician is found
    held = check_slot(calendar(day_shifts(*ALL)), BookingKind.PROCESSING, "CD133",
                      Slot(T0, T0 + 4 * H), [1, 2, 5])
    assert TECH.id in held


def test_staff_chosen_off_shift_is_refused_as_no_qualified_staff():
    shifts = day_shifts(ROOM, MACS, TECH)
    error = refusal(check_slot, calendar(shifts), BookingKind.INFUSION, "CD133",
                    Slot(T0, T0 + H), [4])
    assert error.code == ErrorCode.BOOKING_NO_QUALIFIED_STAFF
    assert "Dr Doc is not on shift" in error.detail


def test_a_free_qualified_person_is_found_when_none_is_chosen():
    assert check_slot(calendar(), BookingKind.HARVEST, "CD133", Slot(T0, T0 + H), []) == (4,)


def test_a_slot_that_ends_before_it_starts_is_refused():
    error = refusal(check_slot, calendar(), BookingKind.HARVEST, "CD133", Slot(T0, T0), [])
    assert error.code == ErrorCode.INVALID_INPUT


# --- expiry and processing in time ------------------------------------------------------

def test_an_infusion_ending_at_expiry_is_accepted_and_a_minute_later_refused():
    harvest_end = T0
    expires = T0 + timedelta(hours=PARAMS.expiry_hours_after_harvest_end)
    check_infusion(Slot(expires - H, expires), harvest_end, "CD133", PARAMS, TEHRAN)
    error = refusal(check_infusion, Slot(expires - H, expires + timedelta(minutes=1)),
                    harvest_end, "CD133", PARAMS, TEHRAN)
    assert error.code == ErrorCode.BOOKING_AFTER_EXPIRY
    assert "after the product expires at 2026-12-01 21:30" in error.detail


def test_an_infusion_before_the_product_can_be_processed_and_released_is_refused():
    ready = T0 + timedelta(minutes=processing_minutes(PARAMS, "CD133")
                           + PARAMS.schedule_release_minutes)
    check_infusion(Slot(ready, ready + H), T0, "CD133", PARAMS, TEHRAN)
    error = refusal(check_infusion, Slot(ready - timedelta(minutes=1), ready + H), T0,
                    "CD133", PARAMS, TEHRAN)
    assert error.code == ErrorCode.BOOKING_BEFORE_READY


def test_processing_minutes_follow_the_protocol_parameters_per_arm():
    assert processing_minutes(PARAMS, "BM-MNC") == 60 + 60 + 90 + 30
    assert processing_minutes(PARAMS, "CD133") == 60 + 60 + 90 + 180 + 30
    faster = ProtocolParameters.from_mapping({"schedule_enrichment_minutes": 120})
    assert processing_minutes(faster, "CD133") == 360


def test_the_earliest_processing_run_after_the_harvest_is_found_around_bookings():
    busy = Booked(7, BookingKind.PROCESSING, T0, T0 + 2 * H, frozenset({1}))
    run, held = find_processing(calendar(bookings=[busy]), T0 + H, "BM-MNC", PARAMS)
    assert run.start == T0 + 2 * H  # when the clean room is free again
    assert run.end - run.start == timedelta(minutes=240)
    assert set(held) >= {1}


def test_a_harvest_the_lab_cannot_process_before_expiry_is_refused():
    # the lab's only clean room is available 06:00-10:00 UTC; a CD133 run takes 7 h
    shifts = [*day_shifts(MACS, TECH, DOC), Shift(ROOM.id, T0, T0 + 4 * H)]
    error = refusal(find_processing, calendar(shifts), T0, "CD133", PARAMS)
    assert error.code == ErrorCode.BOOKING_PROCESSING_WONT_FIT
    assert "7 h 00 min" in error.detail
    # the run fits exactly when it may end at expiry less the release time
    late = ProtocolParameters.from_mapping({"expiry_hours_after_harvest_end": 8.0})
    wide = day_shifts(*ALL, hours=24)
    run, _ = find_processing(calendar(wide), T0, "CD133", late)
    assert run.end == T0 + 7 * H
    shorter = ProtocolParameters.from_mapping({"expiry_hours_after_harvest_end": 7.99})
    assert refusal(find_processing, calendar(wide), T0, "CD133", shorter).code == (
        ErrorCode.BOOKING_PROCESSING_WONT_FIT)


# --- shifts in the lab's clock ------------------------------------------------------------

def test_daily_shifts_keep_the_wall_clock_across_the_dst_change():
    # Europe/Berlin leaves summer time on 25 October 2026
    spans = daily_shifts(date(2026, 10, 24), date(2026, 10, 26), time(8), time(16), BERLIN)
    assert [s.astimezone(BERLIN).hour for s, _ in spans] == [8, 8, 8]
    assert [s.hour for s, _ in spans] == [6, 7, 7]  # UTC moves by the hour
    assert all(e - s == timedelta(hours=8) for s, e in spans)


def test_a_night_shift_over_the_dst_change_is_an_hour_longer():
    (start, end), = daily_shifts(date(2026, 10, 24), date(2026, 10, 24), time(20), time(8),
                                 BERLIN)
    assert end - start == timedelta(hours=13)
    assert end.astimezone(BERLIN).hour == 8


def test_a_shift_starting_in_the_skipped_spring_hour_becomes_a_real_instant():
    (start, end), = daily_shifts(date(2026, 3, 29), date(2026, 3, 29), time(2, 30), time(10),
                                 BERLIN)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert start < end
    assert end - start == timedelta(hours=6, minutes=30)


def test_shifts_over_more_than_a_year_or_backwards_are_refused():
    assert refusal(daily_shifts, date(2026, 1, 2), date(2026, 1, 1), time(8), time(16),
                   TEHRAN).code == ErrorCode.INVALID_INPUT
    assert refusal(daily_shifts, date(2026, 1, 1), date(2027, 3, 1), time(8), time(16),
                   TEHRAN).code == ErrorCode.INVALID_INPUT
