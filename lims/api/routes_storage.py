"""Storage (issue 16): locations, containers scanned into a position and out again, box
maps and a product's storage history. Thin routes over lims.services.storage*."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import Field

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din, In, Name, Out
from lims.models import User
from lims.services.common import product_by_din
from lims.services.storage import STORERS, remove_container, storage_history, store_container
from lims.services.storage_locations import (
    LOCATION_KEEPERS,
    box_map,
    create_location,
    deactivate_location,
    location_tree,
    reactivate_location,
)
from workflows.roles import LAB_ROLES
from workflows.storage import LocationKind, RemovalReason

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["storage"])
Keeper = Annotated[User, Depends(require_roles(*LOCATION_KEEPERS,
                                               action="keep the storage locations"))]
Storer = Annotated[User, Depends(require_roles(*STORERS, action="store containers"))]
Reader = Annotated[User, Depends(require_roles(*(LAB_ROLES | LOCATION_KEEPERS),
                                               action="read storage"))]
_SCAN = Field(min_length=1, max_length=500, description="What the scanner read")


class LocationIn(In):
    kind: LocationKind
    name: str = Field(min_length=1, max_length=120, examples=["Freezer -80 °C no. 2"])
    code: str = Field(min_length=2, max_length=34, examples=["FRZ2"],
                      description="What the scanner reads off its label (unique)")
    parent_code: str | None = Field(default=None, min_length=2, max_length=40)
    temperature_min_c: float | None = Field(default=None, ge=-200.0, le=60.0)
    temperature_max_c: float | None = Field(default=None, ge=-200.0, le=60.0)
    rows: int | None = Field(default=None, ge=1, le=26, description="A box only")
    columns: int | None = Field(default=None, ge=1, le=26, description="A box only")


class LocationOut(Out):
    id: int
    parent_id: int | None
    kind: str
    name: str
    code: str
    temperature_min_c: float | None
    temperature_max_c: float | None
    rows: int | None
    columns: int | None
    active: bool = Field(description="In use; out of use (retired) when false: nothing is "
                                     "stored in it or under it")


class LocationUseIn(In):
    reason: str = Field(min_length=1, max_length=500, examples=["Compressor failed"],
                        description="Why (recorded in the audit)")


class TreeLineOut(Out):
    location: LocationOut
    depth: int
    range_low_c: float | None = Field(description="Inherited from above when not its own")
    range_high_c: float | None
    occupied: int


class StoreIn(In):
    container_scan: str = _SCAN
    position_scan: str = _SCAN


class RemoveIn(In):
    container_scan: str = _SCAN
    reason: RemovalReason
    note: str = Field(default="", max_length=500)


class StayOut(Out):
    id: int
    container_id: int
    location_id: int
    stored_at: datetime
    removed_at: datetime | None
    removal_reason: str | None


class CellOut(Out):
    position: str
    code: str
    din: str | None
    container_kind: str | None
    container_status: str | None


class BoxMapOut(Out):
    code: str
    path: str
    grid: list[list[CellOut]]


class HistoryOut(Out):
    container_id: int
    container: str
    where: str
    stored_at: datetime
    stored_by: str
    removed_at: datetime | None
    removed_by: str | None
    reason: str | None
    note: str


@router.post("/storage/locations", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def add_location(body: LocationIn, actor: Keeper, session: SessionDep) -> LocationOut:
    """Create a storage location (a box with its positions)."""
    return LocationOut.model_validate(create_location(session, actor=actor,
                                                      **body.model_dump()))


@router.post("/storage/locations/{code}/deactivate", responses=errors(401, 403, 404, 409, 422))
def deactivate(code: Name, body: LocationUseIn, actor: Keeper,
               session: SessionDep) -> LocationOut:
    """Take an empty location out of use, with everything under it."""
    return LocationOut.model_validate(deactivate_location(session, actor=actor, code=code,
                                                          reason=body.reason))


@router.post("/storage/locations/{code}/reactivate", responses=errors(401, 403, 404, 409, 422))
def reactivate(code: Name, body: LocationUseIn, actor: Keeper,
               session: SessionDep) -> LocationOut:
    """Put a location back in use (a box with its positions), under a parent in use."""
    return LocationOut.model_validate(reactivate_location(session, actor=actor, code=code,
                                                          reason=body.reason))


@router.get("/storage/locations", responses=errors(401, 403))
def list_locations(_user: Reader, session: SessionDep) -> list[TreeLineOut]:
    """Every location but the positions, as a tree (depth first), with its range."""
    return [TreeLineOut(location=LocationOut.model_validate(line.location), depth=line.depth,
                        range_low_c=line.range.low_c, range_high_c=line.range.high_c,
                        occupied=line.occupied) for line in location_tree(session)]


@router.get("/storage/boxes/{code}", responses=errors(401, 403, 404, 422))
def get_box(code: Name, _user: Reader, session: SessionDep) -> BoxMapOut:
    """A box's map: each position and the container it holds."""
    found = box_map(session, code)
    return BoxMapOut(code=found.box.code, path=found.path, grid=[[CellOut(
        position=cell.position.name, code=cell.position.code, din=cell.din,
        container_kind=cell.container.kind if cell.container else None,
        container_status=cell.container.status if cell.container else None)
        for cell in line] for line in found.grid])


@router.post("/storage/store", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def store(body: StoreIn, actor: Storer, session: SessionDep) -> StayOut:
    """Scan a container into a free position (refused scans are recorded)."""
    return StayOut.model_validate(store_container(session, actor=actor,
                                                  **body.model_dump()))


@router.post("/storage/remove", responses=errors(401, 403, 404, 409, 422))
def remove(body: RemoveIn, actor: Storer, session: SessionDep) -> StayOut:
    """Scan a container out of storage, saying why (testing, discard, return)."""
    return StayOut.model_validate(remove_container(
        session, actor=actor, container_scan=body.container_scan, reason=body.reason.value,
        note=body.note))


@router.get("/products/{din}/storage", responses=errors(401, 403, 404, 422))
def history(din: Din, _user: Reader, session: SessionDep) -> list[HistoryOut]:
    """Where the product's containers have been stored, and when they came out."""
    product = product_by_din(session, din)
    return [HistoryOut.model_validate(stay) for stay in storage_history(session, product)]
