"""QA release and rejection with an electronic signature (password re-entered)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from lims.audit import PendingEvent, content_hash
from lims.models import Product, QcResult, Signature, StepRecord, User
from lims.services.common import aware, product_by_din, require_trigger_role
from lims.services.qc import qc_status
from lims.services.transitions import advance
from lims.services.users import check_credentials
from workflows.errors import DomainError
from workflows.product import Trigger


def record_hash(session: Session, product: Product) -> str:
    """Hash of everything a reviewer signs: identity, every step record and QC result."""
    steps = session.exec(select(StepRecord.content_hash).where(
        StepRecord.product_id == product.id).order_by(StepRecord.id))  # type: ignore[arg-type]
    results = session.exec(select(QcResult.content_hash).where(
        QcResult.product_id == product.id).order_by(QcResult.id))  # type: ignore[arg-type]
    return content_hash({"din": product.din, "arm": product.arm, "steps": list(steps),
                         "qc": list(results)})


def is_independent(session: Session, product: Product, user: User) -> bool:
    """A reviewer who performed or witnessed any step of the product may not decide on it."""
    involved = session.exec(select(StepRecord.id).where(
        StepRecord.product_id == product.id,
        (StepRecord.operator_id == user.id) | (StepRecord.witness_id == user.id))).first()
    return involved is None


def release_product(session: Session, *, actor: User, din: str, password: str,
                    now: datetime | None = None) -> Product:
    """Release with the meaning "Released": all specifications met, reviewer independent."""
    return _decide(session, actor=actor, din=din, password=password, trigger=Trigger.RELEASE,
                   meaning="Released", reason=None, now=aware(now))


def reject_product(session: Session, *, actor: User, din: str, password: str, reason: str,
                   now: datetime | None = None) -> Product:
    return _decide(session, actor=actor, din=din, password=password, trigger=Trigger.REJECT,
                   meaning="Rejected", reason=reason, now=aware(now))


def _decide(session: Session, *, actor: User, din: str, password: str, trigger: Trigger,
            meaning: str, reason: str | None, now: datetime) -> Product:
    require_trigger_role(actor, trigger)
    product = product_by_din(session, din)
    signer = check_credentials(session, username=actor.username, password=password)
    missing, failed = qc_status(session, product)
    signed = record_hash(session, product)
    assert product.id is not None and signer.id is not None
    signature = Signature(product_id=product.id, user_id=signer.id,
                          printed_name=signer.full_name, meaning=meaning, signed_at=now,
                          record_hash=signed)
    session.add(signature)
    try:
        return advance(
            session, product=product, trigger=trigger, actor=actor, now=now, reason=reason,
            facts={"reviewer_independent": is_independent(session, product, actor),
                   "qc_passed": not missing and not failed,
                   "reason_given": bool(reason and reason.strip())},
            explain={"qc_passed": "out of specification or missing: "
                     + ", ".join(failed + missing)},
            extra=[PendingEvent("signed", "product", product.din, "signature", None,
                                f"{meaning} by {signer.full_name}", reason=signed)])
    except DomainError:
        session.rollback()  # a refused decision signs nothing: drop the staged signature
        raise
