"""Storage locations reconciled with their events: whether each is in use.

A location is in use unless the last of its taken-out-of-use / back-in-use events says not
(each location its own event, also those retired with their freezer); an event naming a
location that no longer exists means its row was deleted behind the system's back.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction as A
from lims.models import StorageLocation
from lims.services.audit_trail_index import Trail
from lims.services.verdicts import Problem, missing_row


def reconcile_storage_locations(session: Session, trail: Trail) -> list[Problem]:
    uses = trail.latest(A.STORAGE_LOCATION_DEACTIVATED, A.STORAGE_LOCATION_REACTIVATED,
                        field="active")
    problems: list[Problem] = []
    seen: set[str] = set()
    for code, active in session.exec(select(StorageLocation.code, StorageLocation.active)
                                     .order_by(col(StorageLocation.code))):
        seen.add(code)
        event = uses.get(code)
        expected = event is None or event.action == A.STORAGE_LOCATION_REACTIVATED
        if bool(active) != expected:
            source = f"event {event.seq}" if event else "never taken out of use"
            problems.append(Problem(f"storage location {code}", "in use",
                                    f"{_words(expected)} ({source})", _words(bool(active))))
    problems += [missing_row(f"storage location {code}", event.seq, event.action)
                 for code, event in uses.items() if code not in seen]
    return problems


def _words(active: bool) -> str:
    return "in use" if active else "out of use"
