"""The demo's calendar (issue 16): a CliniMACS, a clean room, staff with their shifts, and
bookings for the demo's products: the infusion of the CD133 product harvested an hour ago,
and a CD133 harvest planned for tomorrow 08:00 (its processing run booked with it) with
its infusion in the afternoon."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta

from sqlmodel import Session

from lims.models import Patient, Product, User
from lims.services.common import user_by_name, utcnow
from lims.services.harvests import schedule_harvest
from lims.services.scheduling import book
from lims.services.scheduling_resources import add_shifts, register_resource, site_zone

DAYS = 14  # shifts from yesterday for two weeks
# (kind, name, qualifications, user account, shift start, shift end): 00:00-00:00 is all day
RESOURCES = (
    ("instrument", "CliniMACS Plus 1", ["clinimacs"], "", time(0), time(0)),
    ("room", "Clean room A", ["clean_room"], "", time(0), time(0)),
    ("staff", "Technician 1 (CliniMACS)", ["processing", "clinimacs"], "tech1", time(7),
     time(19)),
    ("staff", "Technician 2", ["processing"], "tech2", time(7), time(19)),
    ("staff", "Physician 1 (on call)", ["harvest", "infusion"], "doc1", time(0), time(0)),
    ("staff", "Physician 2", ["harvest", "infusion"], "doc2", time(8), time(16)),
)


def book_demo_calendar(session: Session, products: list[Product], users: Mapping[str, User],
                       enrol: Callable[[str, float], Patient], say: Callable[[str], None]
                       ) -> None:
    admin = user_by_name(session, "admin")  # master data is the administrator's
    zone = site_zone()
    today = utcnow().astimezone(zone).date()
    for kind, name, qualifications, username, starts, ends in RESOURCES:
        row = register_resource(session, actor=admin, kind=kind, name=name,
                                qualifications=qualifications, username=username)
        add_shifts(session, actor=admin, resource_id=row.id or 0,
                   first_day=today - timedelta(days=1), last_day=today + timedelta(days=DAYS),
                   starts=starts, ends=ends)
    doc = users["doc1"]
    waiting = next((p for p in products if p.state == "received"), None)
    if waiting is not None and waiting.harvest_end is not None:
        start = waiting.harvest_end + timedelta(hours=9)
        book(session, actor=doc, kind="infusion", din=waiting.din, starts_at=start,
             ends_at=start + timedelta(hours=1), note="portal vein, sonography room")
    patient = enrol("CD133", 69.0)
    planned = schedule_harvest(session, actor=users["tech1"],
                               subject_id=patient.subject_id)
    tomorrow = today + timedelta(days=1)
    book(session, actor=doc, kind="harvest", din=planned.din,
         starts_at=datetime.combine(tomorrow, time(8), tzinfo=zone),
         ends_at=datetime.combine(tomorrow, time(9), tzinfo=zone))
    book(session, actor=doc, kind="infusion", din=planned.din,
         starts_at=datetime.combine(tomorrow, time(17), tzinfo=zone),
         ends_at=datetime.combine(tomorrow, time(18), tzinfo=zone))
    say(f"calendar: {len(RESOURCES)} resources with shifts; harvest of {planned.din} "
        "booked tomorrow 08:00 with its processing run and infusion")
