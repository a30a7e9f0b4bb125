"""`lims audit verify`: each QA acknowledgement of a review exception against its event.

The release signature covers the acknowledgements made before it (lims.services.release);
this check covers every one, a product not yet released included: a row edited, added or
deleted outside the application is reported with what its event recorded.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction
from lims.models import ReviewAcknowledgement
from lims.services.audit_trail_index import Trail
from lims.services.verdicts import Problem, missing_row, unaudited_row

_ACTION = AuditAction.REVIEW_EXCEPTION_ACKNOWLEDGED


def reconcile_acknowledgements(session: Session, trail: Trail) -> list[Problem]:
    recorded = trail.first(_ACTION)
    problems: list[Problem] = []
    seen = set()
    for row in session.exec(select(ReviewAcknowledgement).order_by(
            col(ReviewAcknowledgement.id))):
        where = f"QA review acknowledgement {row.id} ({row.kind.replace('_', ' ')})"
        seen.add(str(row.id))
        event = recorded.get(str(row.id))
        if event is None:
            problems.append(unaudited_row(where, _ACTION))
            continue
        written = event.new_json()
        for what, expected, found in (("kind", written.get("kind"), row.kind),
                                      ("exception", written.get("text"), row.text),
                                      ("comment", written.get("comment"), row.comment),
                                      ("acknowledged by (user id)", event.user_id, row.user_id)):
            if expected != found:
                problems.append(Problem(where, what, f"{expected} (event {event.seq})",
                                        str(found)))
    problems += [missing_row(f"QA review acknowledgement {key}", event.seq, event.action)
                 for key, event in recorded.items() if key not in seen]
    return problems
