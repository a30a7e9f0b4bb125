"""The versions of each arm's release specification as QA reads them: standing in words,
who drafted and who approved them, and what a draft changes against the version in force."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction
from lims.models import AuditEvent, SpecificationSet, User
from lims.services.common import utcnow
from lims.services.specifications import (
    ENTITY,
    arms_of,
    current_specification_set,
    protocol_named,
    version_name,
    versions_of,
)
from workflows.errors import NotFound
from workflows.specifications import APPROVAL_MEANING, SpecificationStatus, changed_limits, standing


@dataclass(frozen=True)
class VersionView:
    row: SpecificationSet
    name: str  # "CD133 v2"
    standing: str  # "in force", "draft: awaiting QA approval, not in force", ...
    in_force: bool
    drafted_by: str  # printed name ("" for the system)
    changed: tuple[str, ...]  # limits that differ from the version in force
    withdrawal_reason: str = ""
    withdrawn_by: str = ""
    withdrawn_at: datetime | None = None

    @property
    def meaning(self) -> str:
        return APPROVAL_MEANING if self.row.status == SpecificationStatus.APPROVED else ""


@dataclass(frozen=True)
class ArmVersions:
    arm: str
    versions: list[VersionView]  # newest first
    in_force: SpecificationSet | None
    draft: VersionView | None = None
    limits_in_force: dict[str, Any] = field(default_factory=dict)
    base: SpecificationSet | None = None  # the newest approved version: a draft builds on it


def _withdrawals(session: Session) -> dict[str, AuditEvent]:
    events = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.SPECIFICATION_WITHDRAWN.value,
        AuditEvent.entity == ENTITY).order_by(col(AuditEvent.seq)))
    return {e.entity_id: e for e in events}


def arm_versions(session: Session, protocol_code: str, arm: str | None = None,
                 now: datetime | None = None) -> list[ArmVersions]:
    """Per arm of the protocol (or the one `arm`), its versions, newest first."""
    protocol = protocol_named(session, protocol_code)
    assert protocol.id is not None
    arms = arms_of(session, protocol)
    if arm is not None:
        if arm not in arms:
            raise NotFound(f"arm {arm!r} is not an arm of {protocol_code}")
        arms = [arm]
    now = now or utcnow()
    names = {u.id: u.full_name for u in session.exec(select(User))}
    withdrawals = _withdrawals(session)
    found = []
    for code in arms:
        try:
            current: SpecificationSet | None = current_specification_set(
                session, protocol.id, code, at=now)
        except NotFound:
            current = None
        base = current.limits if current is not None else {}
        views = []
        for row in reversed(versions_of(session, protocol.id, code)):
            in_force = current is not None and row.id == current.id
            gone = withdrawals.get(version_name(row))
            withdrawn = row.status == SpecificationStatus.WITHDRAWN and gone is not None
            views.append(VersionView(
                row, version_name(row),
                standing(row.status, row.effective_from, in_force=in_force, now=now), in_force,
                names.get(row.created_by_id, "") if row.created_by_id else "",
                changed_limits(base, row.limits) if not in_force and current else (),
                withdrawal_reason=(gone.reason or "") if withdrawn and gone else "",
                withdrawn_by=names.get(gone.user_id, "") if withdrawn and gone else "",
                withdrawn_at=gone.at if withdrawn and gone else None))
        draft = next((v for v in views if v.row.status == SpecificationStatus.DRAFT), None)
        newest = next((v.row for v in views if v.row.status == SpecificationStatus.APPROVED),
                      None)
        found.append(ArmVersions(code, views, current, draft, dict(base), newest))
    return found
