"""QA release, rejection and exceptional release, each by electronic signature."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from lims.audit import content_hash
from lims.models import Product, QcResult, StepRecord, User
from lims.services.common import aware, product_by_din, require_trigger_role
from lims.services.deviations import open_blocking
from lims.services.qc import qc_status
from lims.services.signatures import add_signature, authenticate_signer
from lims.services.transitions import advance
from lims.services.users import check_credentials
from workflows.errors import DomainError, ErrorCode
from workflows.product import Trigger

# Steps a release decision covers; issue and administration come after it.
_PROCESSING = ("harvest", "receive", "sediment", "isolate_mnc", "enrich", "formulate")


def product_content(session: Session, product: Product,
                    as_of: datetime | None = None) -> dict[str, object]:
    """What a reviewer signs: identity, the processing records and the QC results known
    at signing time. A later correction of one of those results (it becomes superseded)
    changes this content; completing a culture that was pending does not."""
    steps = session.exec(select(StepRecord.content_hash).where(
        StepRecord.product_id == product.id, col(StepRecord.step).in_(_PROCESSING),
    ).order_by(col(StepRecord.id)))
    query = select(QcResult).where(QcResult.product_id == product.id,
                                   QcResult.value != "pending").order_by(col(QcResult.id))
    if as_of is not None:
        query = query.where(col(QcResult.entered_at) <= as_of)
    results = [(row.content_hash, row.superseded) for row in session.exec(query)]
    return {"din": product.din, "arm": product.arm, "steps": list(steps), "qc": results}


def record_hash(session: Session, product: Product) -> str:
    return content_hash(product_content(session, product))


def is_independent(session: Session, product: Product, user: User) -> bool:
    """A reviewer who performed or witnessed any step of the product may not decide on it."""
    involved = session.exec(select(StepRecord.id).where(
        StepRecord.product_id == product.id,
        (col(StepRecord.operator_id) == user.id) | (col(StepRecord.witness_id) == user.id),
    )).first()
    return involved is None


def release_product(session: Session, *, actor: User, din: str, password: str,
                    username: str | None = None, now: datetime | None = None) -> Product:
    """Release ("Released"): all specifications met (culture may be pending)."""
    return _decide(session, actor=actor, din=din, username=username or actor.username,
                   password=password, trigger=Trigger.RELEASE, meaning="Released",
                   reason=None, now=aware(now))


def reject_product(session: Session, *, actor: User, din: str, password: str, reason: str,
                   username: str | None = None, now: datetime | None = None) -> Product:
    return _decide(session, actor=actor, din=din, username=username or actor.username,
                   password=password, trigger=Trigger.REJECT, meaning="Rejected",
                   reason=reason, now=aware(now))


def exceptional_release(session: Session, *, actor: User, din: str, password: str,
                        justification: str, physician: str, physician_password: str,
                        username: str | None = None, now: datetime | None = None) -> Product:
    """Release a non-conforming product with the physician's signed approval (FACT)."""
    require_trigger_role(actor, Trigger.EXCEPTIONAL_RELEASE)
    approver = check_credentials(session, username=physician, password=physician_password)
    if approver.role != "physician":
        raise DomainError(ErrorCode.PHYSICIAN_APPROVAL_REQUIRED,
                          f"{approver.full_name} is not a physician / medical director")
    return _decide(session, actor=actor, din=din, username=username or actor.username,
                   password=password, trigger=Trigger.EXCEPTIONAL_RELEASE, meaning="Released",
                   reason=justification, now=aware(now), approver=approver)


def _decide(session: Session, *, actor: User, din: str, username: str, password: str,
            trigger: Trigger, meaning: str, reason: str | None, now: datetime,
            approver: User | None = None) -> Product:
    require_trigger_role(actor, trigger)
    product = product_by_din(session, din)
    signer = authenticate_signer(session, actor=actor, username=username, password=password)
    missing, failed = qc_status(session, product)
    blocking = open_blocking(session, product)
    assert product.id is not None
    content = product_content(session, product, as_of=now)
    justification = reason if trigger == Trigger.EXCEPTIONAL_RELEASE else None
    if approver is not None:
        add_signature(session, signer=approver, meaning="Approved exceptional release",
                      product_id=product.id, record_type="product", record_id=product.din,
                      content=content, justification=justification, at=now)
    add_signature(session, signer=signer, meaning=meaning, product_id=product.id,
                  record_type="product", record_id=product.din, content=content,
                  justification=reason, at=now)
    return advance(
        session, product=product, trigger=trigger, actor=actor, now=now, reason=reason,
        facts={"reviewer_independent": is_independent(session, product, actor),
               "qc_complete": not missing, "qc_passed": not missing and not failed,
               "deviations_closed": not blocking,
               "physician_approved": approver is not None,
               "reason_given": bool(reason and reason.strip())},
        explain={"qc_passed": "out of specification or missing: " + ", ".join(failed + missing),
                 "deviations_closed": "open: " + ", ".join(
                     f"deviation {d.id} ({d.classification})" for d in blocking)})
