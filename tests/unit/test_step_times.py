"""Time integrity rules as pure functions (workflows.step_times, calculations.product_expiry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflows.calculations import product_expiry
from workflows.step_times import (
    ReportedTime,
    earlier_steps,
    future_problems,
    order_problems,
    reported_times,
)
from workflows.steps import STEPS

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_time_beyond_the_clock_skew_is_in_the_future_and_one_within_it_is_not():
    values = {"time_issued": NOW + timedelta(minutes=6)}
    assert list(future_problems(STEPS["issue"], values, server_now=NOW, skew_minutes=5)) == [
        "time_issued"]
    values = {"time_issued": NOW + timedelta(minutes=4)}
    assert future_problems(STEPS["issue"], values, server_now=NOW, skew_minutes=5) == {}


def test_a_time_before_the_latest_earlier_time_names_that_time():
    earlier = [ReportedTime("the harvest end recorded at bone-marrow harvest", NOW),
               ReportedTime("QA's release", NOW + timedelta(hours=5))]
    values = {"time_issued": NOW + timedelta(hours=4)}

    problems = order_problems(STEPS["issue"], values, earlier)

    assert "QA's release" in problems["time_issued"]
    assert "must be after" in problems["time_issued"]


def test_a_time_typed_in_the_minute_of_the_earlier_event_follows_it_and_one_before_does_not():
    released = ReportedTime("QA's release", NOW + timedelta(seconds=40))
    same_minute = {"time_issued": NOW}  # typed "12:00" or "now" at 12:00:55
    minute_before = {"time_issued": NOW - timedelta(minutes=1)}

    assert order_problems(STEPS["issue"], same_minute, [released]) == {}
    assert "QA's release" in order_problems(STEPS["issue"], minute_before,
                                            [released])["time_issued"]


def test_an_infusion_ending_when_it_starts_is_refused_but_one_minute_is_not():
    zero = {"infusion_start": NOW, "infusion_end": NOW}
    one = {"infusion_start": NOW, "infusion_end": NOW + timedelta(minutes=1)}
    assert list(order_problems(STEPS["administer"], zero, [])) == ["infusion_end"]
    assert order_problems(STEPS["administer"], one, []) == {}


def test_stored_times_of_an_earlier_step_are_read_back_from_their_iso_text():
    stored = {"time_out": "2026-05-01T10:00:00+03:30", "time_received": "garbage"}
    [reported] = reported_times(STEPS["receive"], stored)
    assert reported.at == datetime.fromisoformat("2026-05-01T10:00:00+03:30")
    assert "time out" in reported.what


def test_the_steps_before_administration_are_every_other_process_step():
    assert earlier_steps("administer") == {"harvest", "receive", "sediment", "isolate_mnc",
                                           "enrich", "formulate", "issue"}
    assert earlier_steps("harvest") == set()


def test_expiry_is_the_harvest_end_plus_the_protocols_hours():
    assert product_expiry(NOW, 12.0, latest_harvest_end=NOW) == NOW + timedelta(hours=12)


def test_expiry_cannot_be_computed_from_a_harvest_end_in_the_future():
    with pytest.raises(ValueError, match="in the future"):
        product_expiry(NOW + timedelta(hours=1), 12.0, latest_harvest_end=NOW)


def test_expiry_needs_a_timezone_aware_harvest_end():
    with pytest.raises(ValueError, match="timezone"):
        product_expiry(NOW.replace(tzinfo=None), 12.0, latest_harvest_end=NOW)
