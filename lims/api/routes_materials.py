"""Master data of materials and instruments: reagent lots (with their material, received into
quarantine and released for use by QA) and equipment (with its calibration)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Day, In, Name
from lims.models import User
from lims.services.materials import (
    LOT_DECIDERS,
    MASTER_DATA_ROLES,
    equipment_list,
    reagent_lots,
    record_calibration,
    register_equipment,
    register_reagent_lot,
    reject_reagent_lot,
    release_reagent_lot,
)
from workflows.materials import EquipmentType, LotStatus, Material
from workflows.roles import LAB_ROLES

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["materials"])
Keeper = Annotated[User, Depends(require_roles(*MASTER_DATA_ROLES,
                                               action="register master data"))]
# The lab uses the master data, the administrator keeps it: both read it.
Reader = Annotated[User, Depends(require_roles(*(LAB_ROLES | MASTER_DATA_ROLES),
                                               action="read master data"))]
Calibrator = Annotated[User, Depends(require_roles(*MASTER_DATA_ROLES,
                                                   action="record equipment calibration"))]
Inspector = Annotated[User, Depends(require_roles(*LOT_DECIDERS,
                                                  action="release or reject reagent lots"))]


class ReagentLotIn(In):
    """A reagent or consumable lot, with its material and expiry (strict like every body)."""

    reagent: str = Field(min_length=1, max_length=120, examples=["Ficoll-Paque PREMIUM 1.077"])
    lot: str = Field(min_length=1, max_length=60, examples=["FP2404"])
    material: Material = Field(description="The kind of material; a step's lot field takes "
                                           "only its own")
    expires_on: Day
    manufacturer: str = Field(default="", max_length=120)
    grade: str = Field(default="GMP", max_length=20)
    received_on: Day | None = Field(default=None, description="The day the lot arrived "
                                    "(today when left out); not in the future, not after "
                                    "its expiry")


class ReagentLotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    reagent: str
    lot: str
    material: str
    expires_on: date
    manufacturer: str
    grade: str
    status: LotStatus = Field(description="quarantine on receipt, released for use by QA, "
                                          "or rejected; a step takes only a released lot")
    received_on: date | None = Field(description="None for a lot registered before lots "
                                                 "recorded it")
    status_changed_at: datetime | None
    status_reason: str


class LotDecisionIn(In):
    """QA's release (reason optional) or rejection (reason required) of a lot."""

    reason: str = Field(default="", max_length=500,
                        description="Why (recorded in the audit); required to reject")


class CalibrationIn(In):
    calibration_due: Day = Field(description="The new calibration due date, later than today")
    reason: str = Field(max_length=500, examples=["Calibrated, certificate CAL-2026-114"],
                        description="What was done (recorded in the audit)")


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


@router.get("/reagent-lots", responses=errors(401, 403, 422))
def list_lots(_user: Reader, session: SessionDep,
              lot_status: Annotated[LotStatus | None, Query(alias="status")] = None
              ) -> list[ReagentLotOut]:
    """Every registered lot (or those of one status), with its material, expiry and status."""
    return [ReagentLotOut.model_validate(row) for row in reagent_lots(session, lot_status)]


@router.post("/reagent-lots/{lot}/release", responses=errors(401, 403, 404, 409, 422))
def release_lot(lot: Name, body: LotDecisionIn, actor: Inspector,
                session: SessionDep) -> ReagentLotOut:
    """QA releases a lot in quarantine for use, after incoming inspection."""
    return ReagentLotOut.model_validate(release_reagent_lot(session, actor=actor, lot=lot,
                                                            reason=body.reason))


@router.post("/reagent-lots/{lot}/reject", responses=errors(401, 403, 404, 409, 422))
def reject_lot(lot: Name, body: LotDecisionIn, actor: Inspector,
               session: SessionDep) -> ReagentLotOut:
    """QA rejects a lot, with the reason: it is never used in a step."""
    return ReagentLotOut.model_validate(reject_reagent_lot(session, actor=actor, lot=lot,
                                                           reason=body.reason))


@router.post("/equipment", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 409, 422))
def add_equipment(body: EquipmentIn, actor: Keeper, session: SessionDep) -> EquipmentOut:
    """Register an instrument with its type and calibration due date."""
    return EquipmentOut.model_validate(register_equipment(session, actor=actor,
                                                          **body.model_dump()))


@router.post("/equipment/{code}/calibration", responses=errors(401, 403, 404, 422))
def calibrate(code: Name, body: CalibrationIn, actor: Calibrator,
              session: SessionDep) -> EquipmentOut:
    """Record an instrument's calibration: its new due date and what was done."""
    return EquipmentOut.model_validate(record_calibration(
        session, actor=actor, code=code, calibration_due=body.calibration_due,
        reason=body.reason))


@router.get("/equipment", responses=errors(401, 403))
def list_equipment(_user: Reader, session: SessionDep) -> list[EquipmentOut]:
    """Every registered instrument, with its type and calibration due date."""
    return [EquipmentOut.model_validate(row) for row in equipment_list(session)]
