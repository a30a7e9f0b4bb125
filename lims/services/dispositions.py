"""Hold, resume, discard and expiry: cross-cutting dispositions of a product."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from lims.models import Product, User
from lims.services.common import aware, product_by_din, require_trigger_role
from lims.services.transitions import advance, is_final
from workflows.product import Trigger


def hold_product(session: Session, *, actor: User, din: str, reason: str,
                 now: datetime | None = None) -> Product:
    return _with_reason(session, actor, din, Trigger.HOLD, reason, now)


def resume_product(session: Session, *, actor: User, din: str, reason: str,
                   now: datetime | None = None) -> Product:
    return _with_reason(session, actor, din, Trigger.RESUME, reason, now)


def discard_product(session: Session, *, actor: User, din: str, reason: str,
                    now: datetime | None = None) -> Product:
    return _with_reason(session, actor, din, Trigger.DISCARD, reason, now)


def _with_reason(session: Session, actor: User, din: str, trigger: Trigger, reason: str,
                 now: datetime | None) -> Product:
    require_trigger_role(actor, trigger)
    product = product_by_din(session, din)
    return advance(session, product=product, trigger=trigger, actor=actor, now=aware(now),
                   facts={"reason_given": bool(reason and reason.strip())}, reason=reason)


def expire_product(session: Session, *, actor: User, din: str,
                   now: datetime | None = None) -> Product:
    """Mark a product expired; refused before its expiry time."""
    require_trigger_role(actor, Trigger.EXPIRE)
    product = product_by_din(session, din)
    return advance(session, product=product, trigger=Trigger.EXPIRE, actor=actor,
                   now=aware(now), facts={}, reason="expiry reached")


def expire_due(session: Session, *, actor: User, now: datetime | None = None) -> list[str]:
    """Expire every product past its expiry (run by the scheduler or `lims expire`)."""
    now = aware(now)
    due = session.exec(select(Product.din).where(Product.expires_at <= now)).all()  # type: ignore[operator]
    expired = []
    for din in due:
        product = product_by_din(session, din)
        if not is_final(product.state):
            expire_product(session, actor=actor, din=din, now=now)
            expired.append(din)
    return expired
