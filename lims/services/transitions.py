"""Firing a trigger that needs no step data: one guarded state change + audit + commit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Product, User
from workflows.errors import Conflict, DomainError
from workflows.product import ProductFacts, ProductState, Trigger, fire


def advance(session: Session, *, product: Product, trigger: Trigger, actor: User | None,
            now: datetime, facts: Mapping[str, Any], explain: Mapping[str, str] | None = None,
            reason: str | None = None, extra: list[PendingEvent] | None = None,
            expected_version: int | None = None) -> Product:
    """Fire `trigger` with the given facts and persist the new state with its audit events."""
    try:
        stage_transition(session, product=product, trigger=trigger, actor=actor, now=now,
                         facts=facts, explain=explain, reason=reason, extra=extra,
                         expected_version=expected_version)
    except DomainError:
        session.rollback()  # whatever the use case staged (a signature) must not survive
        raise
    session.commit()
    session.refresh(product)
    return product


def stage_transition(session: Session, *, product: Product, trigger: Trigger,
                     actor: User | None,
                     now: datetime, facts: Mapping[str, Any],
                     explain: Mapping[str, str] | None = None, reason: str | None = None,
                     extra: list[PendingEvent] | None = None,
                     expected_version: int | None = None) -> ProductState:
    """Fire `trigger` and stage the new state and its audit events; the caller commits
    (with whatever else belongs to the same change) or rolls back on a refusal. `actor`
    None: the system itself (expiry), recorded as "system"."""
    if expected_version is not None and product.version != expected_version:
        raise Conflict(f"product {product.din} was changed by someone else; reload it")
    state_facts = ProductFacts(state=product.state, arm=product.arm, now=now,
                               expires_at=product.expires_at, held_from=product.held_from,
                               suspended_from=product.suspended_from, **facts)
    new_state = fire(trigger, state_facts, explain)
    changes = _bookkeeping(product, trigger) | {
        "state": new_state.value, "version": product.version + 1, "updated_at": now}
    # The ORM update synchronises `product`, so keep what it was for the audit trail.
    old_state, old_version = product.state, product.version
    moved = session.execute(update(Product).where(
        Product.id == product.id, Product.version == old_version,  # type: ignore[arg-type]
    ).values(**changes))
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"product {product.din} was changed by someone else; reload it")
    events = [PendingEvent(AuditAction.STATE_CHANGED, "product", product.din, "state", old_state,
                           new_state.value, reason=reason or trigger.value), *(extra or [])]
    append(session, events, user_id=actor.id if actor else None,
           username=actor.username if actor else "system")
    return new_state


_QA_DECISIONS = (Trigger.RE_RELEASE, Trigger.EXCEPTIONAL_RELEASE, Trigger.REJECT)


def _bookkeeping(product: Product, trigger: Trigger) -> dict[str, Any]:
    """Where a hold or a release suspension came from, so the way back is the way in."""
    if trigger == Trigger.HOLD:
        return {"held_from": product.state}
    if trigger == Trigger.RESUME:
        return {"held_from": None}
    if trigger == Trigger.SUSPEND_RELEASE:
        came_from = product.held_from if product.state == ProductState.ON_HOLD else product.state
        return {"suspended_from": came_from, "held_from": None}
    if product.state == ProductState.RELEASE_SUSPENDED and trigger in _QA_DECISIONS:
        return {"suspended_from": None}
    return {}


def is_final(state: str) -> bool:
    return state in (ProductState.ADMINISTERED, ProductState.DISCARDED, ProductState.EXPIRED)
