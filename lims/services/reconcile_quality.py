"""Signature, label-print, deviation and user rows reconciled with their events, both ways."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction as A
from lims.models import Alert, Container, Deviation, PrintJob, Product, Signature, User
from lims.services.audit_trail_index import Event, Trail, absent
from lims.services.common import chunks_of, ids_present
from lims.services.verdicts import Problem, missing_row, unaudited_row
from lims.sql_lists import one_of
from workflows.words import action_words, label_kind_words

# The columns each check compares (plain rows, no ORM objects); the id first.
_SIGNATURE = (col(Signature.id), col(Signature.meaning), col(Signature.record_type),
              col(Signature.record_id), col(Signature.user_id), col(Signature.product_id),
              col(Signature.record_hash))
_PRINT_JOB = (col(PrintJob.id), col(PrintJob.container_id), col(PrintJob.label_kind),
              col(PrintJob.serial), col(PrintJob.format), col(PrintJob.content_hash),
              col(PrintJob.reprint))
_CONTAINER_REF = (col(Container.id), col(Container.product_id), col(Container.product_code),
                  col(Container.flags))
_DEVIATION = (col(Deviation.id), col(Deviation.step), col(Deviation.kind),
              col(Deviation.description), col(Deviation.classification), col(Deviation.status),
              col(Deviation.disposition))
_ALERT = (col(Alert.id), col(Alert.kind), col(Alert.message), col(Alert.acknowledged_by_id),
          col(Alert.acknowledged_at))


def _compare(where: str, source: str, pairs: list[tuple[str, Any, Any]]) -> list[Problem]:
    return [Problem(where, what, f"{expected} ({source})", str(found))
            for what, expected, found in pairs if expected != found]


def reconcile_signatures(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    signed = {str(e.new_json().get("signature_id")): e for e in trail.each(A.SIGNED)}
    users = {u.id: u for u in session.exec(select(User))}
    for row in (row for rows in chunks_of(session, _SIGNATURE, trail.chunk) for row in rows):
        where = f"signature {row.id} ({row.meaning}, {record_words(row.record_type)} " \
                f"{row.record_id})"
        event = signed.get(str(row.id))
        if event is None:
            problems.append(unaudited_row(where, A.SIGNED))
            continue
        recorded = event.new_json()
        problems += _compare(where, f"event {event.seq}", [
            ("meaning", recorded.get("meaning"), row.meaning),
            ("signer", f"{_printed(recorded.get('signer'), users.get(event.user_id))}, "
                       f"user {event.user_id}",
             f"{_name(users.get(row.user_id))}, user {row.user_id}"),
            ("signed record", f"{record_words(event.entity)} {event.entity_id}",
             f"{record_words(row.record_type)} {row.record_id}"),
            ("product (id)", recorded.get("product_id"), row.product_id),
            ("record hash", event.reason, row.record_hash)])
    problems += [missing_row(f"signature {key} ({e.new_json().get('meaning')}, "
                             f"{record_words(e.entity)} {e.entity_id})", e.seq, e.action)
                 for key, e in absent(signed.items(), ids_present(session, Signature),
                                      trail.chunk)]
    return problems


def _printed(recorded: object, user: User | None) -> str:
    """The printed name a signature event recorded ("Full Name (username)" is the machine
    record; people read the name). The account is checked by its id beside it."""
    text = str(recorded)
    if user is not None and text.endswith(f" ({user.username})"):
        return text[:-len(user.username) - 3]
    return text


def _name(user: User | None) -> str:
    return user.full_name if user is not None else "no such user"


def record_words(entity: str) -> str:
    """A kind of record as people name it: "step_record" -> "step record"."""
    return entity.replace("_", " ")


def reconcile_prints(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    printed = {str(e.new_json().get("print_job")): e
               for e in trail.each(A.LABEL_PRINTED, A.LABEL_REPRINTED)}
    dins = dict(session.exec(select(Product.id, Product.din)).all())
    for jobs in chunks_of(session, _PRINT_JOB, trail.chunk):
        containers = session.connection().execute(select(*_CONTAINER_REF).where(
            one_of(col(Container.id), sorted({job.container_id for job in jobs}))))
        refs = {c.id: f"{dins.get(c.product_id)}/{c.product_code}/{c.flags}"
                for c in containers}
        for job in jobs:
            problems += _print_problems(job, printed.get(str(job.id)), refs)
    problems += [missing_row(f"label print {key} ({e.entity_id})", e.seq, e.action)
                 for key, e in absent(printed.items(), ids_present(session, PrintJob),
                                      trail.chunk)]
    return problems


def _print_problems(job: Row[Any], event: Event | None,
                    refs: dict[int | None, str]) -> list[Problem]:
    where = f"label print {job.id} ({label_kind_words(job.label_kind)}, serial {job.serial})"
    if event is None:
        return [unaudited_row(where, A.LABEL_PRINTED)]
    recorded = event.new_json()
    return _compare(where, f"event {event.seq}", [
        ("container", event.entity_id, refs.get(job.container_id)),
        ("label kind", recorded.get("kind"), job.label_kind),
        ("serial", recorded.get("serial"), job.serial),
        ("format", recorded.get("format"), job.format),
        ("printed content hash", recorded.get("content_hash"), job.content_hash),
        ("reprint", event.action == A.LABEL_REPRINTED, job.reprint)])


def reconcile_deviations(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    raised = trail.first(A.DEVIATION_RAISED)
    closed = trail.latest(A.DEVIATION_CLOSED)
    for row in (row for rows in chunks_of(session, _DEVIATION, trail.chunk) for row in rows):
        where = f"deviation {row.id} ({action_words(row.step)})"
        event = raised.get(str(row.id))
        if event is None:
            problems.append(unaudited_row(where, A.DEVIATION_RAISED))
            continue
        said = row.description if row.kind == "manual" else f"{row.kind}: {row.description}"
        close = closed.get(str(row.id))
        problems += _compare(where, f"event {event.seq}", [
            ("classification", event.new, row.classification),
            ("description", event.reason, said[:2000])])
        problems += _compare(where, f"event {close.seq}" if close else "no closing event", [
            ("status", "closed" if close else "open", row.status),
            ("disposition", close.reason if close else None, row.disposition)])
    problems += [missing_row(f"deviation {key}", e.seq, e.action)
                 for key, e in absent(raised.items(), ids_present(session, Deviation),
                                      trail.chunk)]
    return problems


def reconcile_alerts(session: Session, trail: Trail) -> list[Problem]:
    """A post-release alert may be neither hidden nor acknowledged behind the system's back."""
    problems: list[Problem] = []
    raised = trail.first(A.ALERT_RAISED)
    acknowledged = {e.entity_id: e for e in trail.each(A.SIGNED)
                    if e.entity == "alert" and e.new_json().get("meaning") == "Acknowledged"}
    for alert in (row for rows in chunks_of(session, _ALERT, trail.chunk) for row in rows):
        where = f"alert {alert.id} ({alert.kind})"
        event = raised.get(str(alert.id))
        if event is None:
            problems.append(unaudited_row(where, A.ALERT_RAISED))
            continue
        ack = acknowledged.get(str(alert.id))
        problems += _compare(where, f"event {event.seq}", [
            ("kind", event.new, alert.kind), ("message", event.reason, alert.message)])
        problems += _compare(where, f"event {ack.seq}" if ack else "no acknowledging signature",
                             [("acknowledged by (user id)", ack.user_id if ack else None,
                               alert.acknowledged_by_id if alert.acknowledged_at else None)])
    problems += [missing_row(f"alert {key} ({e.new})", e.seq, e.action)
                 for key, e in absent(raised.items(), ids_present(session, Alert),
                                      trail.chunk)]
    return problems


def reconcile_users(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    created = trail.first(A.USER_CREATED)
    # The role is the one created or, after an administrator's change, the last one given.
    # Locks come and go only by these two events, and an account is active unless its last
    # of the other two says not.
    roles = trail.latest(A.USER_CREATED, A.USER_ROLE_CHANGED, field="role")
    locks = trail.latest(A.ACCOUNT_LOCKED, A.ACCOUNT_UNLOCKED)
    uses = trail.latest(A.ACCOUNT_DEACTIVATED, A.ACCOUNT_REACTIVATED)
    updates = {name: trail.latest(A.USER_UPDATED, field=name) for name in ("full_name", "email")}
    seen = set()
    for user in session.exec(select(User)):
        where = f"user {user.username}"
        seen.add(user.username)
        if user.username not in created:
            problems.append(unaudited_row(where, A.USER_CREATED))
            continue
        problems += _user_problems(user, where, roles[user.username], locks.get(user.username),
                                   uses.get(user.username))
        for name, latest in updates.items():
            event = latest.get(user.username)
            if event is not None:
                problems += _compare(where, f"event {event.seq}",
                                     [(name, event.new or "", getattr(user, name))])
    problems += [missing_row(where=f"user {key}", event_seq=e.seq, action=e.action)
                 for key, e in created.items() if key not in seen]
    return problems


def _user_problems(user: User, where: str, role: Event, lock: Event | None,
                   use: Event | None) -> list[Problem]:
    locked = lock is not None and lock.action == A.ACCOUNT_LOCKED
    deactivated = use is not None and use.action == A.ACCOUNT_DEACTIVATED
    return [
        *_compare(where, f"event {role.seq}", [("role", role.new, user.role)]),
        *_compare(where, f"event {lock.seq}" if lock else "never locked",
                  [("account", "locked" if locked else "not locked",
                    "locked" if user.locked_at is not None else "not locked")]),
        *_compare(where, f"event {use.seq}" if use else "never deactivated",
                  [("account", "deactivated" if deactivated else "active",
                    "active" if user.active else "deactivated")]),
    ]
