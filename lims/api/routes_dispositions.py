"""Hold, resume, discard and expiry of a product."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din, ProductOut, ReasonIn
from lims.api.schemas_quality import DiscardIn
from lims.models import User
from lims.services.dispositions import (
    discard_product,
    expire_product,
    hold_product,
    resume_product,
)
from workflows.product import TRIGGER_ROLES, Trigger

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["dispositions"])


def _may(trigger: Trigger) -> object:
    return Depends(require_roles(*TRIGGER_ROLES[trigger], action=f"{trigger} products"))


Holder = Annotated[User, _may(Trigger.HOLD)]
Resumer = Annotated[User, _may(Trigger.RESUME)]
Discarder = Annotated[User, _may(Trigger.DISCARD)]
Expirer = Annotated[User, _may(Trigger.EXPIRE)]
REFUSALS = errors(401, 403, 404, 409, 422)


@router.post("/products/{din}/hold", responses=REFUSALS)
def hold(din: Din, body: ReasonIn, actor: Holder, session: SessionDep) -> ProductOut:
    """Put the product on hold pending a decision (from any step before administration)."""
    return ProductOut.model_validate(hold_product(session, actor=actor, din=din,
                                                  reason=body.reason))


@router.post("/products/{din}/resume", responses=REFUSALS)
def resume(din: Din, body: ReasonIn, actor: Resumer, session: SessionDep) -> ProductOut:
    """Resume a held product to the state it was held from."""
    return ProductOut.model_validate(resume_product(session, actor=actor, din=din,
                                                    reason=body.reason))


@router.post("/products/{din}/discard", responses=REFUSALS)
def discard(din: Din, body: DiscardIn, actor: Discarder, session: SessionDep) -> ProductOut:
    """Discard the product (final): a signed decision with its reason."""
    return ProductOut.model_validate(discard_product(session, actor=actor, din=din,
                                                     reason=body.reason,
                                                     password=body.password))


@router.post("/products/{din}/expire", responses=REFUSALS)
def expire(din: Din, actor: Expirer, session: SessionDep) -> ProductOut:
    """Mark the product expired; refused before its expiry time."""
    return ProductOut.model_validate(expire_product(session, actor=actor, din=din))
