"""A product's release suspensions and how each was resolved, read from the audit trail.

The state history is the audit trail itself (every state change is an event), so QA
review and the batch record tell the same story without a second record of it.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Product, User
from lims.prepared import Prepared, instances
from lims.sql_lists import one_of, one_of_bound
from workflows.product import ProductState
from workflows.words import TRIGGERS, action_words, state_words

S = ProductState


def suspension_events(session: Session, dins: list[str]) -> dict[str, list[AuditEvent]]:
    """DIN -> the state changes into and out of a release suspension, oldest first."""
    if not dins:
        return {}
    session.flush()  # read from the connection: what the session holds is written first
    found: dict[str, list[AuditEvent]] = {}
    rows = _SUSPENSIONS.mappings(session.connection(), {"dins": dins})
    for event in instances(AuditEvent, rows):
        found.setdefault(event.entity_id, []).append(event)
    return found


_A: Table = AuditEvent.__table__  # type: ignore[attr-defined]
# Compiled once (lims.prepared): the QA queue reads it on every load. The entity too: with
# it PostgreSQL reads the (entity, entity_id) index alone, without it it intersected every
# state change of the trail (33 ms at 1M events).
_SUSPENSIONS = Prepared(core_select(_A).where(
    _A.c.action == AuditAction.STATE_CHANGED.value, _A.c.entity == "product",
    one_of_bound(_A.c.entity_id, "dins"),
    (_A.c.old_value == S.RELEASE_SUSPENDED.value) | (_A.c.new_value == S.RELEASE_SUSPENDED.value),
).order_by(_A.c.seq))


def suspension_lines(events: list[AuditEvent], names: dict[int | None, str]) -> list[str]:
    """One line per suspension and per decision that ended one, oldest first, from events
    already read (`names`: printed names by user id)."""
    lines = []
    for event in events:
        when = f"{event.at:%Y-%m-%d %H:%M} UTC"
        who = names.get(event.user_id, "the system") if event.user_id is not None \
            else "the system"
        reason = action_words(event.reason) if event.reason in TRIGGERS else event.reason
        if event.new_value == S.RELEASE_SUSPENDED:
            came_from = state_words(event.old_value).lower()
            lines.append(f"release suspended at {when} (was {came_from}), recorded by "
                         f"{who}: {reason}")
        elif event.new_value != S.ON_HOLD:
            now_state = state_words(event.new_value).lower()
            lines.append(f"suspension ended at {when}: now {now_state}, by {who} ({reason})")
    return lines


def printed_names(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    """The printed (full) names of the users with these ids."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {u.id: u.full_name
            for u in session.exec(select(User).where(one_of(col(User.id), wanted)))}


def is_suspended(product: Product) -> bool:
    return S.RELEASE_SUSPENDED in (product.state, product.held_from)
