"""A lab calendar for the scheduling tests: one clean room and one CliniMACS available all
day, a CliniMACS-trained technician and two physicians on day shifts (07:00-19:00 in the
lab's clock) from today for four days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session

from lims.demo import DemoRun
from lims.services.common import user_by_name, utcnow
from lims.services.scheduling_resources import add_shifts, register_resource, site_zone

DAYS = 4


@dataclass(frozen=True)
class LabCalendar:
    room: int
    clinimacs: int
    tech: int  # tech1: processing and CliniMACS
    doc: int  # doc1: harvest and infusion
    doc2: int  # doc2: harvest only


def set_up_calendar(session: Session, run: DemoRun) -> LabCalendar:
    admin = user_by_name(session, "admin")
    today = utcnow().astimezone(site_zone()).date()
    last = today + timedelta(days=DAYS - 1)

    def resource(kind: str, name: str, qualifications: list[str], username: str = "",
                 starts: time = time(0), ends: time = time(0)) -> int:
        row = register_resource(session, actor=admin, kind=kind, name=name,
                                qualifications=qualifications, username=username)
        assert row.id is not None
        add_shifts(session, actor=admin, resource_id=row.id, first_day=today - timedelta(1),
                   last_day=last, starts=starts, ends=ends)
        return row.id

    return LabCalendar(
        room=resource("room", "Clean room 1", ["clean_room"]),
        clinimacs=resource("instrument", "CliniMACS Plus 1", ["clinimacs"]),
        tech=resource("staff", "Tara Technician", ["processing", "clinimacs"], "tech1",
                      time(7), time(19)),
        doc=resource("staff", "Dr Daryush", ["harvest", "infusion"], "doc1", time(7),
                     time(19)),
        doc2=resource("staff", "Dr Dana", ["harvest"], "doc2", time(7), time(19)))


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """A time tomorrow in the lab's clock (aware)."""
    day: date = utcnow().astimezone(site_zone()).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=site_zone())
