"""Versioned release specifications: a change makes a new version, never an edit."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Product, Protocol, SpecificationSet, User
from lims.services.common import get_or_404, require_role
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound
from workflows.protocol import ProtocolParameters
from workflows.roles import Role
from workflows.specifications import Specification, default_specification

SPEC_ROLES = frozenset({Role.ADMIN, Role.QA})


def current_specification_set(session: Session, protocol_id: int, arm: str) -> SpecificationSet:
    row = session.exec(select(SpecificationSet).where(
        SpecificationSet.protocol_id == protocol_id, SpecificationSet.arm == arm,
    ).order_by(col(SpecificationSet.version).desc())).first()
    if row is None:
        raise NotFound(f"no specification set for arm {arm}; run `lims seed`")
    return row


def specification_of(session: Session, product: Product) -> tuple[Specification, str]:
    """The specification the product is judged against, and its version label."""
    if product.specification_set_id is not None:
        row = get_or_404(session, SpecificationSet, product.specification_set_id,
                         "specification set")
    else:
        row = current_specification_set(session, product.protocol_id, product.arm)
    return Specification.from_mapping(row.limits), f"{row.arm} v{row.version}"


def ensure_default_specifications(session: Session, protocol: Protocol,
                                  arms: list[str]) -> int:
    """Version 1 of each arm's specification from the protocol defaults (seed; idempotent)."""
    assert protocol.id is not None
    params = ProtocolParameters.from_mapping(protocol.parameters)
    created = 0
    for arm in arms:
        exists = session.exec(select(SpecificationSet).where(
            SpecificationSet.protocol_id == protocol.id, SpecificationSet.arm == arm)).first()
        if exists is None:
            limits = default_specification(params, arm).to_mapping()
            session.add(SpecificationSet(protocol_id=protocol.id, arm=arm, version=1,
                                         limits=limits, reason="initial (protocol defaults)"))
            append(session, [PendingEvent(AuditAction.SPECIFICATION_CREATED, "specification_set",
                                          f"{arm} v1", "limits", None, limits)],
                   user_id=None, username="system")
            created += 1
    session.commit()
    return created


def new_specification_version(session: Session, *, actor: User, protocol_code: str, arm: str,
                              changes: dict[str, Any], reason: str) -> SpecificationSet:
    """Make a new version with `changes`; products already made keep their version."""
    require_role(actor, SPEC_ROLES, "change release specifications")
    if not reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED, "a specification change needs a reason")
    protocol = session.exec(select(Protocol).where(Protocol.code == protocol_code)).first()
    if protocol is None or protocol.id is None:
        raise NotFound(f"protocol {protocol_code} not found")
    current = current_specification_set(session, protocol.id, arm)
    limits = {**current.limits, **changes}
    try:
        Specification.from_mapping(limits)
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"invalid specification: {error}") from error
    row = SpecificationSet(protocol_id=protocol.id, arm=arm, version=current.version + 1,
                           limits=limits, reason=reason, created_by_id=actor.id)
    session.add(row)
    append(session, [PendingEvent(AuditAction.SPECIFICATION_CHANGED, "specification_set",
                                  f"{arm} v{row.version}", "limits", current.limits, limits,
                                  reason=reason)], user_id=actor.id, username=actor.username)
    session.commit()
    return row
