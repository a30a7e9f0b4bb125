"""The calendar in the browser: a physician books a CD133 harvest and sees it, with its
processing run, on the week grid; a second harvest on the same physician at the same time
is refused with the reason in words."""

from __future__ import annotations

from sqlmodel import Session

from lims.db import make_engine
from lims.demo import DemoRun
from tests.calendar_setup import set_up_calendar, tomorrow_at
from tests.e2e.bench import Bench
from tests.e2e.conftest import Lab
from tests.factories import make_product


def _products(database_url: str) -> tuple[str, str]:
    """A clean room, a CliniMACS, staff on shift, and two products waiting for a harvest."""
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        run = DemoRun(session, say=lambda _m: None)
        set_up_calendar(session, run)
        first, _ = make_product(run, arm="CD133", until="scheduled")
        second, _ = make_product(run, arm="BM-MNC", until="scheduled")
        dins = first.din, second.din
    engine.dispose()
    return dins


def _book(bench: Bench, din: str, *, doctor: str | None = None) -> None:
    page = bench.page
    page.select_option("#kind", "harvest")
    page.fill("#din", din)
    page.fill("#day", tomorrow_at(0).date().isoformat())
    page.fill("#starts", "08:00")
    page.fill("#ends", "09:00")
    if doctor:
        page.get_by_label(doctor).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Book the slot").click()


def test_a_harvest_is_booked_and_a_double_booking_refused_in_the_browser(bench: Bench,
                                                                        lab: Lab) -> None:
    first, second = _products(lab.database_url)
    bench.sign_in("doc1")
    bench.page.get_by_role("link", name="Calendar").click()
    bench.page.get_by_role("link", name="Next week →").wait_for()
    if tomorrow_at(0).weekday() == 0:  # tomorrow is next week's Monday
        with bench.page.expect_navigation():
            bench.page.get_by_role("link", name="Next week →").click()

    # when the physician books the CD133 harvest for tomorrow 08:00-09:00
    _book(bench, first)

    # then it shows on the week grid, with its processing run straight after it
    assert "Harvest booked" in bench.flash(), bench.page.content()[:3000]
    grid = bench.page.locator("table.calendar")
    harvest = grid.locator(".booking-harvest", has_text="Harvest 08:00–09:00")
    assert harvest.count() == 1
    assert first in harvest.inner_text() and "Dr Daryush" in harvest.inner_text()
    run = grid.locator(".booking-processing", has_text="Processing 09:00–16:00")
    assert run.count() == 1
    assert "CliniMACS Plus 1" in run.inner_text() and "Clean room 1" in run.inner_text()
    assert grid.locator(".booking-processing.booking-cont").count() == 6  # 10:00 to 15:00

    # when a second harvest is booked on the same physician at the same time
    _book(bench, second, doctor="Dr Daryush")

    # then it is refused, and the page says why in words; the form keeps what was typed
    refusal = bench.page.locator("#booking-refusal")
    assert refusal.count() == 1
    text = refusal.inner_text()
    assert "Not booked: Double-booked" in text
    assert "Dr Daryush is already booked from" in text and first in text
    assert bench.page.input_value("#din") == second
    assert grid.locator(".booking-harvest").count() == 1
