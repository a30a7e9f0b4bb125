"""Every administration rests on the administering physician's own signature at the bedside.

Valid: a signature row that still matches the event that recorded it, meaning
"Administered", over the administration's step record as it is now, made by the physician
who performed the step (its operator, a physician). An administration recorded before the
system ever made a bedside signature (old data, before migration c3e91f07ab52 added it)
is told as not signed, not as tampering: the rule did not exist when it was recorded.
Once the system has made one, every later administration without one is a break.
"""

from __future__ import annotations

from sqlmodel import Session, select

from lims.audit import content_hash
from lims.audit_actions import AuditAction as A
from lims.models import Signature, StepRecord, User
from lims.services.audit_trail_index import Event, Trail
from lims.services.common import rows_by_id
from lims.services.state_replay import Replay
from lims.services.steps import step_content
from lims.services.verdicts import Problem
from workflows.roles import Role

ADMINISTERED = "Administered"
EXPECTED = ("a valid 'Administered' signature of the physician who administered it, over "
            "the administration's record")
UNSIGNED_OLD = "not signed (recorded before e-signatures at the bedside)"


def check_administrations(session: Session, trail: Trail, replay: Replay) -> list[Problem]:
    if not replay.administrations:
        return []
    signed: dict[str, list[Event]] = {}
    for event in trail.each(A.SIGNED):
        if event.entity == "step_record" and event.new_json().get("meaning") == ADMINISTERED:
            signed.setdefault(event.entity_id, []).append(event)
    problems = []
    to_check: list[tuple[str, Event, list[Event]]] = []
    recorded: dict[int, Event] = {}
    size = trail.chunk  # administrations whose events, signatures and records are read together
    for number, change in enumerate(replay.administrations):
        if number % size == 0:  # the step record of an administration is written in the
            # same append, just after it: those of a chunk of administrations in one read
            recorded = trail.at({c.seq + 1 for c in replay.administrations[number:number + size]},
                                A.STEP_RECORDED)
        where = f"event {change.seq} (product {change.entity_id}: {change.old} → {change.new})"
        step = recorded.get(change.seq + 1)
        if step is None or step.field != "administer":
            problems.append(Problem(where, "administration record",
                                    "the administration's step record, written with it",
                                    "none: the state was changed without the step"))
            continue
        own = signed.get(step.entity_id, [])
        if not own and not replay.signed_before(ADMINISTERED, change.seq):
            problems.append(Problem(where, "physician's signature", EXPECTED, UNSIGNED_OLD,
                                    before_rule=True))
            continue
        to_check.append((where, step, own))
    users = {u.id: u for u in session.exec(select(User))}
    # The signatures and step records of a chunk of administrations in two statements,
    # not two per administration (100 s at 50,000 administrations).
    for start in range(0, len(to_check), size):
        chunk = to_check[start:start + size]
        signatures = rows_by_id(session, Signature, {own[-1].signature_id()
                                                     for _w, _s, own in chunk if own})
        records = rows_by_id(session, StepRecord, {_record_id(step) for _w, step, _o in chunk})
        for where, step, own in chunk:
            found = _problem(signatures, records, users, step, own)
            if found is not None:
                problems.append(Problem(where, "physician's signature", EXPECTED, found))
    return problems


def _record_id(step: Event) -> int:
    return int(step.entity_id) if step.entity_id.isdigit() else 0


def _problem(signatures: dict[int, Signature], records: dict[int, StepRecord],
             users: dict[int | None, User], step: Event, own: list[Event]) -> str | None:
    if not own:
        return f"no 'Administered' signature over step record {step.entity_id}"
    event = own[-1]
    signature = signatures.get(event.signature_id())
    if signature is None:
        return f"the signature recorded by event {event.seq} no longer exists"
    record = records.get(_record_id(step))
    if record is None:
        return f"step record {step.entity_id} no longer exists"
    return (_row_problem(signature, event, record)
            or _signer_problem(users, signature, record))


def _row_problem(signature: Signature, event: Event, record: StepRecord) -> str | None:
    if signature.meaning != ADMINISTERED:
        return f"signature {signature.id} now means '{signature.meaning}'"
    if signature.user_id != event.user_id:
        return f"signature {signature.id} now names user {signature.user_id} as signer"
    if (signature.record_type, signature.record_id, signature.product_id) != (
            "step_record", str(record.id), record.product_id):
        return f"signature {signature.id} now belongs to another record"
    if signature.record_hash != event.reason:
        return f"signature {signature.id} now covers another record hash"
    if signature.record_hash != content_hash(step_content(record)):
        return (f"signature {signature.id}: the administration's record no longer matches "
                "what the physician signed")
    return None


def _signer_problem(users: dict[int | None, User], signature: Signature,
                    record: StepRecord) -> str | None:
    signer = users.get(signature.user_id)
    if signer is None or signer.role != Role.PHYSICIAN:
        role = signer.role if signer else "no user"
        return f"signature {signature.id} was made by a {role}, not a physician"
    if signer.id != record.operator_id:
        operator = users.get(record.operator_id)
        return (f"signature {signature.id} is {signer.full_name}'s, but "
                f"{operator.full_name if operator else 'another user'} administered it")
    return None
