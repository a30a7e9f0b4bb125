"""QA review by exception: the queue and what a reviewer must see before signing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.schemas import Din
from lims.api.schemas_quality import QueueItemOut, ReviewSummaryOut
from lims.models import User
from lims.services.review import qa_queue, review_summary
from workflows.roles import Role

router = APIRouter(tags=["qa"])
Reviewer = Annotated[User, Depends(require_roles(Role.QA, Role.SUPERVISOR, Role.PHYSICIAN,
                                                 action="review products"))]


@router.get("/qa/queue", responses=errors(401, 403))
def queue(_user: Reviewer, session: SessionDep) -> list[QueueItemOut]:
    """Products awaiting release, then products with an unacknowledged post-release alert."""
    return [QueueItemOut.model_validate(item) for item in qa_queue(session)]


@router.get("/products/{din}/review", responses=errors(401, 403, 404, 422))
def review(din: Din, user: Reviewer, session: SessionDep) -> ReviewSummaryOut:
    """The review summary, exceptions first (out of spec, deviations, corrections, ...)."""
    summary = review_summary(session, din, reviewer_id=user.id)
    return ReviewSummaryOut.model_validate(summary)
