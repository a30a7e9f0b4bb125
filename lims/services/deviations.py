"""Deviations recorded against a product and step; QA closes them with a disposition."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Deviation, Product, User
from lims.services.common import aware, get_or_404, product_by_din, require_role
from lims.services.signatures import add_signature, authenticate_signer
from workflows.characters import escaped
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.roles import Role
from workflows.words import TRIGGERS

CLASSIFICATIONS = ("minor", "major", "critical")
RAISE_ROLES = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA, Role.PHYSICIAN})
BLOCKING = ("major", "critical")
# Where a deviation happened: a step or decision of the product, or its QC testing.
DEVIATION_STEPS = (*TRIGGERS, "qc")


def raise_deviation(session: Session, *, actor: User, din: str, step: str, description: str,
                    classification: str, immediate_action: str = "",
                    impact_assessment: str = "", now: datetime | None = None) -> Deviation:
    require_role(actor, RAISE_ROLES, "record deviations")
    if classification not in CLASSIFICATIONS:
        raise InvalidInput(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
    if not description.strip() or not step.strip():
        raise InvalidInput("a deviation needs the step and a description")
    if step not in DEVIATION_STEPS:  # listed and reviewed by step: never free text
        raise InvalidInput(f"{escaped(step)!r} is not a step of the process: the step is one "
                           f"of {', '.join(DEVIATION_STEPS)}")
    product = product_by_din(session, din)
    assert product.id is not None and actor.id is not None
    deviation = Deviation(product_id=product.id, step=step, description=description,
                          classification=classification, immediate_action=immediate_action,
                          impact_assessment=impact_assessment, raised_by_id=actor.id,
                          raised_at=aware(now))
    session.add(deviation)
    session.flush()
    append(session, [PendingEvent(AuditAction.DEVIATION_RAISED, "deviation", str(deviation.id),
                                  "classification", None, classification, reason=description)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return deviation


def close_deviation(session: Session, *, actor: User, deviation_id: int, disposition: str,
                    password: str, impact_assessment: str | None = None,
                    now: datetime | None = None) -> Deviation:
    """QA closes with a disposition, signed (meaning "Closed")."""
    require_role(actor, {Role.QA}, "close deviations")
    deviation = get_or_404(session, Deviation, deviation_id, "deviation")
    if deviation.status == "closed":
        raise DomainError(ErrorCode.CONFLICT, f"deviation {deviation_id} is already closed")
    if not disposition.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED, "closing a deviation needs a disposition")
    signer = authenticate_signer(session, actor=actor, username=actor.username, password=password)
    now = aware(now)
    deviation.status, deviation.disposition = "closed", disposition
    deviation.closed_by_id, deviation.closed_at = signer.id, now
    if impact_assessment:
        deviation.impact_assessment = impact_assessment
    session.add(deviation)
    add_signature(session, signer=signer, meaning="Closed", product_id=deviation.product_id,
                  record_type="deviation", record_id=str(deviation.id),
                  content=deviation_content(deviation), at=now)
    append(session, [PendingEvent(AuditAction.DEVIATION_CLOSED, "deviation", str(deviation.id),
                                  "status", "open", "closed", reason=disposition)],
           user_id=signer.id, username=signer.username)
    session.commit()
    return deviation


def deviation_content(deviation: Deviation) -> dict[str, object]:
    return {"id": deviation.id, "step": deviation.step, "description": deviation.description,
            "classification": deviation.classification, "disposition": deviation.disposition}


def deviations_of(session: Session, product: Product) -> list[Deviation]:
    return list(session.exec(select(Deviation).where(Deviation.product_id == product.id)
                             .order_by(col(Deviation.id))))


def open_blocking(session: Session, product: Product) -> list[Deviation]:
    return [d for d in deviations_of(session, product)
            if d.status == "open" and d.classification in BLOCKING]


# What opens a deviation without a person raising it, and how it is classified. A near
# miss (a wrong patient's or product's container refused by a scan) is major: it blocks
# release until QA has investigated and closed it.
AUTOMATIC_KINDS = {
    "near_miss": "major",
    "dose_discrepancy": "major",
    "cell_balance": "major",
    "volume_balance": "major",
}


def open_automatic_deviation(session: Session, *, product: Product, kind: str, step: str,
                             description: str, user_id: int | None, username: str,
                             now: datetime | None = None) -> Deviation:
    """Stage a deviation the system opened itself (in the caller's transaction, no commit).

    The caller commits it together with the change or refusal that caused it.
    """
    classification = AUTOMATIC_KINDS[kind]
    assert product.id is not None
    deviation = Deviation(product_id=product.id, step=step, description=description[:2000],
                          classification=classification, kind=kind,
                          raised_by_id=user_id if user_id is not None else _system_user(session),
                          raised_at=aware(now))
    session.add(deviation)
    session.flush()
    append(session, [PendingEvent(AuditAction.DEVIATION_RAISED, "deviation", str(deviation.id),
                                  "classification", None, classification,
                                  reason=f"{kind}: {description}"[:2000])],
           user_id=user_id, username=username)
    return deviation


def _system_user(session: Session) -> int:
    # raised_by_id is NOT NULL; system-opened deviations name the first admin account.
    row = session.exec(select(User.id).where(User.role == Role.ADMIN.value)
                       .order_by(col(User.id))).first()
    if row is None:
        raise DomainError(ErrorCode.CONFLICT, "no admin account to record a system deviation")
    return row
