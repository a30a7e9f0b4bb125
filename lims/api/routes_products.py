"""Harvests and their products: scheduling, the worklist, a product and its containers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from lims.api.deps import Reader, SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import (
    ContainerOut,
    Din,
    HarvestIn,
    ProductOut,
    WorklistGroupOut,
    WorklistItemOut,
    WorklistOut,
)
from lims.models import User
from lims.services.common import product_by_din
from lims.services.harvests import SCHEDULERS, schedule_harvest
from lims.services.queries import containers, worklist
from workflows.product import ProductState

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["products"])
Scheduler = Annotated[User, Depends(require_roles(*SCHEDULERS, action="schedule harvests"))]


@router.post("/harvests", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 422))
def schedule(body: HarvestIn, actor: Scheduler, session: SessionDep) -> ProductOut:
    """Schedule a harvest: a DIN is assigned and the collection bag comes to exist."""
    return ProductOut.model_validate(schedule_harvest(session, actor=actor,
                                                      subject_id=body.subject_id))


@router.get("/worklist", responses=errors(401, 403, 422))
def get_worklist(_user: Reader, session: SessionDep,
                 state: Annotated[ProductState | None, Query(
                     description="Only products in this state")] = None,
                 include_final: Annotated[bool, Query(
                     description="Also administered, discarded and expired products")] = False,
                 ) -> WorklistOut:
    """Products waiting at each step, in process order, oldest harvest first."""
    grouped = worklist(session, include_final=include_final or state is not None)
    return WorklistOut(groups=[
        WorklistGroupOut(state=ProductState(name),
                         items=[WorklistItemOut.model_validate(i) for i in items])
        for name, items in grouped.items() if state is None or name == state])


@router.get("/products/{din}", responses=errors(401, 403, 404, 422))
def get_product(din: Din, _user: Reader, session: SessionDep) -> ProductOut:
    """A product's state, version, harvest end and expiry."""
    return ProductOut.model_validate(product_by_din(session, din))


@router.get("/products/{din}/containers", responses=errors(401, 403, 404, 422))
def get_containers(din: Din, _user: Reader, session: SessionDep) -> list[ContainerOut]:
    """Every container of the product (its lineage), with what each label's code carries."""
    product = product_by_din(session, din)
    return [ContainerOut.of(product.din, c) for c in containers(session, product.din)]
