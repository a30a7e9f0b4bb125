"""The calendar over HTTP: resources and shifts, bookings and each refusal with its rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from lims.models import AuditEvent
from tests.api.conftest import Api, refusal
from tests.calendar_setup import LabCalendar, set_up_calendar, tomorrow_at
from tests.factories import make_product


@pytest.fixture
def cal(api: Api) -> LabCalendar:
    made = set_up_calendar(api.session, api.run)
    api.session.commit()
    return made


def _scheduled(api: Api, arm: str = "CD133") -> str:
    product, _ = make_product(api.run, arm=arm, until="scheduled")
    api.session.commit()
    return product.din


def _book(api: Api, kind: str, din: str, start, end, user: str = "doc1", **more):  # type: ignore[no-untyped-def]
    return api.post("/bookings", user=user, json={
        "kind": kind, "din": din, "starts_at": start.isoformat(), "ends_at": end.isoformat(),
        **more})


def test_resources_and_shifts_are_kept_by_admin_and_supervisor_not_by_the_bench(api: Api):
    made = api.post("/resources", user="admin", json={
        "kind": "instrument", "name": "CliniMACS Prodigy 2", "qualifications": ["clinimacs"]})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    assert refusal(api.post("/resources", user="tech1", json={
        "kind": "room", "name": "Clean room 3", "qualifications": ["clean_room"]}), 403) == (
        "forbidden")
    first = tomorrow_at(0).date()
    shifts = api.post(f"/resources/{rid}/shifts", user="super1", json={
        "first_day": first.isoformat(), "last_day": (first + timedelta(days=2)).isoformat(),
        "starts": "07:00", "ends": "19:00"})
    assert shifts.status_code == 201, shifts.text
    assert len(shifts.json()) == 3
    # the lab's clock is Tehran's (UTC+3:30): 07:00 there is 03:30 UTC
    assert shifts.json()[0]["starts_at"].startswith(f"{first.isoformat()}T03:30")
    too_far = api.post(f"/resources/{rid}/shifts", user="super1", json={
        "first_day": "9999-12-30", "last_day": "9999-12-31", "starts": "07:00",
        "ends": "19:00"})
    assert refusal(too_far, 422) == "invalid_input"
    out = api.post(f"/resources/{rid}/change", user="admin",
                   json={"active": False, "reason": "sent for service"})
    assert out.status_code == 200 and out.json()["active"] is False
    assert refusal(api.post(f"/resources/{rid}/change", user="admin",
                            json={"active": False, "reason": ""}), 422) == "invalid_input"
    assert refusal(api.post("/resources", user="admin", json={
        "kind": "room", "name": "X", "qualifications": ["sterile"]}), 422) == "invalid_input"


def test_a_harvest_is_booked_with_its_processing_and_listed_for_the_day(api: Api, cal):
    din = _scheduled(api)
    made = _book(api, "harvest", din, tomorrow_at(8), tomorrow_at(9))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["kind"] == "harvest" and body["din"] == din
    assert body["resources"] == ["Dr Daryush"]
    listed = api.get("/bookings", user="tech1", params={
        "from": tomorrow_at(0).isoformat(), "to": tomorrow_at(23).isoformat()})
    assert listed.status_code == 200, listed.text
    kinds = [(b["kind"], b["resources"]) for b in listed.json()]
    assert kinds == [("harvest", ["Dr Daryush"]),
                     ("processing", ["Clean room 1", "CliniMACS Plus 1", "Tara Technician"])]
    assert api.get("/bookings/today", user="super1").status_code == 200
    cancelled = api.post(f"/bookings/{body['id']}/cancel", user="doc1",
                         json={"reason": "patient unwell"})
    assert cancelled.json()["status"] == "cancelled"
    assert refusal(api.post(f"/bookings/{body['id']}/cancel", user="doc1",
                            json={"reason": "again"}), 409) == "conflict"


def test_each_calendar_refusal_is_409_with_its_rule_and_is_audited(api: Api, cal):
    first, second, third = _scheduled(api), _scheduled(api), _scheduled(api, "BM-MNC")
    assert _book(api, "harvest", first, tomorrow_at(8), tomorrow_at(9),
                 resource_ids=[cal.doc]).status_code == 201
    double = _book(api, "harvest", third, tomorrow_at(8, 30), tomorrow_at(9, 30),
                   resource_ids=[cal.doc])
    assert refusal(double, 409) == "booking_double_booked"
    assert "Dr Daryush is already booked" in double.json()["detail"]
    wont_fit = _book(api, "harvest", second, tomorrow_at(8), tomorrow_at(9),
                     resource_ids=[cal.doc2])
    assert refusal(wont_fit, 409) == "booking_processing_wont_fit"
    late = _book(api, "infusion", first, tomorrow_at(20, 30), tomorrow_at(21, 30))
    assert refusal(late, 409) == "booking_after_expiry"
    early = _book(api, "infusion", first, tomorrow_at(10), tomorrow_at(11))
    assert refusal(early, 409) == "booking_before_ready"
    nobody = _book(api, "infusion", first, tomorrow_at(18, 30), tomorrow_at(19, 30))
    assert refusal(nobody, 409) == "booking_no_qualified_staff"
    busy_room = _book(api, "processing", first, tomorrow_at(10), tomorrow_at(11),
                      resource_ids=[cal.room], user="tech1")
    assert refusal(busy_room, 409) == "booking_double_booked"
    api.session.expire_all()
    rules = [e.new_value for e in api.session.exec(
        select(AuditEvent).where(AuditEvent.action == "booking_refused"))]
    assert len(rules) == 6


def test_bad_booking_requests_are_refused_before_the_calendar(api: Api, cal):
    din = _scheduled(api)
    naive = api.post("/bookings", user="doc1", json={
        "kind": "harvest", "din": din, "starts_at": "2026-12-01T08:00:00",
        "ends_at": "2026-12-01T09:00:00"})
    assert refusal(naive, 422) == "invalid_input"
    backwards = _book(api, "harvest", din, tomorrow_at(9), tomorrow_at(8))
    assert refusal(backwards, 422) == "invalid_input"
    past = _book(api, "harvest", din, tomorrow_at(8) - timedelta(days=2),
                 tomorrow_at(9) - timedelta(days=2))
    assert refusal(past, 422) == "invalid_input"
    far = tomorrow_at(8).replace(year=9999)
    assert refusal(_book(api, "harvest", din, far, far + timedelta(hours=1)),
                   422) == "invalid_input"
    assert refusal(_book(api, "harvest", din, tomorrow_at(8), tomorrow_at(8) + timedelta(
        days=2)), 422) == "invalid_input"
    assert refusal(_book(api, "harvest", din, tomorrow_at(8), tomorrow_at(9), user="admin"),
                   403) == "forbidden"
    assert refusal(_book(api, "infusion", din, tomorrow_at(17), tomorrow_at(18)),
                   422) == "invalid_input"  # no harvest booked yet
