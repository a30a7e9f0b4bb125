"""Label printers (master data the administrator keeps): register, change, take out of
use; the lab reads them to choose where a label prints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import Field

from labels.stock import LabelStock
from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import In, Name, Out
from lims.models import User
from lims.services.labels import LABELLERS
from lims.services.printers import (
    PRINTER_KEEPERS,
    change_printer,
    deactivate_printer,
    printers,
    reactivate_printer,
    register_printer,
)

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["printers"])
Keeper = Annotated[User, Depends(require_roles(*PRINTER_KEEPERS,
                                               action="register or change label printers"))]
Reader = Annotated[User, Depends(require_roles(*(PRINTER_KEEPERS | LABELLERS),
                                               action="read the label printers"))]
_HOST = Field(min_length=1, max_length=255, examples=["zebra-lab1.hospital.local", "10.20.0.31"],
              description="Host name or IP address the printer takes ZPL on")


class PrinterIn(In):
    name: str = Field(min_length=1, max_length=60, examples=["ZEBRA-LAB1"],
                      description="The name the lab knows the printer by (unique)")
    location: str = Field(default="", max_length=120, examples=["Clean room 2, bench B"])
    host: str = _HOST
    port: int = Field(default=9100, ge=1, le=65535, description="Raw TCP port (a Zebra: 9100)")
    stock: LabelStock = Field(description="The label stock loaded; a label prints only on "
                                          "its own stock")


class PrinterChangeIn(In):
    """What changes (fields left out stay as they are), and why."""

    location: str | None = Field(default=None, max_length=120)
    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    stock: LabelStock | None = None
    reason: str = Field(min_length=1, max_length=500, examples=["Tube labels loaded for QC"],
                        description="Why (recorded in the audit)")


class PrinterUseIn(In):
    reason: str = Field(min_length=1, max_length=500, examples=["Sent for repair"],
                        description="Why (recorded in the audit)")


class PrinterOut(Out):
    id: int
    name: str
    location: str
    host: str
    port: int
    stock: LabelStock
    active: bool = Field(description="Offered for printing; out of use when false")
    created_at: datetime


@router.post("/printers", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 409, 422))
def add_printer(body: PrinterIn, actor: Keeper, session: SessionDep) -> PrinterOut:
    """Register a label printer with its address and label stock."""
    return PrinterOut.model_validate(register_printer(session, actor=actor,
                                                      **body.model_dump()))


@router.get("/printers", responses=errors(401, 403, 422))
def list_printers(_user: Reader, session: SessionDep,
                  active: Annotated[bool, Query(description="Only those in use")] = False
                  ) -> list[PrinterOut]:
    """Every registered label printer (or those in use), by name."""
    return [PrinterOut.model_validate(row) for row in printers(session, active_only=active)]


@router.patch("/printers/{name}", responses=errors(401, 403, 404, 409, 422))
def change(name: Name, body: PrinterChangeIn, actor: Keeper,
           session: SessionDep) -> PrinterOut:
    """Change a printer's place, address or label stock, with the reason."""
    return PrinterOut.model_validate(change_printer(session, actor=actor, name=name,
                                                    **body.model_dump()))


@router.post("/printers/{name}/deactivate", responses=errors(401, 403, 404, 409, 422))
def deactivate(name: Name, body: PrinterUseIn, actor: Keeper,
               session: SessionDep) -> PrinterOut:
    """Take a printer out of use (no longer offered; its print jobs keep its name)."""
    return PrinterOut.model_validate(deactivate_printer(session, actor=actor, name=name,
                                                        reason=body.reason))


@router.post("/printers/{name}/reactivate", responses=errors(401, 403, 404, 409, 422))
def reactivate(name: Name, body: PrinterUseIn, actor: Keeper,
               session: SessionDep) -> PrinterOut:
    """Put a printer back in use."""
    return PrinterOut.model_validate(reactivate_printer(session, actor=actor, name=name,
                                                        reason=body.reason))
