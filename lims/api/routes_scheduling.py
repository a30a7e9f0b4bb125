"""The lab's calendar: resources and their shifts (admin and supervisor), harvest,
processing and infusion bookings (the lab), the day's bookings.

A booking the calendar cannot take is answered 409 with the rule as the code
(booking_double_booked, booking_resource_unavailable, booking_no_qualified_staff,
booking_after_expiry, booking_before_ready, booking_processing_wont_fit) and the reason in
words; the refusal is in the audit trail."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, Field

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Day, Id, In, Out
from lims.models import User
from lims.services.common import aware
from lims.services.scheduling import (
    BOOKERS,
    BookingView,
    book,
    bookings_between,
    cancel_booking,
    mark_done,
    todays_calendar,
)
from lims.services.scheduling_resources import (
    RESOURCE_KEEPERS,
    add_shifts,
    cancel_shift,
    change_resource,
    register_resource,
    resources,
)
from workflows.errors import InvalidInput
from workflows.scheduling import Qualification

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["scheduling"])
Keeper = Annotated[User, Depends(require_roles(*RESOURCE_KEEPERS,
                                               action="keep the calendar's resources"))]
Booker = Annotated[User, Depends(require_roles(*BOOKERS, action="book on the calendar"))]
Reader = Annotated[User, Depends(require_roles(*(BOOKERS | RESOURCE_KEEPERS),
                                               action="read the calendar"))]
Kind = Literal["instrument", "room", "staff"]
Reason = Field(min_length=1, max_length=500, description="Why (recorded in the audit)")


class ResourceIn(In):
    kind: Kind
    name: str = Field(min_length=1, max_length=120, examples=["CliniMACS Plus 1"])
    qualifications: list[Qualification] = Field(max_length=10, examples=[["clinimacs"]])
    username: str = Field(default="", max_length=64,
                          description="Staff only: the person's user account")


class ResourceChangeIn(In):
    qualifications: list[Qualification] | None = Field(default=None, max_length=10)
    active: bool | None = None
    reason: str = Reason


class ResourceOut(Out):
    id: int
    kind: str
    name: str
    user_id: int | None
    qualifications: list[str]
    active: bool


class ShiftsIn(In):
    first_day: Day
    last_day: Day
    starts: time = Field(description="In the lab's clock, e.g. 07:00")
    ends: time = Field(description="In the lab's clock; at or before `starts`: next day")


class ShiftOut(Out):
    id: int
    resource_id: int
    starts_at: datetime
    ends_at: datetime
    cancelled: bool


class ReasonIn(In):
    reason: str = Reason


class BookingIn(In):
    kind: Literal["harvest", "processing", "infusion"]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    din: str = Field(default="", max_length=24, description="The product (not needed for a "
                                                            "harvest booked by patient)")
    subject_id: str = Field(default="", max_length=40)
    resource_ids: list[int] = Field(default_factory=list, max_length=20,
                                    description="Resources chosen; a free qualified one is "
                                                "found for every need left open")
    note: str = Field(default="", max_length=500)


class BookingOut(Out):
    id: int
    kind: str
    status: str
    starts_at: datetime
    ends_at: datetime
    din: str
    subject_id: str
    arm: str
    resources: list[str]
    harvest_booking_id: int | None
    note: str
    cancel_reason: str


def _out(view: BookingView) -> BookingOut:
    b = view.booking
    return BookingOut(id=b.id or 0, kind=b.kind, status=b.status, starts_at=b.starts_at,
                      ends_at=b.ends_at, din=view.din, subject_id=view.subject_id,
                      arm=view.arm, resources=view.resources,
                      harvest_booking_id=b.harvest_booking_id, note=b.note,
                      cancel_reason=b.cancel_reason)


def _view(session: SessionDep, booking_id: int) -> BookingOut:
    from lims.models import Booking

    row = session.get(Booking, booking_id)
    assert row is not None
    views = bookings_between(session, row.starts_at, row.ends_at, include_cancelled=True)
    return _out(next(v for v in views if v.booking.id == booking_id))


@router.get("/resources", responses=errors(401, 403))
def list_resources(_user: Reader, session: SessionDep) -> list[ResourceOut]:
    """Every instrument, room and staff member of the calendar."""
    return [ResourceOut.model_validate(row) for row in resources(session)]


@router.post("/resources", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 409, 422))
def add_resource(body: ResourceIn, actor: Keeper, session: SessionDep) -> ResourceOut:
    """Register an instrument, a room or a staff member with their qualifications."""
    return ResourceOut.model_validate(register_resource(
        session, actor=actor, kind=body.kind, name=body.name, username=body.username,
        qualifications=[q.value for q in body.qualifications]))


@router.post("/resources/{resource_id}/change", responses=errors(401, 403, 404, 422))
def change(resource_id: Id, body: ResourceChangeIn, actor: Keeper,
           session: SessionDep) -> ResourceOut:
    """Change a resource's qualifications or take it out of / back into use."""
    qualifications = (None if body.qualifications is None
                      else [q.value for q in body.qualifications])
    return ResourceOut.model_validate(change_resource(
        session, actor=actor, resource_id=resource_id, reason=body.reason,
        qualifications=qualifications, active=body.active))


@router.post("/resources/{resource_id}/shifts", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 422))
def shifts(resource_id: Id, body: ShiftsIn, actor: Keeper,
           session: SessionDep) -> list[ShiftOut]:
    """Add one shift a day (staff) or availability (room, instrument) for a run of days."""
    return [ShiftOut.model_validate(row) for row in add_shifts(
        session, actor=actor, resource_id=resource_id, first_day=body.first_day,
        last_day=body.last_day, starts=body.starts, ends=body.ends)]


@router.post("/shifts/{shift_id}/cancel", responses=errors(401, 403, 404, 409, 422))
def cancel_a_shift(shift_id: Id, body: ReasonIn, actor: Keeper,
                   session: SessionDep) -> ShiftOut:
    """Cancel a shift (sick leave, room closed), with the reason."""
    return ShiftOut.model_validate(cancel_shift(session, actor=actor, shift_id=shift_id,
                                                reason=body.reason))


@router.get("/bookings", responses=errors(401, 403, 422))
def list_bookings(_user: Reader, session: SessionDep,
                  start: Annotated[AwareDatetime, Query(alias="from")],
                  end: Annotated[AwareDatetime, Query(alias="to")],
                  cancelled: Annotated[bool, Query(description="Include cancelled")] = False
                  ) -> list[BookingOut]:
    """Bookings overlapping a period, earliest first."""
    if end <= start or (end - start).days > 62:
        raise InvalidInput("`to` must be after `from`, at most 62 days later")
    return [_out(v) for v in bookings_between(session, aware(start), aware(end), cancelled)]


@router.get("/bookings/today", responses=errors(401, 403))
def today(_user: Reader, session: SessionDep) -> list[BookingOut]:
    """Today's bookings (the lab's day): the day's worklist from the calendar."""
    return [_out(v) for v in todays_calendar(session)]


@router.post("/bookings", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def add_booking(body: BookingIn, actor: Booker, session: SessionDep) -> BookingOut:
    """Book a slot; a harvest also books its processing run. Refused with the rule and reason."""
    row = book(session, actor=actor, kind=body.kind, starts_at=body.starts_at,
               ends_at=body.ends_at, din=body.din, subject_id=body.subject_id,
               resource_ids=body.resource_ids, note=body.note)
    return _view(session, row.id or 0)


@router.post("/bookings/{booking_id}/cancel", responses=errors(401, 403, 404, 409, 422))
def cancel(booking_id: Id, body: ReasonIn, actor: Booker, session: SessionDep) -> BookingOut:
    """Cancel a booking with the reason (a harvest's processing run goes with it)."""
    cancel_booking(session, actor=actor, booking_id=booking_id, reason=body.reason)
    return _view(session, booking_id)


@router.post("/bookings/{booking_id}/done", responses=errors(401, 403, 404, 409, 422))
def done(booking_id: Id, actor: Booker, session: SessionDep) -> BookingOut:
    """Mark a booking done."""
    mark_done(session, actor=actor, booking_id=booking_id)
    return _view(session, booking_id)
