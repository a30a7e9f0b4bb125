"""The "check" before a step is saved: the services' dry run of the step (identity of the
scanned container, computed values, protocol warnings and refusals), with nothing written
except a refused scan.

The check is lims.services.steps.check_step, the very one perform_step runs before it
saves, so a guard is written once. A wrong container is refused here already, loudly, and
recorded as a chain-of-identity event, exactly as the save would.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session

from lims.models import User
from lims.services.steps import StepCheck, check_step

Preview = StepCheck


def load(session: Session, din: str, step: str) -> Preview:
    """The step as it stands, nothing scanned or typed yet (nothing recorded)."""
    return check_step(session, actor=None, din=din, step=step, scan=None, values=None,
                      record=False)


def check(session: Session, *, actor: User, din: str, step: str, scan: str, wristband: str,
          values: Mapping[str, object], time_errors: Mapping[str, str],
          now: datetime, record: bool = True) -> Preview:
    """Check what was entered so far; a refused scan is recorded and stops the check.

    `record=False` only shows the result again (a page reload must not record twice).
    """
    return check_step(session, actor=actor, din=din, step=step, scan=scan or None,
                      wristband=wristband or None,
                      values=values if values or time_errors else None, now=now,
                      field_errors=time_errors, record=record)

