"""The exceptions the cell and volume balance leaves for QA (workflows.balance).

An input left empty and carried forward is recorded as such in the audit trail. A
breach of the balance is refused before anything is written; a recovery above
100 % plus the counting tolerance is saved with its finding and opens one major
deviation per step (kind cell_balance) in the same transaction, so QA must investigate
and close it before release.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from lims.audit import PendingEvent
from lims.audit_actions import AuditAction
from lims.models import Deviation, Product, StepRecord, User
from lims.services.deviations import open_automatic_deviation
from workflows.balance import RECOVERY_CODE
from workflows.step_model import StepOutcome


def stage_recovery_deviations(session: Session, *, product: Product, step: str,
                              outcome: StepOutcome, actor: User,
                              now: datetime) -> Deviation | None:
    """Stage one deviation for the step's flagged recoveries, if any (no commit)."""
    flagged = [f.message for f in outcome.warnings if f.code == RECOVERY_CODE]
    if not flagged:
        return None
    return open_automatic_deviation(session, product=product, kind="cell_balance", step=step,
                                    description="; ".join(flagged), user_id=actor.id,
                                    username=actor.username, now=now)


def carried_events(record: StepRecord, outcome: StepOutcome) -> list[PendingEvent]:
    """One audit event per input the operator left empty and the earlier step filled: the
    record shows the value, the trail shows that nobody typed it."""
    return [PendingEvent(AuditAction.INPUT_CARRIED_FORWARD, "step_record", str(record.id), name,
                         None, str(outcome.values.get(name)),
                         reason="left empty; taken from what the earlier step put out")
            for name in outcome.carried]
