"""QA decisions by electronic signature: release, reject, exceptional release, re-release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din, ProductOut
from lims.api.schemas_quality import ExceptionalReleaseIn, RejectIn, ReReleaseIn, SignIn
from lims.models import User
from lims.services.release import (
    exceptional_release,
    re_release_product,
    reject_product,
    release_product,
)
from workflows.product import TRIGGER_ROLES, Trigger

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["qa"])
Reviewer = Annotated[User, Depends(require_roles(*TRIGGER_ROLES[Trigger.RELEASE],
                                                 action="decide on release"))]
SIGNING = errors(401, 403, 404, 409, 422)


@router.post("/products/{din}/release", responses=SIGNING)
def release(din: Din, body: SignIn, actor: Reviewer, session: SessionDep) -> ProductOut:
    """Release the product, signed "Released" (password re-entered)."""
    return ProductOut.model_validate(release_product(session, actor=actor, din=din,
                                                     password=body.password))


@router.post("/products/{din}/reject", responses=SIGNING)
def reject(din: Din, body: RejectIn, actor: Reviewer, session: SessionDep) -> ProductOut:
    """Reject the product with a reason, signed "Rejected" (password re-entered)."""
    return ProductOut.model_validate(reject_product(session, actor=actor, din=din,
                                                    password=body.password, reason=body.reason))


@router.post("/products/{din}/exceptional-release", responses=SIGNING)
def release_exceptionally(din: Din, body: ExceptionalReleaseIn, actor: Reviewer,
                          session: SessionDep) -> ProductOut:
    """Release a non-conforming product with a justification and the physician's signature."""
    return ProductOut.model_validate(exceptional_release(session, actor=actor, din=din,
                                                         **body.model_dump()))


@router.post("/products/{din}/re-release", responses=SIGNING)
def re_release(din: Din, body: ReReleaseIn, actor: Reviewer, session: SessionDep) -> ProductOut:
    """Lift a release suspension once every result passes, signed "Re-released"."""
    return ProductOut.model_validate(re_release_product(session, actor=actor, din=din,
                                                        password=body.password, note=body.note))
