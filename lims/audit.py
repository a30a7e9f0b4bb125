"""The append-only, keyed hash chain of audit events: one writer, one verifier.

Each event's hash is an HMAC-SHA-256, under the audit key (lims/audit_keys.py, never in
the database), of its own content and the previous event's hash, so editing, deleting,
reordering or forging any row breaks the chain from that row on, and only a holder of
the key can write an event that fits. Events are appended under a lock on the single
audit-head row, in the same transaction as the change they record. Deleting the newest
events and moving the head back leaves a consistent chain: the signed checkpoints kept
outside the database (lims/audit_checkpoints.py) catch that.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME
from sqlmodel import Session

from lims.audit_actions import AuditAction
from lims.audit_keys import AuditKey, current_key, keyring
from lims.models import AuditEvent, AuditHead
from lims.prepared import Prepared
from workflows.errors import InvalidInput
from workflows.typed_text import free_text_problem

GENESIS = "0" * 64


@dataclass(frozen=True)
class PendingEvent:
    action: AuditAction  # one enumeration of every kind of event (lims/audit_actions.py)
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


_FIELDS = ("seq", "at", "user_id", "username", "action", "entity", "entity_id", "field",
           "old_value", "new_value", "reason")


def event_hash(prev_hash: str, row: Mapping[Any, Any], key: AuditKey) -> str:
    """HMAC-SHA-256 under `key` of the event's fields and the previous event's hash."""
    fields = [row[name] for name in _FIELDS]
    fields[1] = fields[1].isoformat()
    text = _chain_text(prev_hash, fields, key.key_id)
    # One-shot HMAC (the same as key.mac() fed the text): no HMAC object per event.
    return hmac.digest(key.secret, text.encode(), "sha256").hex()


def _chain_text(prev_hash: str, fields: Sequence[Any], key_id: str) -> str:
    """What the chain hash covers, joined by unit separators: the previous hash, the
    eleven fields seq ... reason (the time as isoformat text) and the key id."""
    seq, at, user_id, username, action, entity, entity_id, field, old, new, reason = fields
    # None as NUL (as _text), written out: three calls fewer per event verified.
    return "\x1f".join((prev_hash, str(seq), at, str(user_id or ""), username, action,
                        entity, entity_id, field, "\x00" if old is None else old,
                        "\x00" if new is None else new, "\x00" if reason is None else reason,
                        key_id))


def _text(value: str | None) -> str:
    # Distinguish None from "" so blanking a value is not a silent no-op for the chain.
    return "\x00" if value is None else value


_HEAD: Table = AuditHead.__table__  # type: ignore[attr-defined]
_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT = insert(_EVENTS)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1)
_SQLITE_HEAD = Prepared(_LOCK_HEAD)
_SQLITE_INSERT = Prepared(_INSERT, ("seq", "at", "user_id", "username", "action", "entity",
                                    "entity_id", "field", "old_value", "new_value", "reason",
                                    "key_id", "prev_hash", "hash"))
_SQLITE_MOVE_HEAD = Prepared(_MOVE_HEAD, ("last_seq", "last_hash"))


def _refuse_unreadable_reasons(events: list[PendingEvent]) -> None:
    """Every reason a person gives reaches the trail here: one place refuses a control
    character (a NUL, an escape) or a direction override in it, whichever form or client
    sent it, before anything is written (the caller's transaction rolls back)."""
    for event in events:
        problem = free_text_problem(event.reason, lines=True) if event.reason else None
        if problem:
            raise InvalidInput(f"the reason given: {problem}")


def append(session: Session, events: list[PendingEvent], *, user_id: int | None,
           username: str) -> None:
    """Append `events` to the chain inside the caller's transaction (never commits).

    The time is the server's clock when the event is written, never a time the user
    entered: when something happened is step data, when it was recorded is audit.
    """
    if not events:
        return
    _refuse_unreadable_reasons(events)
    at = datetime.now(UTC)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        _append_postgresql(conn, events, at, user_id, username)
        return
    # SQLite: statements compiled once and run on the driver's cursor (lims.prepared); the
    # database is already locked for this writer (BEGIN IMMEDIATE, lims.db).
    head = _SQLITE_HEAD.first(conn, {})
    if head is None:
        raise RuntimeError("audit head missing: run `lims init` (migrations) first")
    seq, prev = head["last_seq"], head["last_hash"]
    key = current_key()
    rows = []
    for event in events:
        seq += 1
        row = {"seq": seq, "at": at, "user_id": user_id, "username": username,
               "action": event.action, "entity": event.entity, "entity_id": event.entity_id,
               "field": event.field, "old_value": canonical(event.old),
               "new_value": canonical(event.new), "reason": event.reason,
               "key_id": key.key_id}
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(prev, row, key)
        rows.append(row)
    _SQLITE_INSERT.execute_many(conn, rows)
    _SQLITE_MOVE_HEAD.execute(conn, {"last_seq": seq, "last_hash": prev})


# PostgreSQL: the head row's lock serialises every writer of every process, so the time it
# is held is the ceiling on transitions per second. It is held for two round trips and no
# SQLAlchemy work (prebuilt driver statements): the lock with the head's values, then the
# events and the head's move in one statement; the caller commits next.
_PG_LOCK_HEAD = "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE"
_PG_COLUMNS = ("seq", "at", "user_id", "username", "action", "entity", "entity_id", "field",
               "old_value", "new_value", "reason", "key_id", "prev_hash", "hash")
_PG_ROW = "(" + ", ".join(["%s"] * len(_PG_COLUMNS)) + ")"
_PG_APPEND: dict[int, str] = {}


def _pg_append_sql(n: int) -> str:
    """WITH appended AS (INSERT n events) UPDATE the head: one statement per batch size."""
    sql = _PG_APPEND.get(n)
    if sql is None:
        sql = _PG_APPEND[n] = (
            f"WITH appended AS (INSERT INTO audit_event ({', '.join(_PG_COLUMNS)}) VALUES "
            f"{', '.join([_PG_ROW] * n)}) "
            "UPDATE audit_head SET last_seq = %s, last_hash = %s WHERE id = 1")
    return sql


def _append_postgresql(conn: Connection, events: list[PendingEvent], at: datetime,
                       user_id: int | None, username: str) -> None:
    key = current_key()
    # Everything that does not depend on the head is prepared before its lock is taken.
    texts = [(str(event.action), event.entity, event.entity_id, event.field,
              canonical(event.old), canonical(event.new), event.reason) for event in events]
    sql = _pg_append_sql(len(texts))
    at_text = at.isoformat()
    head = conn.exec_driver_sql(_PG_LOCK_HEAD).first()
    if head is None:
        raise RuntimeError("audit head missing: run `lims init` (migrations) first")
    seq, prev = head
    params: list[Any] = []
    for action, entity, entity_id, field, old, new, reason in texts:
        seq += 1
        digest = hmac.digest(key.secret, _chain_text(prev, (
            seq, at_text, user_id, username, action, entity, entity_id, field, old, new,
            reason), key.key_id).encode(), "sha256").hex()
        params += (seq, at, user_id, username, action, entity, entity_id, field, old, new,
                   reason, key.key_id, prev, digest)
        prev = digest
    conn.exec_driver_sql(sql, (*params, seq, prev))


@dataclass(frozen=True)
class ChainReport:
    events: int
    first_broken_seq: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session: Session, batch: int = 20000,
                 keys: dict[str, AuditKey] | None = None, after: tuple[int, str] = (0, GENESIS),
                 visit: Callable[[tuple[Any, ...]], None] | None = None,
                 advance: Callable[[int], None] | None = None) -> ChainReport:
    """Recompute every keyed hash in order; report the first event that does not fit.

    `after` = (sequence, its chain hash) checks only the events after an event already
    vouched for (a signed checkpoint's): what a new checkpoint needs. `visit` is given
    each event that fits, in order, as its eleven fields (seq ... reason, the time as
    isoformat text): the Merkle tree is built in the same read. `advance` is told how many
    events were checked after each batch (progress)."""
    keys = keyring() if keys is None else keys
    # HMACs with each key already absorbed: a copy per event costs half of
    # hmac.digest(), which sets the key up again for every event.
    macs = {key_id: hmac.new(key.secret, digestmod=hashlib.sha256) for key_id, key in keys.items()}
    (last, prev), count = after, 0
    for *fields, prev_hash, digest, key_id in event_rows(session, last, batch,
                                                         advance=advance):
        count += 1
        fields[1] = stored_time_text(fields[1])
        mac = macs.get(key_id or "")
        if mac is not None:
            mac = mac.copy()
            mac.update(_chain_text(prev, fields, key_id).encode())
        if (fields[0] != last + 1 or prev_hash != prev or mac is None
                or not hmac.compare_digest(mac.hexdigest(), digest)):
            return ChainReport(count, min(fields[0], last + 1), _event_problem(
                fields[0], last + 1, prev_hash == prev, key_id, mac is not None))
        if visit is not None:
            visit(tuple(fields))
        prev, last = digest, fields[0]
    head = session.get(AuditHead, 1)
    if head is None:
        return ChainReport(count, None, "audit head is missing")
    return ChainReport(count, *_head_problem(head, last, prev))


_ROWS = ("SELECT seq, at, user_id, username, action, entity, entity_id, field, old_value, "
         "new_value, reason, prev_hash, hash, key_id FROM audit_event WHERE seq > {after}")


def event_rows(conn: Connection | Session, after: int = 0, batch: int = 20000,
               upto: int | None = None, *, advance: Callable[[int], None] | None = None
               ) -> Iterator[Any]:
    """Events after+1..upto, in order, as the driver returns them (no SQLAlchemy type
    processing: a third of the time at a million events; the time via stored_time_text),
    streamed in batches: seq ... reason, prev_hash, hash, key_id. `advance(n)` is called
    once a batch of n rows has been consumed (progress, never per row)."""
    # Flattened in C: no generator step per row.
    return itertools.chain.from_iterable(_batches(conn, after, batch, upto, advance))


def _batches(conn: Connection | Session, after: int, batch: int, upto: int | None,
             advance: Callable[[int], None] | None = None) -> Iterator[Sequence[Any]]:
    sql = _ROWS.format(after=int(after))
    if upto is not None:
        sql += f" AND seq <= {int(upto)}"
    conn = conn.connection() if isinstance(conn, Session) else conn
    driver = conn.connection.driver_connection
    # The driver's own cursor in the same transaction: plain tuples, not Row objects
    # (an eighth of the time); on PostgreSQL a server-side one, to stream the rows.
    named = {"name": "audit_event_rows"} if conn.dialect.name == "postgresql" else {}
    with closing(driver.cursor(**named)) as cursor:  # type: ignore[union-attr]
        cursor.execute(sql + " ORDER BY seq")
        while rows := cursor.fetchmany(batch):
            yield rows
            if advance is not None:  # the batch has been consumed
                advance(len(rows))


# How SQLAlchemy stores a UTC time in SQLite (the driver returns that text).
_SQLITE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", re.ASCII)
_SQLITE_PARSE: Callable[[str], datetime] = DATETIME().result_processor(  # type: ignore[assignment,no-untyped-call]
    sqlite.dialect(), None)


def stored_time_text(at: datetime | str) -> str:
    """The isoformat of the event's UTC time (what the writer hashed), from the driver's
    value: a datetime (PostgreSQL) or SQLite's stored text, rewritten without parsing
    when in SQLAlchemy's own format (any other text parsed as SQLAlchemy would)."""
    if isinstance(at, str):
        if _SQLITE_TIME.fullmatch(at):
            tail = at[11:19] if at.endswith(".000000") else at[11:]
            return f"{at[:10]}T{tail}+00:00"
        return stored_time_text(_SQLITE_PARSE(at))
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).isoformat()


def _event_problem(seq: int, expected_seq: int, linked: bool, key_id: str | None,
                   key_known: bool) -> str:
    if seq != expected_seq:
        return f"event {expected_seq} is missing (next present is {seq})"
    if not linked:
        return f"event {seq} does not link to event {seq - 1}"
    if not key_known:
        return (f"event {seq} was not chained with a known audit key (key id "
                f"{key_id or 'none'}): forged, or written with a key not configured")
    return f"event {seq} was altered after writing, or forged without the audit key"


def _head_problem(head: AuditHead, last: int, last_hash: str) -> tuple[int | None, str | None]:
    """The audit head must name the last event: events beyond it were appended behind the
    system's back; a head beyond the last event means the newest events were deleted."""
    if head.last_seq < last:
        return head.last_seq + 1, (f"events {head.last_seq + 1} to {last} were appended "
                                   f"beyond the audit head (head says {head.last_seq})")
    if head.last_seq > last:
        return last + 1, f"events after {last} were deleted (head says {head.last_seq})"
    if head.last_hash != last_hash:
        return last or None, (f"the audit head does not match event {last}: the trail was "
                              f"rewritten (head says {head.last_seq}, with another hash)")
    return None, None
