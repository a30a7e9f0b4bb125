"""Booking harvest, processing and infusion slots on the lab's calendar.

`book` checks the request against the calendar (workflows.scheduling): a resource double
-booked, a room or instrument not available, no qualified staff on shift, an infusion
after the product expires or before it can be released, a harvest the lab cannot process
in time. A harvest booking also books its processing run (the earliest that fits), so the
clean room, staff and CliniMACS it was checked against are held for it. A refusal rolls
everything back and is audited with its rule and reason.

Concurrency: every booking first locks the resource rows (SELECT ... FOR UPDATE, in id
order) and only then reads the calendar, so two bookings of the same resource at once are
serialised on PostgreSQL and the second sees the first (SQLite serialises every writer).
Bookings are a handful a day: one at a time costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Booking, BookingResource, Patient, Product, Resource, User
from lims.services.common import aware, get_or_404, parameters_of, product_by_din, require_role
from lims.services.scheduling_resources import shifts_between, site_zone
from lims.sql_lists import one_of
from workflows import scheduling as rules
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound
from workflows.product import FINAL_STATES
from workflows.roles import Role
from workflows.typed_text import free_text_problem

BOOKERS = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.PHYSICIAN})
_MARGIN = timedelta(days=2)  # bookings and shifts read around a slot
_HORIZON = timedelta(days=730)  # how far ahead a slot may be booked
_LONGEST = timedelta(hours=24)  # no harvest, run or infusion takes longer


@dataclass(frozen=True)
class BookingView:
    booking: Booking
    din: str
    subject_id: str
    arm: str
    resources: list[str]
    problem: str = ""  # why the booking no longer holds, in words


def _problem(b: Booking, product: Product | None) -> str:
    if product is None or b.status != rules.BookingStatus.BOOKED:
        return ""
    if product.state in FINAL_STATES:
        return f"the product is {product.state.replace('_', ' ')}: cancel this booking"
    if (b.kind == rules.BookingKind.INFUSION and product.expires_at is not None
            and b.ends_at > product.expires_at):
        return "ends after the product's expiry (harvested later than booked): re-book it"
    return ""


def _calendar(session: Session, start: datetime, end: datetime) -> rules.Calendar:
    rows = session.exec(select(Resource).order_by(col(Resource.id))).all()
    shifts = [rules.Shift(s.resource_id, s.starts_at, s.ends_at)
              for s in shifts_between(session, start, end)]
    live = session.exec(select(Booking).where(Booking.status == rules.BookingStatus.BOOKED,
                                              col(Booking.starts_at) < end,
                                              col(Booking.ends_at) > start)).all()
    # A discarded, expired or administered product holds nothing any more.
    finished = set(session.exec(select(Product.id).where(
        one_of(col(Product.id), [b.product_id for b in live if b.product_id]),
        col(Product.state).in_([str(s) for s in FINAL_STATES]))))
    live = [b for b in live if b.product_id not in finished]
    # A person whose account is deactivated has left: never booked again.
    gone = set(session.exec(select(User.id).where(col(User.active).is_(False))))
    held = _held(session, [b.id for b in live if b.id is not None])
    labels = _labels(session, live)
    booked = [rules.Booked(b.id or 0, rules.BookingKind(b.kind), b.starts_at, b.ends_at,
                           frozenset(held.get(b.id or 0, [])), labels.get(b.id or 0, ""))
              for b in live]
    return rules.Calendar(
        [rules.Resource(r.id or 0, rules.ResourceKind(r.kind), r.name,
                        frozenset(r.qualifications), r.active and r.user_id not in gone)
         for r in rows],
        shifts, booked, site_zone())


def _held(session: Session, booking_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    if booking_ids:
        for link in session.exec(select(BookingResource).where(
                one_of(col(BookingResource.booking_id), booking_ids))):
            out.setdefault(link.booking_id, []).append(link.resource_id)
    return out


def _labels(session: Session, bookings: Sequence[Booking]) -> dict[int, str]:
    dins = {p.id: p.din for p in session.exec(select(Product).where(
        one_of(col(Product.id), [b.product_id for b in bookings if b.product_id])))}
    subjects = {p.id: p.subject_id for p in session.exec(select(Patient).where(
        one_of(col(Patient.id), [b.patient_id for b in bookings])))}
    return {b.id or 0: (dins.get(b.product_id) or subjects.get(b.patient_id) or "")
            for b in bookings}


def _lock_resources(session: Session) -> None:
    """Serialise bookings on the resource rows (no-op on SQLite: one writer at a time)."""
    session.exec(select(Resource.id).order_by(col(Resource.id)).with_for_update()).all()


def _harvest_booking(session: Session, product_id: int) -> Booking | None:
    return session.exec(select(Booking).where(
        Booking.product_id == product_id, Booking.kind == rules.BookingKind.HARVEST,
        Booking.status != rules.BookingStatus.CANCELLED)).first()


def _subject(session: Session, din: str, subject_id: str) -> tuple[Product | None, Patient]:
    if din:
        product = product_by_din(session, din)
        patient = get_or_404(session, Patient, product.patient_id, "patient")
        if subject_id and subject_id != patient.subject_id:
            raise InvalidInput(f"DIN {product.din} is not a product of {subject_id}")
        return product, patient
    found = session.exec(select(Patient).where(Patient.subject_id == subject_id)).first()
    if found is None:
        raise NotFound(f"no enrolled patient with subject ID {subject_id!r}")
    return None, found


def book(session: Session, *, actor: User, kind: str, starts_at: datetime, ends_at: datetime,
         din: str = "", subject_id: str = "", resource_ids: Sequence[int] = (),
         note: str = "", now: datetime | None = None) -> Booking:
    """Book a slot; a harvest also books its processing run. BookingRefused (audited)
    when the calendar cannot take it."""
    require_role(actor, BOOKERS, "book slots on the calendar")
    try:
        what = rules.BookingKind(kind)
    except ValueError:
        raise InvalidInput(f"{kind!r} is not a kind of slot: harvest, processing or "
                           "infusion") from None
    if note and (len(note) > 500 or free_text_problem(note) is not None):
        raise InvalidInput("note: at most 500 characters of plain text")
    try:
        return _book(session, actor, what, aware(starts_at), aware(ends_at), din.strip(),
                     subject_id.strip(), resource_ids, note.strip(), aware(now))
    except rules.BookingRefused as refused:
        session.rollback()
        append(session, [PendingEvent(AuditAction.BOOKING_REFUSED, "booking",
                                      din.strip() or subject_id.strip(),
                                      "refusal", None,
                                      {"kind": what.value, "din": din, "subject_id": subject_id,
                                       "starts_at": starts_at, "ends_at": ends_at,
                                       "resource_ids": list(resource_ids),
                                       "rule": refused.code.value},
                                      refused.detail)],
               user_id=actor.id, username=actor.username)
        session.commit()
        raise


def _book(session: Session, actor: User, what: rules.BookingKind, start: datetime,
          end: datetime, din: str, subject_id: str, resource_ids: Sequence[int], note: str,
          now: datetime) -> Booking:
    if not din and not subject_id:
        raise InvalidInput("name the product (DIN) or, for a harvest, the patient")
    product, patient = _subject(session, din, subject_id)
    if product is None and what != rules.BookingKind.HARVEST:
        raise InvalidInput(f"a {what.value} slot is booked for a product: give its DIN")
    if product is not None and product.state in FINAL_STATES:
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"product {product.din} is {product.state}: nothing to book")
    params = parameters_of(session, patient.protocol_id)
    if start < now - timedelta(minutes=params.clock_skew_minutes):
        raise InvalidInput("the slot starts in the past")
    if start > now + _HORIZON:
        raise InvalidInput("the calendar takes bookings up to two years ahead")
    if end - start > _LONGEST:
        raise InvalidInput("a slot lasts at most 24 hours")
    arm = product.arm if product is not None else patient.arm
    slot = rules.Slot(start, end)
    if end <= start:
        raise InvalidInput("the slot must end after it starts")
    _lock_resources(session)
    harvest_end = _harvest_end(session, what, product, slot)
    reach = max(end, harvest_end + rules.shelf_life(params)) if harvest_end else end
    calendar = _calendar(session, start - _MARGIN, reach + _MARGIN)
    if what == rules.BookingKind.INFUSION:
        assert harvest_end is not None
        rules.check_infusion(slot, harvest_end, arm, params, calendar.zone)
    if what == rules.BookingKind.PROCESSING and harvest_end is not None:
        expires = rules.expiry_of(harvest_end, params)
        if end > expires:
            raise rules.BookingRefused(ErrorCode.BOOKING_PROCESSING_WONT_FIT,
                                       "the processing run would end after the product "
                                       "expires")
    held = rules.check_slot(calendar, what, arm, slot, resource_ids)
    row = _store(session, actor, what, slot, product, patient, held, note, None)
    if what == rules.BookingKind.HARVEST:
        # The run must fit around the harvest just booked too (its staff are taken).
        calendar = _calendar(session, start - _MARGIN, reach + _MARGIN)
        run, run_held = rules.find_processing(calendar, end, arm, params)
        _store(session, actor, rules.BookingKind.PROCESSING, run, product, patient, run_held,
               "booked with the harvest", row.id)
    session.commit()
    return row


def _harvest_end(session: Session, what: rules.BookingKind, product: Product | None,
                 slot: rules.Slot) -> datetime | None:
    """The harvest end the product's expiry counts from: recorded, else booked."""
    if what == rules.BookingKind.HARVEST:
        if product is not None and product.harvest_end is not None:
            raise DomainError(ErrorCode.INVALID_TRANSITION,
                              f"product {product.din} was harvested already")
        if product is not None and _harvest_booking(session, product.id or 0) is not None:
            raise DomainError(ErrorCode.ALREADY_EXISTS,
                              f"product {product.din} has a harvest booked: cancel it first")
        return slot.end
    assert product is not None
    if product.harvest_end is not None:
        return product.harvest_end
    booked = _harvest_booking(session, product.id or 0)
    if booked is None:
        raise InvalidInput(f"book the harvest of {product.din} first: its expiry counts from "
                           "the harvest end")
    return booked.ends_at


def _store(session: Session, actor: User, what: rules.BookingKind, slot: rules.Slot,
           product: Product | None, patient: Patient, held: Sequence[int], note: str,
           harvest_booking_id: int | None) -> Booking:
    row = Booking(kind=what.value, product_id=product.id if product else None,
                  patient_id=patient.id or 0, starts_at=slot.start, ends_at=slot.end,
                  note=note, booked_by_id=actor.id or 0, harvest_booking_id=harvest_booking_id)
    session.add(row)
    session.flush()
    session.add_all([BookingResource(booking_id=row.id or 0, resource_id=rid) for rid in held])
    append(session, [PendingEvent(AuditAction.BOOKING_MADE, "booking", str(row.id), "booking",
                                  None, {"kind": what.value, "din": product.din if product
                                         else None, "subject_id": patient.subject_id,
                                         "starts_at": slot.start, "ends_at": slot.end,
                                         "resource_ids": list(held)})],
           user_id=actor.id, username=actor.username)
    return row


def cancel_booking(session: Session, *, actor: User, booking_id: int, reason: str) -> Booking:
    """Cancel a booking with the reason; a harvest's processing run goes with it."""
    require_role(actor, BOOKERS, "cancel bookings")
    row = get_or_404(session, Booking, booking_id, "booking")
    reason = reason.strip()
    if not reason:
        raise DomainError(ErrorCode.REASON_REQUIRED, "say why the booking is cancelled")
    if len(reason) > 500:
        raise InvalidInput("reason: at most 500 characters")
    if row.status != rules.BookingStatus.BOOKED:
        raise DomainError(ErrorCode.CONFLICT, f"the booking is {row.status} already")
    linked = list(session.exec(select(Booking).where(
        Booking.harvest_booking_id == row.id, Booking.status == rules.BookingStatus.BOOKED)))
    if row.kind == rules.BookingKind.HARVEST and row.product_id is not None:
        # The infusion was checked against this harvest's end: it is booked again with the
        # new harvest.
        linked += session.exec(select(Booking).where(
            Booking.product_id == row.product_id, Booking.kind == rules.BookingKind.INFUSION,
            Booking.status == rules.BookingStatus.BOOKED)).all()
    events = []
    for each in [row, *linked]:
        each.status, each.cancel_reason = rules.BookingStatus.CANCELLED.value, reason
        each.cancelled_by_id, each.cancelled_at = actor.id, aware(None)
        session.add(each)
        events.append(PendingEvent(AuditAction.BOOKING_CANCELLED, "booking", str(each.id),
                                   "status", "booked", "cancelled", reason))
    append(session, events, user_id=actor.id, username=actor.username)
    session.commit()
    return row


def mark_done(session: Session, *, actor: User, booking_id: int) -> Booking:
    require_role(actor, BOOKERS, "mark bookings done")
    row = get_or_404(session, Booking, booking_id, "booking")
    if row.status != rules.BookingStatus.BOOKED:
        raise DomainError(ErrorCode.CONFLICT, f"the booking is {row.status} already")
    row.status = rules.BookingStatus.DONE.value
    session.add(row)
    append(session, [PendingEvent(AuditAction.BOOKING_DONE, "booking", str(row.id), "status",
                                  "booked", "done")],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def bookings_between(session: Session, start: datetime, end: datetime,
                     include_cancelled: bool = False) -> list[BookingView]:
    """Bookings overlapping [start, end), earliest first, with product, patient and
    resources in words."""
    query = select(Booking).where(col(Booking.starts_at) < end, col(Booking.ends_at) > start)
    if not include_cancelled:
        query = query.where(Booking.status != rules.BookingStatus.CANCELLED)
    rows = session.exec(query.order_by(col(Booking.starts_at), col(Booking.id))).all()
    if not rows:
        return []  # the worklist asks every time: no further reads for an empty day
    held = _held(session, [b.id for b in rows if b.id is not None])
    names = {r.id: r.name for r in session.exec(select(Resource))}
    products = {p.id: p for p in session.exec(select(Product).where(
        one_of(col(Product.id), [b.product_id for b in rows if b.product_id])))}
    patients = {p.id: p for p in session.exec(select(Patient).where(
        one_of(col(Patient.id), [b.patient_id for b in rows])))}
    out = []
    for b in rows:
        product, patient = products.get(b.product_id), patients[b.patient_id]
        out.append(BookingView(b, product.din if product else "", patient.subject_id,
                               product.arm if product else patient.arm,
                               sorted(names[r] for r in held.get(b.id or 0, [])),
                               _problem(b, product)))
    return out


def todays_calendar(session: Session, now: datetime | None = None) -> list[BookingView]:
    """The day's worklist from the calendar: today's bookings (the lab's day)."""
    local = aware(now).astimezone(site_zone())
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Wall-clock arithmetic in the zone: a DST day is 23 or 25 hours long.
    return bookings_between(session, day, day + timedelta(days=1))
