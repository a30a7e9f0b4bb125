"""One follow-up form, one transaction: a visit, its laboratory values and its clinical
grades are recorded together or not at all (a refused value must not leave the visit
marked done without the values the physician typed with it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from lims.models import User
from lims.services.follow_up import record_visit
from lims.services.follow_up_common import refusals_recorded
from lims.services.follow_up_records import LabEntry, record_clinical_finding, record_lab_values


@dataclass(frozen=True)
class Grades:
    """The Child-Pugh grades and the dialysis answer as the physician recorded them."""

    ascites: str
    encephalopathy: str
    dialysed: bool = False


def record_follow_up(session: Session, *, actor: User, subject_id: str, at: datetime,
                     visit_id: int | None = None, visit_note: str = "",
                     labs: Sequence[LabEntry] = (), grades: Grades | None = None,
                     grades_note: str = "") -> list[str]:
    """Record what one form holds in one audited transaction; returns what was recorded,
    in words. A refusal of any part leaves nothing of it and is itself audited."""
    done: list[str] = []
    with refusals_recorded(session, actor, "patient", subject_id, "record follow-up"):
        if visit_id is not None:
            visit = record_visit(session, actor=actor, visit_id=visit_id, done_at=at,
                                 note=visit_note, commit=False)
            done.append(f"visit {visit.code}")
        if labs:
            record_lab_values(session, actor=actor, subject_id=subject_id, sampled_at=at,
                              entries=labs, visit_id=visit_id, commit=False)
            done.append(f"{len(labs)} laboratory value{'s' if len(labs) != 1 else ''}")
        if grades is not None:
            record_clinical_finding(session, actor=actor, subject_id=subject_id,
                                    ascites=grades.ascites,
                                    encephalopathy=grades.encephalopathy,
                                    dialysis_twice_past_week=grades.dialysed,
                                    observed_at=at, visit_id=visit_id, note=grades_note,
                                    commit=False)
            done.append("the grades")
        session.commit()
    return done
