"""The append-only, hash-chained audit trail: one writer, one verifier.

Each event's hash covers its own content and the previous event's hash, so
editing, deleting or reordering any row breaks the chain from that row on.
Events are appended under a lock on the single audit-head row, in the same
transaction as the change they record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlmodel import Session

from lims.models import AuditEvent, AuditHead

GENESIS = "0" * 64


@dataclass(frozen=True)
class PendingEvent:
    action: str
    entity: str
    entity_id: str
    field: str = ""
    old: Any = None
    new: Any = None
    reason: str | None = None


def canonical(value: Any) -> str | None:
    """A stable text form of a value, so the hash recomputes identically from the database."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(value: Any) -> str:
    return hashlib.sha256((canonical(value) or "").encode()).hexdigest()


def event_hash(prev_hash: str, row: dict[str, Any]) -> str:
    parts = [prev_hash, str(row["seq"]), row["at"].isoformat(), str(row["user_id"] or ""),
             row["username"], row["action"], row["entity"], row["entity_id"], row["field"],
             _text(row["old_value"]), _text(row["new_value"]), _text(row["reason"])]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _text(value: str | None) -> str:
    # Distinguish None from "" so blanking a value is not a silent no-op for the chain.
    return "\x00" if value is None else value


_HEAD: Table = AuditHead.__table__  # type: ignore[attr-defined]
_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT = insert(_EVENTS)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1)


def append(session: Session, events: list[PendingEvent], *, user_id: int | None,
           username: str) -> None:
    """Append `events` to the chain inside the caller's transaction (never commits).

    The time is the server's clock when the event is written, never a time the user
    entered: when something happened is step data, when it was recorded is audit.
    """
    if not events:
        return
    at = datetime.now(UTC)
    conn = session.connection()
    head = conn.execute(_LOCK_HEAD).one_or_none()
    if head is None:
        raise RuntimeError("audit head missing: run `lims init` (migrations) first")
    seq, prev = head
    rows = []
    for event in events:
        seq += 1
        row = {"seq": seq, "at": at, "user_id": user_id, "username": username,
               "action": event.action, "entity": event.entity, "entity_id": event.entity_id,
               "field": event.field, "old_value": canonical(event.old),
               "new_value": canonical(event.new), "reason": event.reason}
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(prev, row)
        rows.append(row)
    conn.execute(_INSERT, rows)
    conn.execute(_MOVE_HEAD.values(last_seq=seq, last_hash=prev))


@dataclass(frozen=True)
class ChainReport:
    events: int
    first_broken_seq: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; report the first event that does not fit."""
    prev, expected_seq, count, last = GENESIS, 1, 0, 0
    query = select(AuditEvent).order_by(AuditEvent.seq)  # type: ignore[arg-type]
    for event in session.scalars(query.execution_options(yield_per=batch)):
        count += 1
        row = event.model_dump()
        if event.seq != expected_seq:
            return ChainReport(count, event.seq,
                               f"event {expected_seq} is missing (next present is {event.seq})")
        if event.prev_hash != prev:
            return ChainReport(count, event.seq,
                               f"event {event.seq} does not link to event {event.seq - 1}")
        if event_hash(prev, row) != event.hash:
            return ChainReport(count, event.seq, f"event {event.seq} was altered after writing")
        prev, expected_seq, last = event.hash, expected_seq + 1, event.seq
    head = session.get(AuditHead, 1)
    if head is None:
        return ChainReport(count, None, "audit head is missing")
    if head.last_seq != last or head.last_hash != prev:
        return ChainReport(count, last + 1,
                           f"events after {last} were deleted (head says {head.last_seq})")
    return ChainReport(count, None, None)
