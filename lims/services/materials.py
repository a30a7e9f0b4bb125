"""Reagent lots and equipment: master data, and the checks a step runs against them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlmodel import Session, select

from lims.audit import PendingEvent, append
from lims.models import Equipment, ReagentLot, User
from lims.services.common import require_role
from workflows.errors import DomainError, ErrorCode
from workflows.steps import StepSpec

MASTER_DATA_ROLES = frozenset({"admin", "supervisor"})


def register_reagent_lot(session: Session, *, actor: User | None, reagent: str, lot: str,
                         expires_on: date, manufacturer: str = "", grade: str = "GMP",
                         ) -> ReagentLot:
    if actor is not None:
        require_role(actor, MASTER_DATA_ROLES, "register reagent lots")
    if session.exec(select(ReagentLot).where(ReagentLot.lot == lot)).first():
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"reagent lot {lot} is already registered")
    row = ReagentLot(reagent=reagent, lot=lot, expires_on=expires_on,
                     manufacturer=manufacturer, grade=grade)
    session.add(row)
    append(session, [PendingEvent("reagent_lot_registered", "reagent_lot", lot, "expires_on",
                                  None, expires_on.isoformat())],
           user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return row


def register_equipment(session: Session, *, actor: User | None, code: str, kind: str,
                       serial: str, calibration_due: date) -> Equipment:
    if actor is not None:
        require_role(actor, MASTER_DATA_ROLES, "register equipment")
    if session.exec(select(Equipment).where(Equipment.code == code)).first():
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"equipment {code} is already registered")
    row = Equipment(code=code, kind=kind, serial=serial, calibration_due=calibration_due)
    session.add(row)
    append(session, [PendingEvent("equipment_registered", "equipment", code, "calibration_due",
                                  None, calibration_due.isoformat())],
           user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return row


def expired_reagents(session: Session, spec: StepSpec, values: Mapping[str, object],
                     today: date) -> list[str]:
    """Problems with the step's reagent lots; an unregistered lot is refused outright."""
    problems = []
    for name in spec.reagent_fields:
        lot = values.get(name)
        if lot is None:
            continue
        row = session.exec(select(ReagentLot).where(ReagentLot.lot == str(lot))).first()
        if row is None:
            raise DomainError(ErrorCode.REAGENT_UNKNOWN,
                              f"{spec.field(name).label}: lot {lot} is not registered")
        if row.expires_on < today:
            problems.append(f"{row.reagent} lot {lot} expired on {row.expires_on.isoformat()}")
    return problems


def uncalibrated_equipment(session: Session, spec: StepSpec, values: Mapping[str, object],
                           today: date) -> list[str]:
    problems = []
    for name in spec.equipment_fields:
        code = values.get(name)
        if code is None:
            continue
        row = session.exec(select(Equipment).where(Equipment.code == str(code))).first()
        if row is None:
            raise DomainError(ErrorCode.EQUIPMENT_UNKNOWN,
                              f"{spec.field(name).label}: equipment {code} is not registered")
        if row.calibration_due < today:
            problems.append(f"{row.kind} {code} calibration was due "
                            f"{row.calibration_due.isoformat()}")
    return problems
