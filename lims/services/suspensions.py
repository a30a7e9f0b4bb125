"""A product's release suspensions and how each was resolved, read from the audit trail.

The state history is the audit trail itself (every state change is an event), so QA
review and the batch record tell the same story without a second record of it.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Product
from workflows.product import ProductState

S = ProductState


def suspension_history(session: Session, product: Product) -> list[str]:
    """One line per suspension and per decision that ended one, oldest first."""
    events = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.STATE_CHANGED, AuditEvent.entity_id == product.din,
        (col(AuditEvent.old_value) == S.RELEASE_SUSPENDED.value)
        | (col(AuditEvent.new_value) == S.RELEASE_SUSPENDED.value),
    ).order_by(col(AuditEvent.seq)))
    lines = []
    for event in events:
        when = f"{event.at:%Y-%m-%d %H:%M} UTC"
        if event.new_value == S.RELEASE_SUSPENDED:
            came_from = "on hold" if event.old_value == S.ON_HOLD else event.old_value
            lines.append(f"release suspended at {when} (was {came_from}), recorded by "
                         f"{event.username}: {event.reason}")
        elif event.new_value != S.ON_HOLD:
            now_state = (event.new_value or "").replace("_", " ")
            lines.append(f"suspension ended at {when}: now {now_state}, by {event.username}"
                         f" ({event.reason})")
    return lines


def is_suspended(product: Product) -> bool:
    return S.RELEASE_SUSPENDED in (product.state, product.held_from)
