"""The calendar's master data: instruments, clean rooms and staff, and their shifts.

The administrator or a supervisor registers a resource with what it is qualified for
(a CliniMACS, a clean room, a CliniMACS-trained technician ...), changes its
qualifications or takes it out of use with the reason, and adds shifts (for a room or an
instrument: when it is available) day by day in the lab's clock. Every change is audited.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import Resource, ResourceShift, User
from lims.services.common import get_or_404, require_role, required_reason
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.roles import Role
from workflows.scheduling import BookingRefused, Qualification, ResourceKind, daily_shifts
from workflows.typed_text import free_text_problem

RESOURCE_KEEPERS = frozenset({Role.ADMIN, Role.SUPERVISOR})


def site_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().time_zone)


def _qualifications(kind: ResourceKind, given: list[str]) -> list[str]:
    known = {q.value for q in Qualification}
    wrong = sorted(set(given) - known)
    if wrong:
        raise InvalidInput(f"unknown qualifications {wrong}; known: {sorted(known)}")
    return sorted(set(given))


def _kind(kind: str) -> ResourceKind:
    try:
        return ResourceKind(kind)
    except ValueError:
        raise InvalidInput(f"{kind!r} is not a kind of resource: instrument, room or staff"
                           ) from None


def _reason(reason: str) -> str:
    return required_reason(reason, "sent for service")


def register_resource(session: Session, *, actor: User, kind: str, name: str,
                      qualifications: list[str], username: str = "") -> Resource:
    """A new instrument, room or staff member on the calendar, in use at once."""
    require_role(actor, RESOURCE_KEEPERS, "register calendar resources")
    what, name = _kind(kind), name.strip()
    if not name or len(name) > 120 or free_text_problem(name) is not None:
        raise InvalidInput("name: the name the lab knows it by, 1 to 120 characters")
    user_id = None
    if what == ResourceKind.STAFF:
        person = session.exec(select(User).where(User.username == username.strip())).first()
        if person is None or not person.active:
            raise InvalidInput(f"staff: {username!r} is not an active user account")
        user_id = person.id
    elif username.strip():
        raise InvalidInput("only a staff member has a user account")
    if session.exec(select(Resource).where(Resource.name == name)).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"a resource called {name} exists")
    row = Resource(kind=what.value, name=name, user_id=user_id,
                   qualifications=_qualifications(what, qualifications))
    session.add(row)
    session.flush()
    append(session, [PendingEvent(AuditAction.RESOURCE_REGISTERED, "resource", str(row.id),
                                  "resource", None, {"kind": row.kind, "name": row.name,
                                                     "user_id": user_id,
                                                     "qualifications": row.qualifications})],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def change_resource(session: Session, *, actor: User, resource_id: int, reason: str,
                    qualifications: list[str] | None = None,
                    active: bool | None = None) -> Resource:
    """Change what a resource is qualified for, or take it out of / back into use."""
    require_role(actor, RESOURCE_KEEPERS, "change calendar resources")
    row = get_or_404(session, Resource, resource_id, "resource")
    reason = _reason(reason)
    old = {"qualifications": row.qualifications, "active": row.active}
    if qualifications is not None:
        row.qualifications = _qualifications(ResourceKind(row.kind), qualifications)
    if active is not None:
        row.active = active
    new = {"qualifications": row.qualifications, "active": row.active}
    if new == old:
        raise InvalidInput("nothing changes")
    session.add(row)
    append(session, [PendingEvent(AuditAction.RESOURCE_CHANGED, "resource", str(row.id),
                                  "resource", old, new, reason)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def add_shifts(session: Session, *, actor: User, resource_id: int, first_day: date,
               last_day: date, starts: time, ends: time) -> list[ResourceShift]:
    """One shift a day from `first_day` to `last_day`, in the lab's clock (an end at or
    before the start ends the next morning)."""
    require_role(actor, RESOURCE_KEEPERS, "add shifts")
    row = get_or_404(session, Resource, resource_id, "resource")
    today = datetime.now(site_zone()).date()
    if first_day < today - timedelta(days=31) or last_day > today + timedelta(days=730):
        raise InvalidInput("shifts are added from a month back to two years ahead")
    try:
        spans = daily_shifts(first_day, last_day, starts, ends, site_zone())
    except BookingRefused as refused:
        raise InvalidInput(refused.detail) from None
    shifts = [ResourceShift(resource_id=resource_id, starts_at=start, ends_at=end,
                            created_by_id=actor.id) for start, end in spans]
    session.add_all(shifts)
    session.flush()
    append(session, [PendingEvent(AuditAction.SHIFT_ADDED, "resource", str(row.id), "shift",
                                  None, {"shift_id": s.id, "starts_at": s.starts_at,
                                         "ends_at": s.ends_at}) for s in shifts],
           user_id=actor.id, username=actor.username)
    session.commit()
    return shifts


def cancel_shift(session: Session, *, actor: User, shift_id: int, reason: str) -> ResourceShift:
    """A shift that will not happen (sick leave, room shut for cleaning), with the reason.
    Slots already booked on it stay booked: the calendar shows them for re-planning."""
    require_role(actor, RESOURCE_KEEPERS, "cancel shifts")
    shift = get_or_404(session, ResourceShift, shift_id, "shift")
    reason = _reason(reason)
    if shift.cancelled:
        raise DomainError(ErrorCode.CONFLICT, "the shift is already cancelled")
    shift.cancelled, shift.cancel_reason = True, reason
    session.add(shift)
    append(session, [PendingEvent(AuditAction.SHIFT_CANCELLED, "resource",
                                  str(shift.resource_id), "shift", {"shift_id": shift.id},
                                  None, reason)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return shift


def resources(session: Session) -> list[Resource]:
    return list(session.exec(select(Resource).order_by(col(Resource.kind), col(Resource.name))))


def shifts_between(session: Session, start: datetime, end: datetime) -> list[ResourceShift]:
    """Shifts (not cancelled) that overlap [start, end)."""
    return list(session.exec(
        select(ResourceShift).where(col(ResourceShift.cancelled).is_(False),
                                    col(ResourceShift.starts_at) < end,
                                    col(ResourceShift.ends_at) > start)
        .order_by(col(ResourceShift.starts_at))))
