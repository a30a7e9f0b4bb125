"""The audit trail in human-readable form, filtered: one query behind the export, the API
and the audit viewer (Part 11 §11.10(b): accurate and complete copies, readable by people).

Dates are calendar days of the facility's time zone (LIMS_TIME_ZONE), both ends included:
an inspector asking for "1 to 30 November" means the site's days. Every time is shown both
in UTC (as stored) and in the site's local time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, func, or_
from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction, action_words
from lims.config import get_settings
from lims.models import (
    Alert,
    AuditEvent,
    AuditHead,
    Deviation,
    Notification,
    QcResult,
    ReviewAcknowledgement,
    StepRecord,
    User,
)
from lims.services.common import product_by_din, require_role
from lims.sql_lists import one_of
from workflows.errors import InvalidInput
from workflows.roles import Role

AUDIT_READERS = frozenset({Role.QA, Role.ADMIN})
MAX_PER_PAGE = 500
# Rows of these kinds belong to a product through their product_id (entity, model).
_PRODUCT_RECORDS: tuple[tuple[str, Any], ...] = (
    ("step_record", StepRecord), ("qc_result", QcResult), ("deviation", Deviation),
    ("alert", Alert), ("notification", Notification),
    ("review_acknowledgement", ReviewAcknowledgement))


@dataclass(frozen=True)
class AuditFilter:
    """Which events: of one product (its DIN), by one user, of one action, between two days."""

    din: str | None = None
    username: str | None = None
    action: AuditAction | None = None
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class AuditLine:
    """One event as an inspector reads it."""

    seq: int
    at_utc: datetime
    at_local: datetime
    username: str
    full_name: str
    action: str
    action_words: str
    entity: str
    entity_id: str
    field: str
    old: str | None
    new: str | None
    reason: str | None

    @property
    def change(self) -> str:
        if self.old is None and self.new is None:
            return ""
        return f"{'—' if self.old is None else self.old} → {'—' if self.new is None else self.new}"

    def as_dict(self) -> dict[str, Any]:
        """The exported form: every field as text (times ISO 8601 with their offset)."""
        return {"seq": self.seq, "time_utc": self.at_utc.isoformat(timespec="seconds"),
                "time_local": self.at_local.isoformat(timespec="seconds"),
                "username": self.username, "user": self.full_name, "action": self.action,
                "action_words": self.action_words, "entity": self.entity,
                "entity_id": self.entity_id, "field": self.field, "old": self.old,
                "new": self.new, "change": self.change, "reason": self.reason}


EXPORT_FIELDS = ("seq", "time_utc", "time_local", "username", "user", "action", "action_words",
                 "entity", "entity_id", "field", "old", "new", "change", "reason")


@dataclass(frozen=True)
class AuditPage:
    lines: list[AuditLine]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def audit_events(session: Session, *, actor: User, filters: AuditFilter, page: int = 1,
                 per_page: int = 50) -> AuditPage:
    """One page of the events that match, oldest first (QA and administrators only)."""
    require_role(actor, AUDIT_READERS, "read the audit trail")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"page must be 1 or more and page size 1 to {MAX_PER_PAGE}")
    conditions = _conditions(session, filters)
    if conditions:
        total = session.exec(select(func.count()).select_from(AuditEvent)
                             .where(*conditions)).one()
        rows = session.exec(select(AuditEvent).where(*conditions)
                            .order_by(col(AuditEvent.seq))
                            .offset((page - 1) * per_page).limit(per_page)).all()
    else:
        # The whole trail: its events are numbered 1..head without a gap (the chain's
        # order), so the head counts them and a page is a range of sequence numbers,
        # not a count and an offset over millions of rows.
        head = session.get(AuditHead, 1)
        total = head.last_seq if head is not None else 0
        first = (page - 1) * per_page
        rows = session.exec(select(AuditEvent).where(
            col(AuditEvent.seq) > first, col(AuditEvent.seq) <= first + per_page)
            .order_by(col(AuditEvent.seq))).all()
    return AuditPage(_readable(session, list(rows)), int(total), page, per_page)


def count_events(session: Session, filters: AuditFilter) -> int:
    """How many events match (what an export will write: its progress)."""
    return int(session.exec(select(func.count()).select_from(AuditEvent)
                            .where(*_conditions(session, filters))).one())


def export_events(session: Session, filters: AuditFilter, batch: int = 2000
                  ) -> Iterator[AuditLine]:
    """Every event that matches, oldest first, read in batches (the export). Refuses bad
    filters at once, before the first line is written."""
    query = (select(AuditEvent).where(*_conditions(session, filters))
             .order_by(col(AuditEvent.seq)).execution_options(yield_per=batch))
    return _in_batches(session, query, batch)


def _in_batches(session: Session, query: Any, batch: int) -> Iterator[AuditLine]:
    chunk: list[AuditEvent] = []
    for event in session.exec(query):
        chunk.append(event)
        if len(chunk) == batch:
            yield from _readable(session, chunk)
            chunk = []
    yield from _readable(session, chunk)


def _conditions(session: Session, filters: AuditFilter) -> list[ColumnElement[bool]]:
    if filters.start and filters.end and filters.start > filters.end:
        raise InvalidInput(f"the period starts ({filters.start}) after it ends "
                           f"({filters.end}): swap the dates")
    conditions: list[ColumnElement[bool]] = []
    if filters.din:
        conditions.append(of_product(session, filters.din))
    if filters.username:
        conditions.append(col(AuditEvent.username) == filters.username.strip())
    if filters.action:
        conditions.append(col(AuditEvent.action) == filters.action.value)
    if filters.start:
        conditions.append(col(AuditEvent.at) >= _day_start(filters.start))
    if filters.end:
        conditions.append(col(AuditEvent.at) < _day_start(filters.end + timedelta(days=1)))
    return conditions


def of_product(session: Session, din: str) -> ColumnElement[bool]:
    """The product's own events, its containers' and those of every record kept about it."""
    product = product_by_din(session, din)
    parts = [(col(AuditEvent.entity) == "product") & (col(AuditEvent.entity_id) == product.din),
             (col(AuditEvent.entity) == "container")
             & col(AuditEvent.entity_id).startswith(f"{product.din}/")]
    for entity, model in _PRODUCT_RECORDS:
        ids = [str(i) for i in session.exec(select(model.id).where(
            model.product_id == product.id))]
        if ids:
            parts.append((col(AuditEvent.entity) == entity)
                         & one_of(col(AuditEvent.entity_id), ids))
    return or_(false(), *parts)


def _day_start(day: date) -> datetime:
    zone = ZoneInfo(get_settings().time_zone)
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _readable(session: Session, events: list[AuditEvent]) -> list[AuditLine]:
    ids = {e.user_id for e in events if e.user_id is not None}
    names = {u.id: u.full_name for u in session.exec(select(User).where(
        one_of(col(User.id), ids)))} if ids else {}
    zone = ZoneInfo(get_settings().time_zone)
    return [AuditLine(
        seq=e.seq, at_utc=e.at.astimezone(UTC), at_local=e.at.astimezone(zone),
        username=e.username,
        full_name=(names.get(e.user_id, f"unknown user id {e.user_id}")
                   if e.user_id is not None else "the system"),
        action=e.action, action_words=action_words(e.action), entity=e.entity,
        entity_id=e.entity_id, field=e.field, old=e.old_value, new=e.new_value,
        reason=e.reason) for e in events]
