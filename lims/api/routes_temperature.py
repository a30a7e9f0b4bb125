"""Storage temperatures (issue 16): probes, the monitoring file, readings by hand,
excursions and their acknowledgement. Thin routes over lims.services.temperature*."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import Field

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din, Id, In, Name, Out
from lims.models import User
from lims.services.common import product_by_din
from lims.services.storage_locations import LOCATION_KEEPERS, location_by_code
from lims.services.temperature import (
    MAX_FILE_BYTES,
    RECORDERS,
    enter_reading,
    import_readings,
    readings_of,
    register_device,
)
from lims.services.temperature_excursions import (
    ACKNOWLEDGERS,
    ExcursionView,
    acknowledge_excursion,
    excursion_view,
    excursions,
)
from workflows.roles import LAB_ROLES

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["temperature"])
Keeper = Annotated[User, Depends(require_roles(*LOCATION_KEEPERS,
                                               action="assign temperature probes"))]
Recorder = Annotated[User, Depends(require_roles(*RECORDERS,
                                                 action="record temperature readings"))]
Acknowledger = Annotated[User, Depends(require_roles(*ACKNOWLEDGERS,
                                                     action="acknowledge excursions"))]
Reader = Annotated[User, Depends(require_roles(*(LAB_ROLES | LOCATION_KEEPERS),
                                               action="read storage temperatures"))]
_CODE = Field(min_length=2, max_length=40, description="The storage location's code")


class DeviceIn(In):
    device: str = Field(min_length=1, max_length=60, examples=["FRIDGE-PROBE-1"],
                        description="The probe as the monitoring system's export names it")
    location_code: str = _CODE


class DeviceOut(Out):
    id: int
    device: str
    location_id: int


class ImportIn(In):
    content: str = Field(min_length=1, max_length=MAX_FILE_BYTES, description=(
        "The monitoring system's CSV export: lines of device,time,celsius; the time in ISO "
        "8601 with its zone; an optional header line"))


class ImportOut(Out):
    sha256: str
    recorded: int = Field(description="New readings recorded")
    already: int = Field(description="Readings this or another file imported before")
    excursions: list[int] = Field(description="Excursions raised or changed by this file")


class ReadingIn(In):
    location_code: str = _CODE
    measured_at: datetime = Field(description="When it was read, with its zone")
    celsius: float = Field(ge=-273.15, le=150.0)


class ReadingOut(Out):
    id: int
    location_id: int
    measured_at: datetime
    celsius: float
    source: str = Field(description="import (monitoring system) or hand")
    import_hash: str | None


class ExcursionOut(Out):
    id: int
    location: str
    kind: str = Field(description="temperature (outside the range) or no_data (a gap)")
    started_at: datetime
    ended_at: datetime | None = Field(description="None: still outside at the last reading")
    min_c: float | None
    max_c: float | None
    range_min_c: float | None
    range_max_c: float | None
    words: str
    dins: list[str] = Field(description="Products with a container stored there during it")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledgement: str


class AcknowledgeExcursionIn(In):
    comment: str = Field(min_length=1, max_length=2000,
                         description="QA's assessment of the excursion")


def excursion_out(view: ExcursionView) -> ExcursionOut:
    e = view.excursion
    assert e.id is not None
    return ExcursionOut(id=e.id, location=view.location, kind=e.kind, started_at=e.started_at,
                        ended_at=e.ended_at, min_c=e.min_c, max_c=e.max_c,
                        range_min_c=e.range_min_c, range_max_c=e.range_max_c,
                        words=view.words, dins=view.dins, acknowledged_at=e.acknowledged_at,
                        acknowledged_by=view.acknowledged_by,
                        acknowledgement=e.acknowledgement)


@router.post("/temperature/devices", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def add_device(body: DeviceIn, actor: Keeper, session: SessionDep) -> DeviceOut:
    """Assign a monitoring probe to a storage location."""
    return DeviceOut.model_validate(register_device(
        session, actor=actor, device=body.device, location_code=body.location_code))


@router.post("/temperature/imports", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 409, 422))
def import_file(body: ImportIn, actor: Recorder, session: SessionDep) -> ImportOut:
    """Import the monitoring system's file: all of it or nothing, each reading once."""
    result = import_readings(session, actor=actor, content=body.content.encode())
    return ImportOut(sha256=result.sha256, recorded=result.recorded, already=result.already,
                     excursions=result.excursions)


@router.post("/temperature/readings", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def add_reading(body: ReadingIn, actor: Recorder, session: SessionDep) -> ReadingOut:
    """Record a reading typed by hand."""
    return ReadingOut.model_validate(enter_reading(
        session, actor=actor, location_code=body.location_code, measured_at=body.measured_at,
        celsius=body.celsius))


@router.get("/temperature/locations/{code}/readings", responses=errors(401, 403, 404, 422))
def location_readings(code: Name, _user: Reader, session: SessionDep,
                      limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[ReadingOut]:
    """A location's latest readings, newest first."""
    location = location_by_code(session, code)
    return [ReadingOut.model_validate(r) for r in readings_of(session, location, limit)]


@router.get("/temperature/excursions", responses=errors(401, 403, 422))
def list_excursions(_user: Reader, session: SessionDep,
                    unacknowledged: bool = False) -> list[ExcursionOut]:
    """Excursions, newest first (only those QA has not acknowledged, if asked)."""
    return [excursion_out(v) for v in excursions(session, unacknowledged_only=unacknowledged)]


@router.post("/temperature/excursions/{excursion_id}/acknowledge",
             responses=errors(401, 403, 404, 409, 422))
def acknowledge(excursion_id: Id, body: AcknowledgeExcursionIn, actor: Acknowledger,
                session: SessionDep) -> ExcursionOut:
    """QA acknowledges an excursion with their assessment."""
    acknowledge_excursion(session, actor=actor, excursion_id=excursion_id, comment=body.comment)
    return excursion_out(excursion_view(session, excursion_id))


@router.get("/products/{din}/temperature-excursions", responses=errors(401, 403, 404, 422))
def product_excursions(din: Din, _user: Reader, session: SessionDep) -> list[ExcursionOut]:
    """The excursions that touched any container of the product."""
    product = product_by_din(session, din)
    return [excursion_out(v) for v in excursions(session, product=product)]
