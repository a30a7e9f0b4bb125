"""Versioned release specifications: a change is drafted, approved by QA's electronic
signature and in force from its effective time; a product keeps the version it was made under.

A draft takes no effect. QA approves it by re-entering user name and password; the approval
records the printed name, the time, the meaning "Approved" and the hash of the limits it
signs, so an edit of approved limits is found by `lims audit verify`. The author of a draft
never approves it (four eyes). Only one draft per arm is open at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from lims.audit import PendingEvent, append, content_hash
from lims.audit_actions import AuditAction
from lims.models import Product, Protocol, ProtocolArm, SpecificationSet, User
from lims.services.common import get_or_404, parameters_of, require_role, required_reason, utcnow
from lims.services.signatures import authenticate_signer
from lims.sql_lists import one_of
from workflows.errors import Conflict, DomainError, ErrorCode, InvalidInput, NotFound
from workflows.protocol import ProtocolParameters
from workflows.roles import Role
from workflows.specification_limits import specification_problem
from workflows.specifications import (
    APPROVAL_MEANING,
    SYSTEM_APPROVER,
    Specification,
    SpecificationStatus,
    default_specification,
)

SPEC_ROLES = frozenset({Role.ADMIN, Role.QA})  # draft and withdraw
APPROVER_ROLES = frozenset({Role.QA})  # approve, by electronic signature
S = SpecificationStatus
ENTITY = "specification_set"


def version_name(row: SpecificationSet) -> str:
    """"CD133 v2": how a version is named in the trail, the batch record and messages."""
    return f"{row.arm} v{row.version}"


def current_specification_set(session: Session, protocol_id: int, arm: str,
                              at: datetime | None = None) -> SpecificationSet:
    """The version in force at `at` (now): the latest approved one already effective."""
    row = session.exec(select(SpecificationSet).where(
        SpecificationSet.protocol_id == protocol_id, SpecificationSet.arm == arm,
        SpecificationSet.status == S.APPROVED, col(SpecificationSet.effective_from).is_not(None),
        col(SpecificationSet.effective_from) <= (at or utcnow()),
    ).order_by(col(SpecificationSet.version).desc())).first()
    if row is None:
        raise NotFound(f"no specification of arm {arm} is in force; run `lims seed`")
    return row


def specification_of(session: Session, product: Product) -> tuple[Specification, str]:
    """The specification the product is judged against, and its version label."""
    if product.specification_set_id is not None:
        row = get_or_404(session, SpecificationSet, product.specification_set_id,
                         "specification set")
    else:
        row = current_specification_set(session, product.protocol_id, product.arm)
    return _judged_against(row)


def specifications_of(session: Session, products: list[Product]
                      ) -> dict[int, tuple[Specification, str]]:
    """`specification_of` many products at once (product id -> the same answer): their
    recorded versions in one read, the version in force once per protocol and arm."""
    recorded = {p.specification_set_id for p in products if p.specification_set_id is not None}
    rows = {row.id: row for row in session.exec(select(SpecificationSet).where(
        one_of(col(SpecificationSet.id), recorded)))} if recorded else {}
    in_force: dict[tuple[int, str], SpecificationSet] = {}
    found = {}
    for product in products:
        if product.specification_set_id is not None:
            row = rows.get(product.specification_set_id)
            if row is None:
                raise NotFound(f"specification set {product.specification_set_id} not found")
        else:
            key = (product.protocol_id, product.arm)
            if key not in in_force:
                in_force[key] = current_specification_set(session, *key)
            row = in_force[key]
        found[product.id or 0] = _judged_against(row)
    return found


def _judged_against(row: SpecificationSet) -> tuple[Specification, str]:
    return Specification.from_mapping(row.limits), version_name(row)


def versions_of(session: Session, protocol_id: int, arm: str) -> list[SpecificationSet]:
    """Every version of the arm's specification, the first first."""
    return list(session.exec(select(SpecificationSet).where(
        SpecificationSet.protocol_id == protocol_id, SpecificationSet.arm == arm,
    ).order_by(col(SpecificationSet.version))))


def protocol_named(session: Session, protocol_code: str) -> Protocol:
    protocol = session.exec(select(Protocol).where(Protocol.code == protocol_code)).first()
    if protocol is None or protocol.id is None:
        raise NotFound(f"protocol {protocol_code} not found")
    return protocol


def arms_of(session: Session, protocol: Protocol) -> list[str]:
    return list(session.exec(select(ProtocolArm.code).where(
        ProtocolArm.protocol_id == protocol.id).order_by(col(ProtocolArm.id))))


def _version(session: Session, protocol: Protocol, arm: str, version: int) -> SpecificationSet:
    row = session.exec(select(SpecificationSet).where(
        SpecificationSet.protocol_id == protocol.id, SpecificationSet.arm == arm,
        SpecificationSet.version == version).with_for_update()).first()
    if row is None:
        raise NotFound(f"the {arm} specification has no version {version}")
    return row


def _reason(reason: str, what: str) -> str:
    return required_reason(reason, needs=f"{what} needs a reason")


def _latest_approved(session: Session, protocol_id: int, arm: str) -> SpecificationSet:
    """The newest approved version, in force or still to take effect: a draft builds on it."""
    row = session.exec(select(SpecificationSet).where(
        SpecificationSet.protocol_id == protocol_id, SpecificationSet.arm == arm,
        SpecificationSet.status == S.APPROVED,
    ).order_by(col(SpecificationSet.version).desc())).first()
    if row is None:
        raise NotFound(f"no approved specification of arm {arm}; run `lims seed`")
    return row


def open_draft(session: Session, protocol_id: int, arm: str) -> SpecificationSet | None:
    return session.exec(select(SpecificationSet).where(
        SpecificationSet.protocol_id == protocol_id, SpecificationSet.arm == arm,
        SpecificationSet.status == S.DRAFT)).first()


def ensure_default_specifications(session: Session, protocol: Protocol,
                                  arms: list[str]) -> int:
    """Version 1 of each arm's specification from the protocol defaults, approved and in
    force from now: the protocol itself is the approved source (seed; idempotent)."""
    assert protocol.id is not None
    params = ProtocolParameters.from_mapping(protocol.parameters)
    created = 0
    for arm in arms:
        exists = session.exec(select(SpecificationSet).where(
            SpecificationSet.protocol_id == protocol.id, SpecificationSet.arm == arm)).first()
        if exists is None:
            limits = default_specification(params, arm).to_mapping()
            now = utcnow()
            row = SpecificationSet(protocol_id=protocol.id, arm=arm, version=1, limits=limits,
                                   reason="initial (protocol defaults)", created_at=now,
                                   status=S.APPROVED, effective_from=now, approved_at=now,
                                   approved_printed_name=SYSTEM_APPROVER,
                                   approved_hash=content_hash(limits))
            session.add(row)
            append(session, [PendingEvent(AuditAction.SPECIFICATION_CREATED, ENTITY,
                                          version_name(row), "limits", None, limits),
                             approval_event(row, signer=None)],
                   user_id=None, username="system")
            created += 1
    session.commit()
    return created


def approval_event(row: SpecificationSet, signer: User | None) -> PendingEvent:
    """The approval as the trail keeps it: verification compares the row with this."""
    assert row.effective_from is not None and row.approved_at is not None
    return PendingEvent(AuditAction.SPECIFICATION_APPROVED, ENTITY, version_name(row), "status",
                        S.DRAFT.value if signer is not None else None, {
                            "status": S.APPROVED.value, "meaning": APPROVAL_MEANING,
                            "signer": (f"{signer.full_name} ({signer.username})"
                                       if signer is not None else SYSTEM_APPROVER),
                            "protocol_id": row.protocol_id,
                            "approved_hash": row.approved_hash,
                            "approved_at": row.approved_at.isoformat(),
                            "effective_from": row.effective_from.isoformat()},
                        reason=row.approved_hash)


def new_specification_version(session: Session, *, actor: User, protocol_code: str, arm: str,
                              changes: dict[str, Any], reason: str) -> SpecificationSet:
    """Draft a new version with `changes` to the newest approved one. A draft takes no
    effect: QA approves it by signature (`approve_specification`)."""
    require_role(actor, SPEC_ROLES, "draft release specification changes")
    reason = _reason(reason, "a specification change")
    protocol = protocol_named(session, protocol_code)
    assert protocol.id is not None
    if arm not in arms_of(session, protocol):
        raise InvalidInput(f"arm {arm!r} is not an arm of {protocol_code}")
    pending = open_draft(session, protocol.id, arm)
    if pending is not None:
        raise Conflict(f"{version_name(pending)} is a draft awaiting QA approval: approve or "
                       f"withdraw it before drafting another change of the {arm} specification")
    if changes.get("arm", arm) != arm:
        raise InvalidInput("a version belongs to its arm: the arm cannot be changed")
    base = _latest_approved(session, protocol.id, arm)
    limits = {**base.limits, **changes}
    problem = specification_problem(limits)
    if problem is not None:
        raise InvalidInput(f"invalid specification: {problem}")
    if limits == base.limits:
        raise InvalidInput(f"the draft changes no limit of {version_name(base)}: change at "
                           "least one limit")
    number = (session.exec(select(func.max(SpecificationSet.version)).where(
        SpecificationSet.protocol_id == protocol.id, SpecificationSet.arm == arm)).one() or 0) + 1
    row = SpecificationSet(protocol_id=protocol.id, arm=arm, version=number, limits=limits,
                           reason=reason, created_by_id=actor.id, created_at=utcnow(),
                           status=S.DRAFT)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"someone drafted {arm} v{number} at the same moment: reload and "
                       "look at their draft") from None
    append(session, [PendingEvent(AuditAction.SPECIFICATION_DRAFTED, ENTITY, version_name(row),
                                  "limits", base.limits, limits, reason=reason)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def _effective(session: Session, protocol: Protocol, row: SpecificationSet,
               effective_from: datetime | None, now: datetime) -> datetime:
    """When the version takes effect: now or later, never before an earlier version does."""
    if effective_from is None:
        return now
    if effective_from.tzinfo is None:
        raise InvalidInput("effective from: give the time with its time zone")
    assert protocol.id is not None
    skew = parameters_of(session, protocol.id).clock_skew_minutes
    if effective_from < now - timedelta(minutes=skew):
        raise InvalidInput(f"effective from {effective_from.isoformat(timespec='minutes')} is "
                           "in the past: a version takes effect when it is approved or later; "
                           "enter now or a later time")
    for earlier in versions_of(session, protocol.id, row.arm):
        if (earlier.status == S.APPROVED and earlier.version < row.version
                and earlier.effective_from is not None
                and earlier.effective_from > effective_from):
            raise InvalidInput(f"{version_name(earlier)} takes effect from "
                               f"{earlier.effective_from.isoformat(timespec='minutes')}: "
                               f"{version_name(row)} cannot take effect before it")
    # Within the clock skew of now: in force from the approval, never before it.
    return max(effective_from.astimezone(UTC), now)


def approve_specification(session: Session, *, actor: User, username: str, password: str,
                          protocol_code: str, arm: str, version: int,
                          effective_from: datetime | None = None) -> SpecificationSet:
    """QA approves a draft by electronic signature (user name and password re-entered),
    meaning "Approved", over the hash of its limits; in force from `effective_from` (now)."""
    require_role(actor, APPROVER_ROLES, "approve release specifications")
    protocol = protocol_named(session, protocol_code)
    row = _version(session, protocol, arm, version)
    if row.status != S.DRAFT:
        raise Conflict(f"{version_name(row)} is {S(row.status).words}: only a draft can be "
                       "approved")
    if row.created_by_id == actor.id:
        raise DomainError(ErrorCode.NOT_INDEPENDENT,
                          f"you drafted {version_name(row)}: another QA person must approve "
                          "it (four eyes)")
    problem = specification_problem(row.limits)
    if problem is not None:
        raise InvalidInput(f"{version_name(row)} is not a whole specification: {problem}")
    now = utcnow()
    when = _effective(session, protocol, row, effective_from, now)
    # Last: a wrong password is committed as a failed sign-in, with nothing else written.
    signer = authenticate_signer(session, actor=actor, username=username, password=password)
    row.status = S.APPROVED.value
    row.approved_by_id = signer.id
    row.approved_printed_name = signer.full_name
    row.approved_at = now
    row.approved_hash = content_hash(row.limits)
    row.effective_from = when
    session.add(row)
    append(session, [approval_event(row, signer)], user_id=signer.id, username=signer.username)
    session.commit()
    return row


def withdraw_draft(session: Session, *, actor: User, protocol_code: str, arm: str,
                   version: int, reason: str) -> SpecificationSet:
    """A draft that is not to take effect is withdrawn, with a reason, and kept."""
    require_role(actor, SPEC_ROLES, "withdraw specification drafts")
    reason = _reason(reason, "withdrawing a draft")
    row = _version(session, protocol_named(session, protocol_code), arm, version)
    if row.status != S.DRAFT:
        raise Conflict(f"{version_name(row)} is {S(row.status).words}: only a draft can be "
                       "withdrawn")
    row.status = S.WITHDRAWN.value
    session.add(row)
    append(session, [PendingEvent(AuditAction.SPECIFICATION_WITHDRAWN, ENTITY,
                                  version_name(row), "status", S.DRAFT.value,
                                  S.WITHDRAWN.value, reason=reason)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row
