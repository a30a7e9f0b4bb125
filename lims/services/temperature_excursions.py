"""Excursions found in a location's readings: raised with an alert to QA and the
supervisors, linked to every container stored there while they lasted, acknowledged by QA.

Detection runs in the transaction that records the readings (an import or a hand entry),
so the readings, the excursion, its links and its notifications commit together. An
excursion once raised is never deleted: later readings only end it or widen it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from labels import batch_record_model as br
from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import (
    ExcursionContainer,
    Product,
    Protocol,
    StorageLocation,
    TemperatureExcursion,
    TemperatureReading,
    User,
)
from lims.services.common import aware, get_or_404, require_role
from lims.services.notifications import stage_notification
from lims.services.storage import stored_during
from lims.services.storage_locations import path_of, range_of
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.protocol import ProtocolParameters
from workflows.roles import Role
from workflows.temperature import Excursion, ExcursionKind, Point, find_excursions, overlaps

ACKNOWLEDGERS = frozenset({Role.QA})
ALERTED = (Role.QA.value, Role.SUPERVISOR.value)
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Monitoring:
    """The protocol parameters that apply to storage (the strictest of the trials')."""

    max_gap: timedelta
    skew: timedelta


def monitoring(session: Session) -> Monitoring:
    """Storage serves every trial of the lab: the smallest allowed gap and skew win."""
    params = [ProtocolParameters.from_mapping(p) for p in
              session.exec(select(Protocol.parameters))] or [ProtocolParameters()]
    return Monitoring(timedelta(minutes=min(p.temperature_reading_gap_max_minutes
                                            for p in params)),
                      timedelta(minutes=min(p.clock_skew_minutes for p in params)))


def check_location(session: Session, location_ids: set[int], *, since: datetime,
                   now: datetime, user: User) -> list[TemperatureExcursion]:
    """Find excursions at each location from `since` on (staged, no commit); the new
    and changed ones. `user` recorded the readings: the audit names them."""
    params = monitoring(session)
    changed: list[TemperatureExcursion] = []
    for location_id in sorted(location_ids):
        location = get_or_404(session, StorageLocation, location_id, "storage location")
        changed += _check(session, location, since=since, now=now, user=user, params=params)
    return changed


def _check(session: Session, location: StorageLocation, *, since: datetime, now: datetime,
           user: User, params: Monitoring) -> list[TemperatureExcursion]:
    assert location.id is not None
    window = _window_start(session, location.id, since - params.max_gap)
    points = [Point(r.measured_at, r.celsius) for r in session.exec(
        select(TemperatureReading).where(TemperatureReading.location_id == location.id,
                                         col(TemperatureReading.measured_at) >= window))]
    limits = range_of(session, location)
    changed = []
    for found in find_excursions(points, low=limits.low_c, high=limits.high_c,
                                 max_gap=params.max_gap):
        row = _matching(session, location.id, found)
        if row is None:
            changed.append(_raise(session, location, found, limits.low_c, limits.high_c,
                                  now, user))
            continue
        if _widen(session, row, found, user):
            changed.append(row)
        elif row.ended_at is not None:
            continue  # unchanged and over; an open one links what was stored since
        _link(session, row, now)
    return changed


def _window_start(session: Session, location_id: int, since: datetime) -> datetime:
    """From the reading before `since` (to know the state then), and from the start of an
    excursion still open there (to find its end)."""
    before = session.exec(select(TemperatureReading.measured_at).where(
        TemperatureReading.location_id == location_id,
        col(TemperatureReading.measured_at) < since)
        .order_by(col(TemperatureReading.measured_at).desc()).limit(1)).first()
    start = before or since
    still_open = session.exec(select(TemperatureExcursion.started_at).where(
        TemperatureExcursion.location_id == location_id,
        col(TemperatureExcursion.ended_at).is_(None))
        .order_by(col(TemperatureExcursion.started_at)).limit(1)).first()
    return min(start, still_open) if still_open is not None else start


def _matching(session: Session, location_id: int,
              found: Excursion) -> TemperatureExcursion | None:
    for row in session.exec(select(TemperatureExcursion).where(
            TemperatureExcursion.location_id == location_id,
            TemperatureExcursion.kind == found.kind.value)
            .order_by(col(TemperatureExcursion.started_at))):
        if overlaps(row.started_at, row.ended_at, found.started_at, found.ended_at):
            return row
    return None


def _raise(session: Session, location: StorageLocation, found: Excursion, low: float | None,
           high: float | None, now: datetime, user: User) -> TemperatureExcursion:
    assert location.id is not None
    row = TemperatureExcursion(location_id=location.id, kind=found.kind.value,
                               started_at=found.started_at, ended_at=found.ended_at,
                               min_c=found.min_c, max_c=found.max_c, range_min_c=low,
                               range_max_c=high, raised_at=now)
    session.add(row)
    session.flush()
    where = path_of(session, location)
    what = found.describe(low, high)
    append(session, [PendingEvent(AuditAction.TEMPERATURE_EXCURSION_RAISED,
                                  "temperature_excursion", str(row.id), "kind", None,
                                  row.kind, reason=f"{where} ({location.code}): {what}")],
           user_id=user.id, username=user.username)
    subject = (f"Temperature excursion at {location.code}" if found.kind
               == ExcursionKind.TEMPERATURE else f"No temperature data from {location.code}")
    dins = _link(session, row, now)
    stored = ", ".join(dins) if dins else "none"
    body = (f"{where} ({location.code}): {what}.\nProducts with a container stored there "
            f"during it: {stored}.\nQA must assess and acknowledge it.")
    for person in session.exec(select(User).where(col(User.role).in_(ALERTED),
                                                  col(User.active).is_(True))
                               .order_by(col(User.id))):
        stage_notification(session, recipient=person, subject=subject, body=body, now=now)
    return row


def _widen(session: Session, row: TemperatureExcursion, found: Excursion, user: User) -> bool:
    """End or widen `row` with what the readings now show; False when nothing changed."""
    before = _facts(row)
    row.started_at = min(row.started_at, found.started_at)
    if found.ended_at is None:
        row.ended_at = None
    elif row.ended_at is None or found.ended_at > row.ended_at:
        row.ended_at = found.ended_at
    if found.min_c is not None:
        row.min_c = found.min_c if row.min_c is None else min(row.min_c, found.min_c)
    if found.max_c is not None:
        row.max_c = found.max_c if row.max_c is None else max(row.max_c, found.max_c)
    after = _facts(row)
    if after == before:
        return False
    reason = "readings since show it " + ("ended" if row.ended_at else "is still open")
    if row.acknowledged_at is not None and (after["started_at"], after["min_c"],
                                            after["max_c"]) != (
            before["started_at"], before["min_c"], before["max_c"]):
        # QA acknowledged less than it now is: they must look again.
        row.acknowledged_at, row.acknowledged_by_id, row.acknowledgement = None, None, ""
        reason += "; worse than acknowledged, so QA must acknowledge it again"
    session.add(row)
    append(session, [PendingEvent(AuditAction.TEMPERATURE_EXCURSION_CHANGED,
                                  "temperature_excursion", str(row.id), "period", before,
                                  after, reason=reason)],
           user_id=user.id, username=user.username)
    return True


def _facts(row: TemperatureExcursion) -> dict[str, object]:
    return {"started_at": row.started_at.isoformat(),
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            "min_c": row.min_c, "max_c": row.max_c}


def _link(session: Session, row: TemperatureExcursion, now: datetime) -> list[str]:
    """Link every container stored there during the excursion (links are only added);
    the DINs of the products stored there then."""
    assert row.id is not None
    linked = set(session.exec(select(ExcursionContainer.container_id).where(
        ExcursionContainer.excursion_id == row.id)))
    dins = []
    for container, product in stored_during(session, row.location_id, row.started_at,
                                            row.ended_at or now):
        assert container.id is not None and product.id is not None
        dins.append(product.din)
        if container.id not in linked:
            session.add(ExcursionContainer(excursion_id=row.id, container_id=container.id,
                                           product_id=product.id))
    session.flush()
    return sorted(set(dins))


def acknowledge_excursion(session: Session, *, actor: User, excursion_id: int, comment: str,
                          now: datetime | None = None) -> TemperatureExcursion:
    """QA acknowledges an excursion with their assessment (commits with its event)."""
    require_role(actor, ACKNOWLEDGERS, "acknowledge temperature excursions")
    row = get_or_404(session, TemperatureExcursion, excursion_id, "temperature excursion")
    comment = (comment or "").strip()
    if not comment:
        raise DomainError(ErrorCode.COMMENT_REQUIRED, "say what you assessed: the "
                          "acknowledgement of an excursion needs a comment")
    if len(comment) > MAX_COMMENT:
        raise InvalidInput(f"the comment has {len(comment)} characters; at most {MAX_COMMENT}")
    if row.acknowledged_at is not None:
        raise DomainError(ErrorCode.CONFLICT, f"excursion {excursion_id} is already "
                                              "acknowledged")
    row.acknowledged_by_id, row.acknowledged_at = actor.id, aware(now)
    row.acknowledgement = comment
    session.add(row)
    append(session, [PendingEvent(AuditAction.TEMPERATURE_EXCURSION_ACKNOWLEDGED,
                                  "temperature_excursion", str(row.id), "acknowledged", None,
                                  "yes", reason=comment)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


@dataclass(frozen=True)
class ExcursionView:
    """An excursion as the lists, the product page and the batch record show it."""

    excursion: TemperatureExcursion
    location: str  # "Site › Room › Freezer (FRZ-1)"
    code: str  # the location's code
    dins: list[str]
    acknowledged_by: str | None

    @property
    def words(self) -> str:
        e = self.excursion
        found = Excursion(ExcursionKind(e.kind), e.started_at, e.ended_at, e.min_c, e.max_c)
        return found.describe(e.range_min_c, e.range_max_c)


def excursions(session: Session, *, unacknowledged_only: bool = False,
               product: Product | None = None, location_id: int | None = None,
               limit: int = 200) -> list[ExcursionView]:
    """Excursions, newest first: all, QA's open ones, one product's or one location's."""
    query = select(TemperatureExcursion)
    if unacknowledged_only:
        query = query.where(col(TemperatureExcursion.acknowledged_at).is_(None))
    if location_id is not None:
        query = query.where(TemperatureExcursion.location_id == location_id)
    if product is not None:
        query = query.where(col(TemperatureExcursion.id).in_(
            select(ExcursionContainer.excursion_id).where(
                ExcursionContainer.product_id == product.id)))
    rows = list(session.exec(query.order_by(col(TemperatureExcursion.started_at).desc(),
                                            col(TemperatureExcursion.id).desc()).limit(limit)))
    return [_view(session, row) for row in rows]


def excursion_lines(session: Session, product: Product) -> tuple[br.ExcursionLine, ...]:
    """The excursions affecting the product, oldest first, as the batch record prints them."""
    return tuple(br.ExcursionLine(
        v.location, v.words, v.excursion.started_at,
        f"{v.acknowledged_by}: {v.excursion.acknowledgement}" if v.acknowledged_by else "")
        for v in reversed(excursions(session, product=product)))


def excursion_view(session: Session, excursion_id: int) -> ExcursionView:
    return _view(session, get_or_404(session, TemperatureExcursion, excursion_id,
                                     "temperature excursion"))


def _view(session: Session, row: TemperatureExcursion) -> ExcursionView:
    location = get_or_404(session, StorageLocation, row.location_id, "storage location")
    dins = sorted(set(session.exec(select(Product.din).join(
        ExcursionContainer, col(ExcursionContainer.product_id) == col(Product.id))
        .where(ExcursionContainer.excursion_id == row.id))))
    who = session.get(User, row.acknowledged_by_id) if row.acknowledged_by_id else None
    return ExcursionView(row, f"{path_of(session, location)} ({location.code})", location.code,
                         dins,
                         (who.full_name or who.username) if who else None)
