"""What an attacker with write access to the database does to the audit trail: the moves
the keyed-chain and checkpoint tests make (each one SQL statement a DBA could type)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, delete, insert, text, update
from sqlmodel import Session

from lims.audit import GENESIS, event_hash
from lims.audit_keys import AuditKey
from lims.models import AuditEvent, AuditHead
from lims.services.verification import verify_all

EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
HEAD: Table = AuditHead.__table__  # type: ignore[attr-defined]


def drop_append_only_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event"))


def last_event(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(EVENTS.select().order_by(EVENTS.c.seq.desc())
                                 .limit(1)).mappings().one())


def event_at(engine: Engine, seq: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(EVENTS.select().where(EVENTS.c.seq == seq)).mappings().one())


def unkeyed_hash(prev: str, row: dict[str, Any]) -> str:
    """The chain hash as it was before it was keyed: plain SHA-256, computable by anyone."""
    parts = [prev, str(row["seq"]), row["at"].isoformat(), str(row["user_id"] or ""),
             row["username"], row["action"], row["entity"], row["entity_id"], row["field"],
             "\x00" if row["old_value"] is None else row["old_value"],
             "\x00" if row["new_value"] is None else row["new_value"],
             "\x00" if row["reason"] is None else row["reason"]]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def forge_event(engine: Engine, *, key: AuditKey | None, key_id: str, move_head: bool = True,
                entity_id: str = "X999926000001", new_value: str = "released") -> int:
    """Append an event after the last one, correctly linked, its hash under `key` (None: the
    unkeyed SHA-256), claiming `key_id`; then move the audit head to it. Returns its seq."""
    last = last_event(engine)
    row = {"seq": last["seq"] + 1, "at": datetime.now(UTC), "user_id": None,
           "username": "mallory", "action": "state_changed", "entity": "product",
           "entity_id": entity_id, "field": "state", "old_value": "received",
           "new_value": new_value, "reason": None, "prev_hash": last["hash"], "key_id": key_id}
    row["hash"] = (unkeyed_hash(last["hash"], row) if key is None
                   else event_hash(last["hash"], row, key))
    with engine.begin() as conn:
        conn.execute(insert(EVENTS).values(**row))
        if move_head:
            conn.execute(update(HEAD).where(HEAD.c.id == 1)
                         .values(last_seq=row["seq"], last_hash=row["hash"]))
    return int(row["seq"])


def cut_tail(engine: Engine, keep: int) -> None:
    """Delete every event after `keep` and move the head back to it: a consistent chain."""
    drop_append_only_triggers(engine)
    with engine.begin() as conn:
        kept = conn.execute(EVENTS.select().where(EVENTS.c.seq == keep)).mappings().first()
        conn.execute(delete(EVENTS).where(EVENTS.c.seq > keep))
        conn.execute(update(HEAD).where(HEAD.c.id == 1).values(
            last_seq=keep, last_hash=kept["hash"] if kept else GENESIS))


def rechain_from(engine: Engine, start: int, key: AuditKey) -> None:
    """Rewrite event `start` (its username) and re-chain every later one under `key`
    (an insider who has the key), moving the head to the new last hash."""
    drop_append_only_triggers(engine)
    with engine.begin() as conn:
        rows = conn.execute(EVENTS.select().where(EVENTS.c.seq >= start)
                            .order_by(EVENTS.c.seq)).mappings().all()
        prev = rows[0]["prev_hash"]
        for row in rows:
            new = dict(row)
            if row["seq"] == start:
                new["username"] = "mallory"
            new["prev_hash"] = prev
            new["hash"] = prev = event_hash(prev, new, key)
            conn.execute(update(EVENTS).where(EVENTS.c.seq == row["seq"]).values(
                username=new["username"], prev_hash=new["prev_hash"], hash=new["hash"]))
        conn.execute(update(HEAD).where(HEAD.c.id == 1).values(last_hash=prev))


def broken(session: Session) -> list[str]:
    """The BROKEN lines of a verification that must fail."""
    session.close()
    report = verify_all(session)
    assert not report.ok, report.lines
    return [line for line in report.lines if line.startswith("BROKEN")]


def intact(session: Session) -> list[str]:
    session.close()
    report = verify_all(session)
    assert report.ok, report.lines
    return report.lines
