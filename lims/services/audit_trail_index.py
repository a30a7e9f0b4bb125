"""The audit trail read once and indexed, for reconciling every record row against it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlmodel import Session

from lims.audit_actions import AuditAction
from lims.models import AuditEvent
from lims.progress import Advance, tracked


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    user_id: int | None
    action: str
    entity: str
    entity_id: str
    field: str
    old: str | None
    new: str | None
    reason: str | None

    def new_json(self) -> dict[str, Any]:
        """The new value written as a mapping (canonical JSON); {} if it is not one."""
        try:
            value = json.loads(self.new or "")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def signature_id(self) -> int:
        """The signature row a 'signed' event recorded (0 when it names none)."""
        value = self.new_json().get("signature_id")
        return value if isinstance(value, int) else 0


_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
A = AuditAction
# The events that write or change a record row reconciliation compares (only these are read).
RECORD_ACTIONS = (A.PRODUCT_CREATED, A.STATE_CHANGED, A.CONTAINER_CREATED, A.STEP_RECORDED,
                  A.STEP_CORRECTED,
                  A.QC_RESULT, A.QC_CORRECTED, A.QC_REJUDGED, A.QC_VERIFIED, A.SIGNED,
                  A.LABEL_PRINTED,
                  A.LABEL_REPRINTED, A.DEVIATION_RAISED, A.DEVIATION_CLOSED, A.ALERT_RAISED,
                  A.USER_CREATED, A.USER_UPDATED, A.ACCOUNT_LOCKED, A.ACCOUNT_UNLOCKED,
                  A.ACCOUNT_DEACTIVATED, A.ACCOUNT_REACTIVATED, A.USER_ROLE_CHANGED,
                  A.SPECIFICATION_CREATED, A.SPECIFICATION_CHANGED, A.SPECIFICATION_DRAFTED,
                  A.SPECIFICATION_APPROVED, A.SPECIFICATION_WITHDRAWN,
                  A.REVIEW_EXCEPTION_ACKNOWLEDGED, A.CERTIFICATE_ISSUED)
_READ = select(_EVENTS.c.seq, _EVENTS.c.user_id, _EVENTS.c.action, _EVENTS.c.entity,
               _EVENTS.c.entity_id, _EVENTS.c.field, _EVENTS.c.old_value, _EVENTS.c.new_value,
               _EVENTS.c.reason).where(_EVENTS.c.action.in_([a.value for a in RECORD_ACTIONS])
                                       ).order_by(_EVENTS.c.seq)


class Trail:
    """Events grouped by action, each group in chain order."""

    def __init__(self, events: Iterable[Event]) -> None:
        self._by_action: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            self._by_action[event.action].append(event)

    @classmethod
    def load(cls, session: Session, batch: int = 20000, advance: Advance | None = None
             ) -> Trail:
        rows = session.connection().execute(_READ.execution_options(yield_per=batch))
        if advance is not None:  # progress, counted a batch at a time
            return cls(Event(*row) for row in tracked(rows, advance, batch))
        return cls(Event(*row) for row in rows)

    def of(self, *actions: str) -> list[Event]:
        if len(actions) == 1:
            return self._by_action.get(actions[0], [])
        return sorted((e for a in actions for e in self._by_action.get(a, [])),
                      key=lambda e: e.seq)

    def latest(self, *actions: str, field: str | None = None) -> dict[str, Event]:
        """The last event per entity id among `actions` (optionally of one field)."""
        found: dict[str, Event] = {}
        for event in self.of(*actions):
            if field is None or event.field == field:
                found[event.entity_id] = event
        return found

    def first(self, *actions: str, field: str | None = None) -> dict[str, Event]:
        found: dict[str, Event] = {}
        for event in self.of(*actions):
            if field is None or event.field == field:
                found.setdefault(event.entity_id, event)
        return found
