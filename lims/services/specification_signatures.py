"""Every approved specification version rests on its approval, and its limits are the ones
approved.

Valid: the row's approval matches the event that recorded it (approver, hash, effective time),
and its limits still hash to the approved hash; an approved version names its approver (QA's
signature, or the system's for version 1 from the protocol defaults). A version made before
versions needed approval (migration f5b2d8e1c374 counts it approved, with no signature) is
told as such, not as tampering. A draft or withdrawn version the trail says was approved
had its approval undone outside the system.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from lims.audit import content_hash
from lims.audit_actions import AuditAction as A
from lims.models import SpecificationSet
from lims.services.audit_trail_index import Event, Trail
from lims.services.specifications import version_name
from lims.services.verdicts import Problem, unaudited_row
from workflows.specifications import SYSTEM_APPROVER, SpecificationStatus

EXPECTED = "limits that hash to the approved hash, and an approver"


def check_specifications(session: Session, trail: Trail) -> list[Problem]:
    approvals = _by_version(trail.of(A.SPECIFICATION_APPROVED))
    made = _by_version(trail.of(A.SPECIFICATION_CREATED, A.SPECIFICATION_CHANGED,
                                A.SPECIFICATION_DRAFTED))
    problems: list[Problem] = []
    for row in session.exec(select(SpecificationSet).order_by(col(SpecificationSet.id))):
        where = f"specification {version_name(row)}"
        key = (row.protocol_id, version_name(row))
        approval = approvals.get(key) or approvals.get((None, version_name(row)))
        creation = made.get(key) or made.get((None, version_name(row)))
        if creation is None:
            problems.append(unaudited_row(where, A.SPECIFICATION_DRAFTED))
            continue
        if row.status != SpecificationStatus.APPROVED:
            if approval is not None:
                problems.append(Problem(where, "status", f"approved (event {approval.seq})",
                                        f"{row.status}: the approval was undone outside the "
                                        "system"))
            continue
        problems += _approved_problems(row, where, approval, creation)
    return problems


def _by_version(events: list[Event]) -> dict[tuple[int | None, str], Event]:
    """The last event per (protocol, version name); events before the protocol was written
    into them (creation events) under protocol None."""
    found: dict[tuple[int | None, str], Event] = {}
    for event in events:
        protocol = event.new_json().get("protocol_id")
        found[(protocol if isinstance(protocol, int) else None, event.entity_id)] = event
    return found


def _approved_problems(row: SpecificationSet, where: str, approval: Event | None,
                       creation: Event) -> list[Problem]:
    if approval is None:
        if creation.action != A.SPECIFICATION_DRAFTED and not row.approved_hash \
                and row.approved_by_id is None:
            return [Problem(where, "approval", EXPECTED, "in force without a QA signature "
                            "(made before specification changes needed approval)",
                            before_rule=True)]
        return [Problem(where, "approval", "a QA approval event for this version",
                        "none: the version was marked approved outside the system")]
    recorded = approval.new_json()
    problems = []
    if row.approved_by_id is None and not (approval.user_id is None
                                           and row.approved_printed_name == SYSTEM_APPROVER):
        problems.append(Problem(where, "approver", f"the approver of event {approval.seq}",
                                "none: an approved version without approver"))
    elif row.approved_by_id != approval.user_id:
        problems.append(Problem(where, "approver", f"user {approval.user_id} "
                                f"(event {approval.seq})", f"user {row.approved_by_id}"))
    if row.approved_hash != recorded.get("approved_hash"):
        problems.append(Problem(where, "approved hash", f"{recorded.get('approved_hash')} "
                                f"(event {approval.seq})", row.approved_hash or "none"))
    actual = content_hash(row.limits)
    if actual != row.approved_hash:
        problems.append(Problem(where, "limits", "the limits QA approved (hash "
                                f"{row.approved_hash[:12]}…)", f"limits hashing to "
                                f"{actual[:12]}…: changed after approval"))
    if row.effective_from != _moment(recorded.get("effective_from")):
        effective = row.effective_from.isoformat() if row.effective_from else "none"
        problems.append(Problem(where, "effective from", f"{recorded.get('effective_from')} "
                                f"(event {approval.seq})", effective))
    return problems


def _moment(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None
