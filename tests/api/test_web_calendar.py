"""The calendar's pages over HTTP: the week grid, a booking and its refusal in words, the
resources page, and today's bookings on the worklist."""

from __future__ import annotations

import html

from tests.api.conftest import Api
from tests.api.web_client import browser
from tests.calendar_setup import set_up_calendar, tomorrow_at
from tests.factories import make_product


def _form(din: str, hour: int, **more: str) -> dict[str, str]:
    return {"kind": "harvest", "din": din, "day": tomorrow_at(0).date().isoformat(),
            "starts": f"{hour:02d}:00", "ends": f"{hour + 1:02d}:00", **more}


def test_a_harvest_booked_in_the_page_shows_on_the_week_grid(api: Api, api_engine):
    cal = set_up_calendar(api.session, api.run)
    product, _ = make_product(api.run, arm="CD133", until="scheduled")
    other, _ = make_product(api.run, arm="BM-MNC", until="scheduled")
    api.session.commit()
    client, token = browser(api_engine, "doc1")
    made = client.post("/calendar/bookings", data={"csrf_token": token,
                                                   **_form(product.din, 8)})
    assert made.status_code == 303, made.text[:2000]
    page = client.get(made.headers["location"])
    assert "Harvest booked" in page.text
    assert page.text.count('data-booking="') >= 8  # harvest 1 h + run 7 h in the grid
    assert "Processing 09:00–16:00" in page.text
    # a double booking of the same physician is refused with the reason in words
    refused = client.post("/calendar/bookings", data={
        "csrf_token": token, **_form(other.din, 8), "resource_id": str(cal.doc)})
    assert refused.status_code == 409
    text = html.unescape(refused.text)
    assert "Not booked: Double-booked" in text and "Dr Daryush is already booked" in text
    assert f'value="{other.din}"' in refused.text  # the form as typed


def test_the_resources_page_registers_and_adds_shifts_for_the_supervisor_only(api: Api,
                                                                            api_engine):
    client, token = browser(api_engine, "super1")
    made = client.post("/admin/resources", data={"csrf_token": token, "kind": "room",
                                                 "name": "Clean room 2",
                                                 "qualification": "clean_room"})
    assert made.status_code == 303, made.text[:2000]
    page = client.get("/admin/resources").text
    assert 'data-resource="Clean room 2"' in page
    bad = client.post("/admin/resources/shifts", data={
        "csrf_token": token, "resource_id": "", "first_day": "2026-12-01",
        "last_day": "2026-12-02", "starts": "07:00", "ends": "19:00"})
    assert bad.status_code == 422 and "Choose the resource" in bad.text
    from sqlmodel import select

    from lims.models import Resource
    room_id = api.session.exec(select(Resource.id).where(Resource.name == "Clean room 2")).one()
    api.session.commit()  # end the read before the app writes
    changed = client.post("/admin/resources/qualifications", data={
        "csrf_token": token, "resource_id": str(room_id), "qualification": "clean_room",
        "reason": "no change"})
    assert changed.status_code == 422 and "Nothing changes" in changed.text
    tech, _ = browser(api_engine, "tech1")
    assert tech.get("/admin/resources").status_code == 403


def test_the_worklist_shows_todays_calendar(api: Api, api_engine):
    from datetime import time, timedelta

    from lims.services.common import user_by_name, utcnow
    from lims.services.scheduling import book
    from lims.services.scheduling_resources import add_shifts, site_zone

    cal = set_up_calendar(api.session, api.run)
    today = utcnow().astimezone(site_zone()).date()
    for staff in (cal.doc, cal.tech):  # on call round the clock, whenever the test runs
        add_shifts(api.session, actor=user_by_name(api.session, "admin"), resource_id=staff,
                   first_day=today, last_day=today + timedelta(days=1), starts=time(0),
                   ends=time(0))
    product, _ = make_product(api.run, arm="BM-MNC", until="scheduled")
    start = utcnow() + timedelta(minutes=10)
    if start.astimezone(site_zone()).date() != today:  # the day's last 10 minutes: now, today
        start = utcnow()
    book(api.session, actor=api.run.user("doc1"), kind="harvest", din=product.din,
         starts_at=start, ends_at=start + timedelta(minutes=1))
    client, _ = browser(api_engine, "tech1")
    page = client.get("/").text
    assert "Today&#39;s calendar" in page or "Today's calendar" in page
    assert product.din in page
