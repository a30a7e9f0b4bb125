"""QA review by exception: the queue and what a reviewer must see before signing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din
from lims.api.schemas_quality import QueueItemOut, ReviewSummaryOut
from lims.api.schemas_review import (
    AcknowledgementIn,
    ExceptionKey,
    ReviewItemOut,
    ReviewItemsOut,
)
from lims.models import User
from lims.services.common import product_by_din
from lims.services.review import qa_queue, review_summary
from lims.services.review_acknowledgements import (
    ACKNOWLEDGING_ROLES,
    acknowledge_exception,
    review_items,
)
from workflows.roles import Role

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["qa"])
Reviewer = Annotated[User, Depends(require_roles(Role.QA, Role.SUPERVISOR, Role.PHYSICIAN,
                                                 action="review products"))]
Acknowledger = Annotated[User, Depends(require_roles(*ACKNOWLEDGING_ROLES,
                                                     action="acknowledge review exceptions"))]


@router.get("/qa/queue", responses=errors(401, 403))
def queue(_user: Reviewer, session: SessionDep) -> list[QueueItemOut]:
    """Products awaiting release, then products with an unacknowledged post-release alert."""
    return [QueueItemOut.model_validate(item) for item in qa_queue(session)]


@router.get("/products/{din}/review", responses=errors(401, 403, 404, 422))
def review(din: Din, user: Reviewer, session: SessionDep) -> ReviewSummaryOut:
    """The review summary, exceptions first (out of spec, deviations, corrections, ...)."""
    summary = review_summary(session, din, reviewer_id=user.id)
    return ReviewSummaryOut.model_validate(summary)


@router.get("/products/{din}/review/exceptions", responses=errors(401, 403, 404, 422))
def exceptions(din: Din, _user: Reviewer, session: SessionDep) -> ReviewItemsOut:
    """The review's exceptions, each with QA's acknowledgement or none yet."""
    product = product_by_din(session, din)
    items = [ReviewItemOut.model_validate(item) for item in review_items(session, product)]
    return ReviewItemsOut(din=product.din, exceptions=items,
                          remaining=sum(item.acknowledgement is None for item in items))


@router.post("/products/{din}/review/exceptions/{key}/acknowledgement", status_code=201,
             responses=errors(401, 403, 404, 409, 422))
def acknowledge(din: Din, key: ExceptionKey, body: AcknowledgementIn, actor: Acknowledger,
                session: SessionDep) -> ReviewItemOut:
    """Acknowledge one exception (QA), with a comment where it needs one."""
    return ReviewItemOut.model_validate(acknowledge_exception(
        session, actor=actor, din=din, key=key, comment=body.comment))
