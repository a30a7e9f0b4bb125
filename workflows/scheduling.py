"""The lab's calendar: may a harvest, processing or infusion slot be booked, and on what?

Pure rules, no database: the service hands in the resources (instruments, clean rooms,
staff), their shifts (for a room or an instrument: when it is available), the bookings
already made, and the request; the answer is a plan (the resources the slot holds) or a
refusal with its code and a sentence for the person booking.

Times are UTC-aware datetimes; slots are half-open, [start, end): a slot ending at 10:00
and one starting at 10:00 do not overlap, and a shift ending at 10:00 covers a slot ending
at 10:00. Local time (and its daylight-saving jumps) only matters where the admin types a
shift in the lab's clock: `daily_shifts` turns those into UTC here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from workflows.errors import DomainError, ErrorCode
from workflows.protocol import ProtocolParameters


class ResourceKind(StrEnum):
    INSTRUMENT = "instrument"
    ROOM = "room"
    STAFF = "staff"


class BookingKind(StrEnum):
    HARVEST = "harvest"
    PROCESSING = "processing"
    INFUSION = "infusion"


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    DONE = "done"


class Qualification(StrEnum):
    """What a resource is good for: a staff member's training, an instrument's type, a
    room's grade. Held on the resource as master data."""

    HARVEST = "harvest"  # collects marrow in the OR (or receives it for the lab)
    PROCESSING = "processing"  # trained on the lab's processing SOP
    CLINIMACS = "clinimacs"  # staff: CliniMACS-trained; instrument: a CliniMACS
    INFUSION = "infusion"  # gives the product (portal vein, under sonography)
    CLEAN_ROOM = "clean_room"  # room: grade for open cell processing


QUALIFICATION_WORDS: dict[str, str] = {
    Qualification.HARVEST: "harvest",
    Qualification.PROCESSING: "cell processing",
    Qualification.CLINIMACS: "CliniMACS",
    Qualification.INFUSION: "infusion",
    Qualification.CLEAN_ROOM: "clean room",
}
KIND_WORDS: dict[str, str] = {"instrument": "instrument", "room": "room", "staff": "staff"}


@dataclass(frozen=True)
class Need:
    """One resource a slot must hold: of this kind, with this qualification."""

    kind: ResourceKind
    qualification: Qualification

    @property
    def words(self) -> str:
        if self.kind == ResourceKind.STAFF:
            return f"{QUALIFICATION_WORDS[self.qualification]}-qualified staff"
        if self.kind == ResourceKind.ROOM:
            return f"a {QUALIFICATION_WORDS[self.qualification]}"  # "a clean room"
        return f"a {QUALIFICATION_WORDS[self.qualification]} {KIND_WORDS[self.kind]}"


def needs_of(kind: BookingKind, arm: str) -> tuple[Need, ...]:
    """What a slot of `kind` needs [Prop: the lab's SOP to confirm]. Processing holds a
    clean room and processing staff for the whole run, the CD133 arm also a CliniMACS and
    CliniMACS-trained staff (one person may be both)."""
    if kind == BookingKind.HARVEST:
        return (Need(ResourceKind.STAFF, Qualification.HARVEST),)
    if kind == BookingKind.INFUSION:
        return (Need(ResourceKind.STAFF, Qualification.INFUSION),)
    needs = [Need(ResourceKind.ROOM, Qualification.CLEAN_ROOM),
             Need(ResourceKind.STAFF, Qualification.PROCESSING)]
    if arm == "CD133":
        needs += [Need(ResourceKind.INSTRUMENT, Qualification.CLINIMACS),
                  Need(ResourceKind.STAFF, Qualification.CLINIMACS)]
    return tuple(needs)


def processing_minutes(params: ProtocolParameters, arm: str) -> float:
    """The whole processing run of the arm, receipt to formulation (protocol parameters)."""
    total = (params.schedule_receipt_minutes + params.schedule_sedimentation_minutes
             + params.schedule_ficoll_minutes + params.schedule_formulation_minutes)
    if arm == "CD133":
        total += params.schedule_enrichment_minutes
    return total


def shelf_life(params: ProtocolParameters) -> timedelta:
    return timedelta(hours=params.expiry_hours_after_harvest_end)


@dataclass(frozen=True)
class Resource:
    id: int
    kind: ResourceKind
    name: str
    qualifications: frozenset[str]
    active: bool = True

    def meets(self, need: Need) -> bool:
        return self.active and self.kind == need.kind and need.qualification in self.qualifications


@dataclass(frozen=True)
class Shift:
    resource_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Booked:
    """A booking already on the calendar (cancelled ones are not handed in)."""

    id: int
    kind: BookingKind
    start: datetime
    end: datetime
    resource_ids: frozenset[int]
    label: str = ""  # the product's DIN or the patient, for the refusal sentence


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


class BookingRefused(DomainError):
    """A slot that cannot be booked: the code says which rule, the detail says why."""


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: touching ends do not overlap."""
    return a_start < b_end and b_start < a_end


def covered(start: datetime, end: datetime, shifts: Iterable[Shift]) -> bool:
    """Whether the shifts (one resource's) cover [start, end) without a gap; back-to-back
    shifts join."""
    reach = start
    for shift in sorted(shifts, key=lambda s: s.start):
        if shift.start > reach:
            break
        reach = max(reach, shift.end)
        if reach >= end:
            return True
    return reach >= end


def _stamp(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Calendar:
    """Everything the rules look at: resources, shifts, live bookings, the lab's zone."""

    resources: Sequence[Resource]
    shifts: Sequence[Shift]
    bookings: Sequence[Booked]
    zone: ZoneInfo

    def resource(self, resource_id: int) -> Resource:
        for row in self.resources:
            if row.id == resource_id:
                return row
        raise BookingRefused(ErrorCode.NOT_FOUND, f"there is no resource {resource_id}")

    def clash(self, resource_id: int, start: datetime, end: datetime) -> Booked | None:
        for booked in self.bookings:
            if resource_id in booked.resource_ids and overlaps(start, end, booked.start,
                                                                booked.end):
                return booked
        return None

    def on_shift(self, resource_id: int, start: datetime, end: datetime) -> bool:
        return covered(start, end, [s for s in self.shifts if s.resource_id == resource_id])

    def free(self, resource: Resource, start: datetime, end: datetime) -> bool:
        return (resource.active and self.on_shift(resource.id, start, end)
                and self.clash(resource.id, start, end) is None)


def check_slot(calendar: Calendar, kind: BookingKind, arm: str, slot: Slot,
               chosen: Sequence[int]) -> tuple[int, ...]:
    """The resources the slot holds: those chosen, each free for the whole slot, plus a
    free qualified one for every need the chosen ones leave open. Raises BookingRefused:
    double-booked, a room or instrument not available, no qualified staff on shift."""
    if slot.end <= slot.start:
        raise BookingRefused(ErrorCode.INVALID_INPUT, "the slot must end after it starts")
    zone = calendar.zone
    held: list[Resource] = []
    for resource_id in dict.fromkeys(chosen):
        resource = calendar.resource(resource_id)
        if (booked := calendar.clash(resource.id, slot.start, slot.end)) is not None:
            raise BookingRefused(
                ErrorCode.BOOKING_DOUBLE_BOOKED,
                f"{resource.name} is already booked from {_stamp(booked.start, zone)} to "
                f"{_stamp(booked.end, zone)} ({booked.kind.value}"
                f"{' of ' + booked.label if booked.label else ''})")
        if not resource.active or not calendar.on_shift(resource.id, slot.start, slot.end):
            code = (ErrorCode.BOOKING_NO_QUALIFIED_STAFF if resource.kind == ResourceKind.STAFF
                    else ErrorCode.BOOKING_RESOURCE_UNAVAILABLE)
            what = "not on shift" if resource.kind == ResourceKind.STAFF else "not available"
            raise BookingRefused(code, f"{resource.name} is {what} for the whole slot, "
                                       f"{_stamp(slot.start, zone)} to {_stamp(slot.end, zone)}"
                                 + ("" if resource.active else " (out of use)"))
        held.append(resource)
    for need in needs_of(kind, arm):
        if any(resource.meets(need) for resource in held):
            continue
        spare = next((r for r in calendar.resources
                      if r.meets(need) and r not in held
                      and calendar.free(r, slot.start, slot.end)), None)
        if spare is None:
            raise _nobody(need, slot, zone, chosen=any(
                calendar.resource(i).kind == need.kind for i in chosen))
        held.append(spare)
    return tuple(resource.id for resource in held)


def _nobody(need: Need, slot: Slot, zone: ZoneInfo, *, chosen: bool) -> BookingRefused:
    span = f"from {_stamp(slot.start, zone)} to {_stamp(slot.end, zone)}"
    if need.kind == ResourceKind.STAFF:
        lead = "none of the staff chosen is " if chosen else "no "
        return BookingRefused(ErrorCode.BOOKING_NO_QUALIFIED_STAFF,
                              f"{lead}{need.words} on shift and free for the whole slot, "
                              f"{span}")
    return BookingRefused(ErrorCode.BOOKING_RESOURCE_UNAVAILABLE,
                          f"no {need.words.removeprefix('a ')} is available and free "
                          f"for the whole slot, {span}")


def expiry_of(harvest_end: datetime, params: ProtocolParameters) -> datetime:
    return harvest_end + shelf_life(params)


def check_infusion(slot: Slot, harvest_end: datetime, arm: str, params: ProtocolParameters,
                   zone: ZoneInfo) -> None:
    """An infusion must end by the product's expiry and cannot start before the product
    can be processed and released."""
    expires = expiry_of(harvest_end, params)
    if slot.end > expires:
        raise BookingRefused(
            ErrorCode.BOOKING_AFTER_EXPIRY,
            f"the infusion would end at {_stamp(slot.end, zone)}, after the product expires "
            f"at {_stamp(expires, zone)} (harvest end {_stamp(harvest_end, zone)} + "
            f"{params.expiry_hours_after_harvest_end:g} h)")
    ready = harvest_end + timedelta(minutes=processing_minutes(params, arm)
                                    + params.schedule_release_minutes)
    if slot.start < ready:
        raise BookingRefused(
            ErrorCode.BOOKING_BEFORE_READY,
            f"the product cannot be ready before {_stamp(ready, zone)}: processing of the "
            f"{arm} arm and release take {_hours(ready - harvest_end)} after the harvest end")


def _hours(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def find_processing(calendar: Calendar, harvest_end: datetime, arm: str,
                    params: ProtocolParameters) -> tuple[Slot, tuple[int, ...]]:
    """The earliest processing run after the harvest ends that the lab can staff, house
    and (CD133) run on a CliniMACS, ending in time for release before the product
    expires; BookingRefused (BOOKING_PROCESSING_WONT_FIT) when none fits.

    Feasibility only changes where a booking ends or a shift starts, so those instants
    (and the harvest end itself) are the only starts worth trying."""
    run = timedelta(minutes=processing_minutes(params, arm))
    latest_end = (expiry_of(harvest_end, params)
                  - timedelta(minutes=params.schedule_release_minutes))
    starts = sorted({harvest_end, *(b.end for b in calendar.bookings),
                     *(s.start for s in calendar.shifts)})
    for start in starts:
        if start < harvest_end:
            continue
        if start + run > latest_end:
            break
        try:
            held = check_slot(calendar, BookingKind.PROCESSING, arm,
                              Slot(start, start + run), ())
        except BookingRefused:
            continue
        return Slot(start, start + run), held
    zone = calendar.zone
    raise BookingRefused(
        ErrorCode.BOOKING_PROCESSING_WONT_FIT,
        f"the lab cannot process this harvest in time: the {arm} run takes {_hours(run)} and "
        f"must end by {_stamp(latest_end, zone)} (expiry "
        f"{_stamp(expiry_of(harvest_end, params), zone)} less "
        f"{params.schedule_release_minutes:g} min for release), but from "
        f"{_stamp(harvest_end, zone)} there is no such time when "
        + ", ".join(need.words for need in needs_of(BookingKind.PROCESSING, arm))
        + " are all on shift and free")


def daily_shifts(first_day: date, last_day: date, starts: time, ends: time,
                 zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """One shift a day in the lab's clock, as UTC instants; a shift ending at or before
    its start time ends the next day (a night shift). Wall-clock times hold across a DST
    change (an 08:00 start stays 08:00 local); a time the clock skips is moved on by the
    jump (fold=0, as zoneinfo resolves it)."""
    if last_day < first_day:
        raise BookingRefused(ErrorCode.INVALID_INPUT, "the last day is before the first day")
    if (last_day - first_day).days > 366:
        raise BookingRefused(ErrorCode.INVALID_INPUT, "shifts for more than a year at once")
    out = []
    day = first_day
    while day <= last_day:
        start = datetime.combine(day, starts, tzinfo=zone)
        end_day = day + timedelta(days=1) if ends <= starts else day
        end = datetime.combine(end_day, ends, tzinfo=zone)
        out.append((_utc(start), _utc(end)))
        day += timedelta(days=1)
    return out


def _utc(local: datetime) -> datetime:
    # Through UTC: a wall time inside a spring-forward gap becomes a real instant.
    return local.astimezone(UTC)
