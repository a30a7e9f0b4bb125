"""Master data of materials and instruments: reagent lots (with their material) and equipment."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.schemas import Day, In
from lims.models import User
from lims.services.materials import (
    MASTER_DATA_ROLES,
    equipment_list,
    reagent_lots,
    register_equipment,
    register_reagent_lot,
)
from workflows.materials import EquipmentType, Material
from workflows.roles import LAB_ROLES

router = APIRouter(tags=["materials"])
Keeper = Annotated[User, Depends(require_roles(*MASTER_DATA_ROLES,
                                               action="register master data"))]
# The lab uses the master data, the administrator keeps it: both read it.
Reader = Annotated[User, Depends(require_roles(*(LAB_ROLES | MASTER_DATA_ROLES),
                                               action="read master data"))]


class ReagentLotIn(In):
    """A reagent or consumable lot, with its material and expiry (strict like every body)."""

    reagent: str = Field(min_length=1, max_length=120, examples=["Ficoll-Paque PREMIUM 1.077"])
    lot: str = Field(min_length=1, max_length=60, examples=["FP2404"])
    material: Material = Field(description="The kind of material; a step's lot field takes "
                                           "only its own")
    expires_on: Day
    manufacturer: str = Field(default="", max_length=120)
    grade: str = Field(default="GMP", max_length=20)


class ReagentLotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    reagent: str
    lot: str
    material: str
    expires_on: date
    manufacturer: str
    grade: str


class EquipmentIn(In):
    code: str = Field(min_length=1, max_length=40, examples=["CF-01"])
    kind: str = Field(min_length=1, max_length=60, examples=["Centrifuge", "CliniMACS Plus"],
                      description="Its first word names the type: "
                                  + ", ".join(t.value for t in EquipmentType))
    serial: str = Field(min_length=1, max_length=60)
    calibration_due: Day


class EquipmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    kind: str
    serial: str
    calibration_due: date


@router.post("/reagent-lots", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 409, 422))
def add_lot(body: ReagentLotIn, actor: Keeper, session: SessionDep) -> ReagentLotOut:
    """Register a reagent or consumable lot with its material and expiry."""
    return ReagentLotOut.model_validate(register_reagent_lot(session, actor=actor,
                                                             **body.model_dump()))


@router.get("/reagent-lots", responses=errors(401, 403))
def list_lots(_user: Reader, session: SessionDep) -> list[ReagentLotOut]:
    """Every registered lot, with its material and expiry."""
    return [ReagentLotOut.model_validate(row) for row in reagent_lots(session)]


@router.post("/equipment", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 409, 422))
def add_equipment(body: EquipmentIn, actor: Keeper, session: SessionDep) -> EquipmentOut:
    """Register an instrument with its type and calibration due date."""
    return EquipmentOut.model_validate(register_equipment(session, actor=actor,
                                                          **body.model_dump()))


@router.get("/equipment", responses=errors(401, 403))
def list_equipment(_user: Reader, session: SessionDep) -> list[EquipmentOut]:
    """Every registered instrument, with its type and calibration due date."""
    return [EquipmentOut.model_validate(row) for row in equipment_list(session)]
