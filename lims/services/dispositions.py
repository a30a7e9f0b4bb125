"""Hold, resume, discard and expiry: cross-cutting dispositions of a product.

Every hold, resume and discard carries its reason on the state change it records (the
audit event's reason, by the user who decided); a discard is moreover a signed decision:
the decider re-enters their password and the signature ("Discarded", the reason as its
justification) is written in the same transaction as the state change.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, col, select

from lims.models import Product, User
from lims.services.common import aware, product_by_din, require_trigger_role
from lims.services.release import product_content
from lims.services.signatures import add_signature, authenticate_signer
from lims.services.transitions import advance, stage_transition
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.product import FINAL_STATES, Trigger
from workflows.roles import Role

MAX_REASON = 500
log = logging.getLogger("lims.expiry")


def hold_product(session: Session, *, actor: User, din: str, reason: str,
                 now: datetime | None = None) -> Product:
    return _with_reason(session, actor, din, Trigger.HOLD, reason, now)


def resume_product(session: Session, *, actor: User, din: str, reason: str,
                   now: datetime | None = None) -> Product:
    return _with_reason(session, actor, din, Trigger.RESUME, reason, now)


def discard_product(session: Session, *, actor: User, din: str, reason: str, password: str,
                    now: datetime | None = None) -> Product:
    """Discard the product (final) as a signed decision: the password re-entered, the
    reason the signature's justification, both committed with the state change."""
    require_trigger_role(actor, Trigger.DISCARD)
    product = product_by_din(session, din)
    reason, now = _reason(reason, Trigger.DISCARD), aware(now)
    if not password:
        raise DomainError(ErrorCode.SIGNATURE_REQUIRED,
                          "a discard is a signed decision: enter your password to sign it")
    signer = authenticate_signer(session, actor=actor, username=actor.username,
                                 password=password)
    assert product.id is not None
    add_signature(session, signer=signer, meaning="Discarded", product_id=product.id,
                  record_type="product", record_id=product.din,
                  content=product_content(session, product, as_of=now), justification=reason,
                  at=now)
    # A refused discard (a final product, a stale state) rolls the signature back with it.
    return advance(session, product=product, trigger=Trigger.DISCARD, actor=actor, now=now,
                   facts={"reason_given": True}, reason=reason)


def _with_reason(session: Session, actor: User, din: str, trigger: Trigger, reason: str,
                 now: datetime | None) -> Product:
    require_trigger_role(actor, trigger)
    product = product_by_din(session, din)
    return advance(session, product=product, trigger=trigger, actor=actor, now=aware(now),
                   facts={"reason_given": True}, reason=_reason(reason, trigger))


def _reason(reason: str | None, trigger: Trigger) -> str:
    """The reason as recorded: trimmed, required, bounded."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(ErrorCode.REASON_REQUIRED,
                          f"a reason is required to {trigger.value} a product: say why")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason has {len(reason)} characters; at most {MAX_REASON}")
    return reason


def expire_product(session: Session, *, actor: User | None, din: str,
                   now: datetime | None = None) -> Product:
    """Mark a product expired; refused before its expiry time. `actor` None: the system
    (the scheduled expiry), which needs no role; a person needs a lab role that may.
    QA and the patient's physician are notified in the same transaction as the expiry:
    a product that can no longer be given must not be news on the day of infusion."""
    if actor is not None:
        require_trigger_role(actor, Trigger.EXPIRE)
    product = product_by_din(session, din)
    now = aware(now)
    try:
        stage_transition(session, product=product, trigger=Trigger.EXPIRE, actor=actor,
                         now=now, facts={}, reason="expiry reached")
        _notify_expired(session, product, now)
    except DomainError:
        session.rollback()
        raise
    session.commit()
    session.refresh(product)
    return product


def _notify_expired(session: Session, product: Product, now: datetime) -> None:
    """Stage "product expired" to every active QA user and the physician to notify."""
    from lims.services.alerts import physician_to_notify  # alerts imports the outbox too
    from lims.services.notifications import stage_notification

    recipients = list(session.exec(select(User).where(
        col(User.role) == Role.QA.value, col(User.active).is_(True)).order_by(col(User.id))))
    physician_id = physician_to_notify(session, product)
    physician = session.get(User, physician_id) if physician_id else None
    if physician is not None and physician.active and physician not in recipients:
        recipients.append(physician)
    expiry = product.expires_at.isoformat(timespec="minutes") if product.expires_at else "?"
    for user in recipients:
        stage_notification(session, recipient=user, product=product, now=now,
                           subject=f"Product {product.din} expired",
                           body=f"Product {product.din} passed its expiry ({expiry} UTC) and "
                                "is now marked expired: it must not be issued or "
                                "administered.")


def expire_due(session: Session, *, actor: User | None = None,
               now: datetime | None = None) -> list[str]:
    """Expire every product past its expiry. Run by the system (`actor` None, audited as
    "system"): expiry is a fact of the clock, not any person's decision, so it needs no
    role (the administrator, who has no product role, never expires products).

    Only products not yet in a final state are read (in SQL: an administered product stays
    past its expiry forever and must not be loaded on every run). Each expiry commits on
    its own; one changed by someone at the same moment is left for the next run."""
    now = aware(now)
    due = session.exec(select(Product.din).where(
        col(Product.expires_at) <= now, col(Product.state).not_in(sorted(FINAL_STATES)),
    ).order_by(col(Product.expires_at), col(Product.id))).all()
    expired = []
    for din in due:
        try:
            expire_product(session, actor=actor, din=din, now=now)
        except DomainError as error:  # a hold or a discard won the race: next run decides
            log.warning("expiry of %s left for the next run: %s", din, error.detail)
            continue
        expired.append(din)
    return expired
