"""The lab's calendar: a week grid of harvest, processing and infusion bookings with the
booking form beside it, and the resources (instruments, clean rooms, staff) and their
shifts for the administrator and the supervisor.

A refused booking shows the page again with the form as typed and the calendar's reason
in words; everything done redirects back with what was done (post/redirect/get)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.models import User
from lims.services.scheduling import BOOKERS, book, bookings_between, cancel_booking, mark_done
from lims.services.scheduling_resources import (
    RESOURCE_KEEPERS,
    add_shifts,
    cancel_shift,
    change_resource,
    register_resource,
    resources,
    shifts_between,
    site_zone,
)
from lims.web.deps import DbSession, Form, field, require
from lims.web.render import local, now, redirect, render
from workflows.errors import DomainError, InvalidInput
from workflows.scheduling import QUALIFICATION_WORDS, BookingKind, needs_of
from workflows.words import refusal_words

router = APIRouter(route_class=OneThreadRoute)
Booker = Annotated[User, Depends(require(BOOKERS, "the calendar"))]
Keeper = Annotated[User, Depends(require(RESOURCE_KEEPERS, "the calendar's resources"))]
FIRST_HOUR, LAST_HOUR = 6, 22  # the grid's rows; bookings outside them are listed below it
KIND_WORDS = {"harvest": "Harvest", "processing": "Processing", "infusion": "Infusion"}


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what}: a day is written YYYY-MM-DD, not {text[:20]!r}") from None


def _time(text: str, what: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what}: a time is written HH:MM, not {text[:20]!r}") from None


def _typed(form: FormData | None) -> dict[str, Any]:
    if form is None:
        return {}
    typed: dict[str, Any] = {name: value.strip() for name, value in form.items()
                             if isinstance(value, str) and name != "csrf_token"}
    typed["resource_ids"] = [str(v) for v in form.getlist("resource_id")]
    return typed


def _week(request_week: str) -> date:
    try:
        day = date.fromisoformat(request_week) if request_week else now().astimezone(
            site_zone()).date()
    except ValueError:
        day = now().astimezone(site_zone()).date()
    return day - timedelta(days=day.weekday())


def _grid(db: Session, monday: date) -> dict[str, Any]:
    """Rows of hours, a column a day; a booking fills each hour it overlaps, its words in
    the first."""
    zone = site_zone()
    start = datetime.combine(monday, time(0), tzinfo=zone)
    days = [monday + timedelta(days=i) for i in range(7)]
    views = bookings_between(db, start, start + timedelta(days=7))
    rows = []
    for hour in range(FIRST_HOUR, LAST_HOUR):
        cells = []
        for day in days:
            cell_start = datetime.combine(day, time(hour), tzinfo=zone)
            cell_end = cell_start + timedelta(hours=1)
            entries = []
            for view in views:
                b = view.booking
                if b.starts_at < cell_end and b.ends_at > cell_start:
                    first = b.starts_at >= cell_start or (hour == FIRST_HOUR
                                                          and b.starts_at < cell_start)
                    entries.append({"view": view, "first": first})
            cells.append(entries)
        rows.append({"hour": f"{hour:02d}:00", "cells": cells})
    return {"days": days, "rows": rows, "views": views,
            "prev": (monday - timedelta(days=7)).isoformat(),
            "next": (monday + timedelta(days=7)).isoformat(),
            "today": now().astimezone(zone).date()}


def _calendar_page(request: Request, db: Session, week: str, *, form: FormData | None = None,
                   refusal: DomainError | None = None, status_code: int = 200) -> HTMLResponse:
    monday = _week(week)
    rows = resources(db)
    return render(request, "calendar.html", {
        **_grid(db, monday), "week": monday.isoformat(), "kinds": KIND_WORDS,
        "resources": [r for r in rows if r.active], "typed": _typed(form),
        "refusal": refusal, "refusal_title": refusal_words(refusal.code) if refusal else "",
        "needs": {kind.value: ", ".join(n.words for n in needs_of(kind, "CD133"))
                  for kind in BookingKind},
        "qualification_words": QUALIFICATION_WORDS,
    }, status_code=status_code)


@router.get("/calendar")
def calendar(request: Request, user: Booker, db: DbSession, week: str = "") -> HTMLResponse:
    """The week's bookings as a grid, and the booking form."""
    return _calendar_page(request, db, week)


@router.post("/calendar/bookings")
def add_booking(request: Request, user: Booker, db: DbSession, form: Form) -> Response:
    """Book a slot; refused with the calendar's reason in words."""
    week = field(form, "day")
    try:
        day = _day(field(form, "day"), "day")
        zone = site_zone()
        starts = datetime.combine(day, _time(field(form, "starts"), "from"), tzinfo=zone)
        ends = datetime.combine(day, _time(field(form, "ends"), "to"), tzinfo=zone)
        if ends <= starts:  # an infusion or run past midnight ends the next day
            ends += timedelta(days=1)
        chosen = [int(v) for v in form.getlist("resource_id") if isinstance(v, str) and v.isdigit()]
        row = book(db, actor=user, kind=field(form, "kind"), starts_at=starts, ends_at=ends,
                   din=field(form, "din"), subject_id=field(form, "subject_id"),
                   resource_ids=chosen, note=field(form, "note"))
    except DomainError as refused:
        db.rollback()
        return _calendar_page(request, db, week, form=form, refusal=refused,
                              status_code=status_of(refused.code))
    what = KIND_WORDS.get(row.kind, row.kind)
    message = (f"{what} booked {local(row.starts_at, '%a %d %b %H:%M')}–"
               f"{local(row.ends_at, '%H:%M')}.")
    if row.kind == "harvest":
        message += " Its processing run is booked straight after it (see the calendar)."
    return redirect(f"/calendar?week={row.starts_at.astimezone(site_zone()).date()}", message)


@router.post("/calendar/bookings/{booking_id}/cancel")
def cancel(request: Request, booking_id: int, user: Booker, db: DbSession,
           form: Form) -> Response:
    """Cancel a booking with the reason."""
    week = field(form, "week")
    try:
        cancel_booking(db, actor=user, booking_id=booking_id, reason=field(form, "reason"))
    except DomainError as refused:
        db.rollback()
        return _calendar_page(request, db, week, refusal=refused,
                              status_code=status_of(refused.code))
    return redirect(f"/calendar?week={week}", "Booking cancelled.")


@router.post("/calendar/bookings/{booking_id}/done")
def done(request: Request, booking_id: int, user: Booker, db: DbSession,
         form: Form) -> Response:
    """Mark a booking done."""
    week = field(form, "week")
    try:
        mark_done(db, actor=user, booking_id=booking_id)
    except DomainError as refused:
        db.rollback()
        return _calendar_page(request, db, week, refusal=refused,
                              status_code=status_of(refused.code))
    return redirect(f"/calendar?week={week}", "Booking marked done.")


# --- resources and shifts --------------------------------------------------------------

def _resources_page(request: Request, db: Session, *, form_name: str = "",
                    form: FormData | None = None, error: str = "",
                    status_code: int = 200) -> HTMLResponse:
    moment = now()
    shifts = shifts_between(db, moment, moment + timedelta(days=14))
    rows = resources(db)
    names = {r.id: r.name for r in rows}
    return render(request, "admin_resources.html", {
        "rows": rows, "shifts": shifts, "names": names, "form_name": form_name,
        "typed": _typed(form), "error": error, "qualification_words": QUALIFICATION_WORDS,
        "today": moment.astimezone(site_zone()).date().isoformat(),
    }, status_code=status_code)


def _refused(request: Request, db: Session, form_name: str, form: FormData,
             refused: DomainError) -> HTMLResponse:
    db.rollback()
    detail = refused.detail[:1].upper() + refused.detail[1:]
    return _resources_page(request, db, form_name=form_name, form=form, error=detail,
                           status_code=status_of(refused.code))


@router.get("/admin/resources")
def resources_page(request: Request, user: Keeper, db: DbSession) -> HTMLResponse:
    """Instruments, rooms and staff with their qualifications and the next two weeks' shifts."""
    return _resources_page(request, db)


@router.post("/admin/resources")
def add_resource(request: Request, user: Keeper, db: DbSession, form: Form) -> Response:
    try:
        row = register_resource(db, actor=user, kind=field(form, "kind"),
                                name=field(form, "name"), username=field(form, "username"),
                                qualifications=[str(q) for q in form.getlist("qualification")])
    except DomainError as refused:
        return _refused(request, db, "register", form, refused)
    return redirect("/admin/resources", f"{row.name} registered.")


@router.post("/admin/resources/shifts")
def add_resource_shifts(request: Request, user: Keeper, db: DbSession, form: Form) -> Response:
    try:
        resource_id = field(form, "resource_id")
        if not resource_id.isdigit():
            raise InvalidInput("choose the resource")
        made = add_shifts(db, actor=user, resource_id=int(resource_id),
                          first_day=_day(field(form, "first_day"), "first day"),
                          last_day=_day(field(form, "last_day"), "last day"),
                          starts=_time(field(form, "starts"), "from"),
                          ends=_time(field(form, "ends"), "to"))
    except DomainError as refused:
        return _refused(request, db, "shifts", form, refused)
    return redirect("/admin/resources", f"{len(made)} shifts added.")


@router.post("/admin/resources/{resource_id}/in-use/{decision}")
def set_in_use(request: Request, resource_id: int, decision: str, user: Keeper,
               db: DbSession, form: Form) -> Response:
    try:
        if decision not in ("deactivate", "reactivate"):
            raise InvalidInput("deactivate or reactivate")
        row = change_resource(db, actor=user, resource_id=resource_id,
                              reason=field(form, "reason"), active=decision == "reactivate")
    except DomainError as refused:
        return _refused(request, db, f"use:{resource_id}", form, refused)
    return redirect("/admin/resources",
                    f"{row.name} is now {'in use' if row.active else 'out of use'}.")


@router.post("/admin/resources/qualifications")
def change_qualifications(request: Request, user: Keeper, db: DbSession,
                          form: Form) -> Response:
    """What a resource is qualified for now (a course passed, an instrument re-purposed)."""
    try:
        resource_id = field(form, "resource_id")
        if not resource_id.isdigit():
            raise InvalidInput("choose the resource")
        row = change_resource(db, actor=user, resource_id=int(resource_id),
                              reason=field(form, "reason"),
                              qualifications=[str(q) for q in form.getlist("qualification")])
    except DomainError as refused:
        return _refused(request, db, "qualifications", form, refused)
    return redirect("/admin/resources", f"{row.name}: qualifications changed.")


@router.post("/admin/resources/shifts/{shift_id}/cancel")
def cancel_a_shift(request: Request, shift_id: int, user: Keeper, db: DbSession,
                   form: Form) -> Response:
    try:
        cancel_shift(db, actor=user, shift_id=shift_id, reason=field(form, "reason"))
    except DomainError as refused:
        return _refused(request, db, f"shift:{shift_id}", form, refused)
    return redirect("/admin/resources", "Shift cancelled.")
