"""Storage temperature pages (issue 16): upload the monitoring system's file, type a reading
by hand, the excursions with the DINs they touched (QA acknowledges each with a comment),
and a location's readings. Every POST redirects (post/redirect/get); a refusal is shown on
the page with what was typed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import FormData, UploadFile

from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.config import get_settings
from lims.models import StorageLocation, TemperatureDevice, User
from lims.services.storage_locations import LOCATION_KEEPERS, location_by_code, range_of
from lims.services.temperature import (
    MAX_FILE_BYTES,
    RECORDERS,
    enter_reading,
    import_readings,
    readings_of,
)
from lims.services.temperature_excursions import (
    ACKNOWLEDGERS,
    acknowledge_excursion,
    excursions,
)
from lims.web.deps import DbSession, Form, field, require
from lims.web.forms import TIME_HINT, TimeEntryError, parse_time
from lims.web.render import now, redirect, render, site_zone
from workflows.errors import DomainError, InvalidInput
from workflows.roles import LAB_ROLES

router = APIRouter(route_class=OneThreadRoute)
Reader = Annotated[User, Depends(require(LAB_ROLES | LOCATION_KEEPERS, "storage temperatures"))]
Recorder = Annotated[User, Depends(require(RECORDERS, "temperature readings"))]
Acknowledger = Annotated[User, Depends(require(ACKNOWLEDGERS, "excursion acknowledgements"))]


def _page(request: Request, db: Session, *, error: str = "", typed: FormData | None = None,
          status_code: int = 200) -> HTMLResponse:
    devices = list(db.exec(select(TemperatureDevice, StorageLocation).join(
        StorageLocation, col(StorageLocation.id) == col(TemperatureDevice.location_id))
        .order_by(col(TemperatureDevice.device))))
    monitored = sorted({loc.code for _d, loc in devices})
    return render(request, "temperature.html", {
        "error": error, "typed": dict(typed or {}), "devices": devices,
        "monitored": monitored, "time_hint": TIME_HINT,
        # The request size limit applies before the import's own (the CLI has only that).
        "excursions": excursions(db),
        "max_kb": min(MAX_FILE_BYTES, get_settings().max_request_bytes) // 1024,
    }, status_code=status_code)


@router.get("/temperature")
def temperature_page(request: Request, user: Reader, db: DbSession) -> HTMLResponse:
    """Upload the monitoring file, type a reading, the excursions to assess."""
    return _page(request, db)


@router.post("/temperature/import")
def import_page(request: Request, user: Recorder, db: DbSession, form: Form) -> Response:
    """Import the uploaded monitoring file: all of it or nothing."""
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose the monitoring system's CSV file to upload")
        content = upload.file.read(MAX_FILE_BYTES + 1)
        result = import_readings(db, actor=user, content=content)
    except DomainError as refused:
        db.rollback()
        return _page(request, db, error=refused.detail, status_code=status_of(refused.code))
    raised = (f" {len(result.excursions)} excursion(s) raised or changed: QA and the "
              "supervisors are notified." if result.excursions else "")
    return redirect("/temperature", f"{result.recorded} new reading(s) recorded, "
                                    f"{result.already} imported before.{raised}")


@router.post("/temperature/readings")
def reading_page(request: Request, user: Recorder, db: DbSession, form: Form) -> Response:
    """Record a reading typed by hand."""
    try:
        try:
            when = parse_time(field(form, "measured_at"), site_zone(), now())
        except TimeEntryError as error:
            raise InvalidInput(f"time: {error}") from None
        row = enter_reading(db, actor=user, location_code=field(form, "location_code"),
                            measured_at=when, celsius=field(form, "celsius"))
    except DomainError as refused:
        db.rollback()
        return _page(request, db, error=refused.detail, typed=form,
                     status_code=status_of(refused.code))
    return redirect("/temperature", f"Reading of {row.celsius:g} °C recorded.")


@router.post("/temperature/excursions/{excursion_id}/acknowledge")
def acknowledge_page(excursion_id: int, request: Request, user: Acknowledger, db: DbSession,
                     form: Form) -> Response:
    """QA acknowledges an excursion with their assessment."""
    try:
        acknowledge_excursion(db, actor=user, excursion_id=excursion_id,
                              comment=field(form, "comment"))
    except DomainError as refused:
        db.rollback()
        return _page(request, db, error=refused.detail, status_code=status_of(refused.code))
    return redirect("/temperature", f"Excursion {excursion_id} acknowledged.")


@router.get("/temperature/locations/{code}")
def location_page(code: str, request: Request, user: Reader, db: DbSession) -> HTMLResponse:
    """A location's latest readings and its excursions."""
    try:
        location = location_by_code(db, code[:40])
    except DomainError as refused:
        return render(request, "error.html", {"message": refused.detail},
                      status_code=status_of(refused.code))
    context: dict[str, Any] = {
        "location": location, "range": range_of(db, location),
        "readings": readings_of(db, location),
        "excursions": excursions(db, location_id=location.id)}
    return render(request, "temperature_location.html", context)
