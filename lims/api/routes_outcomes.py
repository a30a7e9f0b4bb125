"""Outcomes by arm (issue 15): a liver score at baseline and each follow-up visit per arm,
with n, median, mean and the mean change from baseline. A role the protocol blinds to the
arm (arm_blinded_roles) gets one pooled group, never the arms."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Out
from lims.config import get_settings
from lims.models import User
from lims.services.follow_up_common import READERS
from lims.services.outcomes import arm_comparison

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["follow-up"])
Reader = Annotated[User, Depends(require_roles(*READERS, action="read the clinical follow-up"))]
Score = Literal["meld", "meld_na", "child_pugh"]


class FiguresOut(Out):
    group: str  # an arm, or "both arms pooled" for a blinded reader
    n: int
    median: float | None
    mean: float | None
    change_n: int
    change_mean: float | None  # mean of each patient's value minus their baseline


class VisitRowOut(Out):
    visit: str  # "baseline", a visit code ("W4"), or "A2 W4" after a second administration
    label: str
    figures: list[FiguresOut]


class OutcomesOut(Out):
    score: Score
    pooled: bool  # the reader is blinded to the arm: one group for both arms
    patients: dict[str, int]  # group -> patients in it
    visits: list[VisitRowOut]


@router.get("/outcomes", responses=errors(401, 403, 404, 422))
def outcomes(actor: Reader, session: SessionDep,
             score: Annotated[Score, Query(description="The score compared")] = "meld",
             ) -> OutcomesOut:
    """The score per arm (pooled for a blinded reader) at baseline and each visit."""
    found = arm_comparison(session, actor=actor, protocol_code=get_settings().protocol_code,
                           score=score)
    table = found.table
    rows = [VisitRowOut(visit=visit, label=found.labels.get(visit, visit), figures=[
        FiguresOut(group=group, n=cell.n, median=cell.median, mean=cell.mean,
                   change_n=cell.change_n, change_mean=cell.change_mean)
        for group in table.groups for cell in [table.cell(visit, group)]])
        for visit in table.visits]
    return OutcomesOut(score=score, pooled=found.pooled, patients=dict(table.patients),
                       visits=rows)
