"""Deviations against a product and step; QA closes them with a signed disposition."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from lims.api.deps import Reader, SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din, Id
from lims.api.schemas_quality import DeviationCloseIn, DeviationIn, DeviationOut
from lims.models import User
from lims.services.common import product_by_din
from lims.services.deviations import RAISE_ROLES, close_deviation, deviations_of, raise_deviation
from workflows.roles import Role

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["deviations"])
Raiser = Annotated[User, Depends(require_roles(*RAISE_ROLES, action="record deviations"))]
Closer = Annotated[User, Depends(require_roles(Role.QA, action="close deviations"))]


@router.post("/products/{din}/deviations", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 422))
def add(din: Din, body: DeviationIn, actor: Raiser, session: SessionDep) -> DeviationOut:
    """Record a deviation (major and critical ones block release until closed)."""
    return DeviationOut.model_validate(raise_deviation(session, actor=actor, din=din,
                                                       **body.model_dump()))


@router.get("/products/{din}/deviations", responses=errors(401, 403, 404, 422))
def list_for_product(din: Din, _user: Reader, session: SessionDep) -> list[DeviationOut]:
    """The product's deviations, open and closed."""
    return [DeviationOut.model_validate(d)
            for d in deviations_of(session, product_by_din(session, din))]


@router.post("/deviations/{deviation_id}/close", responses=errors(401, 403, 404, 409, 422))
def close(deviation_id: Id, body: DeviationCloseIn, actor: Closer,
          session: SessionDep) -> DeviationOut:
    """Close a deviation with a disposition, signed "Closed" (QA, password re-entered)."""
    return DeviationOut.model_validate(close_deviation(session, actor=actor,
                                                       deviation_id=deviation_id,
                                                       **body.model_dump()))
