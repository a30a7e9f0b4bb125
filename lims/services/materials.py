"""Reagent lots and equipment: master data, and the checks a step runs against them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from sqlmodel import Session, select

from lims.audit import PendingEvent, append
from lims.models import Equipment, ReagentLot, User
from lims.services.common import require_role
from workflows.errors import DomainError, ErrorCode
from workflows.steps import StepSpec

MASTER_DATA_ROLES = frozenset({"admin", "supervisor"})
M = TypeVar("M", ReagentLot, Equipment)


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
    def problem(row: ReagentLot) -> str | None:
        if row.expires_on >= today:
            return None
        return f"{row.reagent} lot {row.lot} expired on {row.expires_on.isoformat()}"
    return _problems(session, spec, spec.reagent_fields, values, ReagentLot, ReagentLot.lot,
                     ErrorCode.REAGENT_UNKNOWN, "lot", problem)


def uncalibrated_equipment(session: Session, spec: StepSpec, values: Mapping[str, object],
                           today: date) -> list[str]:
    """Problems with the step's equipment; unregistered equipment is refused outright."""
    def problem(row: Equipment) -> str | None:
        if row.calibration_due >= today:
            return None
        return f"{row.kind} {row.code} calibration was due {row.calibration_due.isoformat()}"
    return _problems(session, spec, spec.equipment_fields, values, Equipment, Equipment.code,
                     ErrorCode.EQUIPMENT_UNKNOWN, "equipment", problem)


def _problems(session: Session, spec: StepSpec, fields: Iterable[str],
              values: Mapping[str, object], model: type[M], key: Any, unknown: ErrorCode,
              noun: str, problem: Callable[[M], str | None]) -> list[str]:
    found = []
    for name in fields:
        value = values.get(name)
        if value is None:
            continue
        row = session.exec(select(model).where(key == str(value))).first()
        if row is None:
            raise DomainError(unknown, f"{spec.field(name).label}: {noun} {value} is not "
                                       f"registered")
        text = problem(row)
        if text is not None:
            found.append(text)
    return found
