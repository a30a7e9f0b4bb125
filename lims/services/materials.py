"""Reagent lots and equipment: master data, and the checks a step runs against them.

A lot is registered with its material (workflows.materials.Material) and an instrument
with a kind whose first word names its type; a step's lot or equipment field takes
only its own kind, in date and in calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Equipment, ReagentLot, User
from lims.services.common import require_role, utcnow
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.materials import (
    EQUIPMENT_NAMES,
    MATERIAL_NAMES,
    Material,
    equipment_type_of,
    parse_material,
    wrong_equipment,
    wrong_material,
)
from workflows.roles import Role
from workflows.steps import Field, StepSpec
from workflows.typed_text import free_text_problem, identifier_problem

MASTER_DATA_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})
M = TypeVar("M", ReagentLot, Equipment)


# A date outside these years is a typing slip (1900, 9999), never a real lot or calibration.
_EARLIEST_YEAR = 2000
_YEARS_AHEAD = 30


def _plausible_day(what: str, day: date) -> None:
    latest = utcnow().year + _YEARS_AHEAD
    if not _EARLIEST_YEAR <= day.year <= latest:
        raise InvalidInput(f"{what} {day.isoformat()} cannot be right: it must lie between "
                           f"{_EARLIEST_YEAR} and {latest}")


def register_reagent_lot(session: Session, *, actor: User | None, reagent: str, lot: str,
                         material: str, expires_on: date, manufacturer: str = "",
                         grade: str = "GMP") -> ReagentLot:
    """Register a lot of `material` (a Material code, e.g. "density_gradient_medium")."""
    if actor is not None:
        require_role(actor, MASTER_DATA_ROLES, "register reagent lots")
    kind = _material(material)
    lot = lot.strip()
    if not lot or not reagent.strip():
        raise InvalidInput("a reagent lot needs the product name and the lot number")
    _check_text(identifiers={"lot number": lot},
                texts={"product name": reagent, "manufacturer": manufacturer, "grade": grade})
    _plausible_day("expiry date", expires_on)
    if session.exec(select(ReagentLot).where(ReagentLot.lot == lot)).first():
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"reagent lot {lot} is already registered")
    row = ReagentLot(reagent=reagent.strip(), lot=lot, material=kind.value,
                     expires_on=expires_on, manufacturer=manufacturer, grade=grade)
    session.add(row)
    append(session, [
        PendingEvent(AuditAction.REAGENT_LOT_REGISTERED, "reagent_lot", lot, "expires_on", None,
                     expires_on.isoformat()),
        PendingEvent(AuditAction.REAGENT_LOT_REGISTERED, "reagent_lot", lot, "material", None,
                     kind.value),
    ], user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return row


def record_lot_material(session: Session, *, actor: User | None, lot: str,
                        material: str) -> ReagentLot:
    """Record the material of a lot registered before lots carried one (it had none)."""
    if actor is not None:
        require_role(actor, MASTER_DATA_ROLES, "record the material of reagent lots")
    kind = _material(material)
    _check_text(identifiers={"lot number": lot}, texts={})
    row = session.exec(select(ReagentLot).where(ReagentLot.lot == lot)).first()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"reagent lot {lot} is not registered")
    if row.material:
        raise DomainError(ErrorCode.CONFLICT, f"reagent lot {lot} is already recorded as "
                                              f"{_material_words(row.material)}; a lot's "
                                              "material is not changed")
    row.material = kind.value
    session.add(row)
    append(session, [PendingEvent(AuditAction.REAGENT_LOT_MATERIAL_RECORDED, "reagent_lot", lot,
                                  "material", None, kind.value)],
           user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return row


def _material_words(material: str) -> str:
    try:
        return MATERIAL_NAMES[Material(material)]
    except ValueError:
        return material.replace("_", " ")


def _check_text(*, identifiers: Mapping[str, str], texts: Mapping[str, str]) -> None:
    """Refuse master data that cannot be real: an identifier (matched against labels and
    certificates) in anything but printable ASCII, any text with a control character."""
    problems = [f"{label}: {problem}" for label, value in identifiers.items()
                if (problem := identifier_problem(value)) is not None]
    problems += [f"{label}: {problem}" for label, value in texts.items()
                 if (problem := free_text_problem(value)) is not None]
    if problems:
        raise InvalidInput("; ".join(problems))


def _material(text: str) -> Material:
    try:
        return parse_material(text)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def register_equipment(session: Session, *, actor: User | None, code: str, kind: str,
                       serial: str, calibration_due: date) -> Equipment:
    if actor is not None:
        require_role(actor, MASTER_DATA_ROLES, "register equipment")
    code = code.strip()
    if not code:
        raise InvalidInput("equipment needs its equipment ID")
    _check_text(identifiers={"equipment ID": code, "serial number": serial},
                texts={"kind": kind})
    _plausible_day("calibration due date", calibration_due)
    if equipment_type_of(kind) is None:
        known = " or ".join(f"'{name}'" for name in EQUIPMENT_NAMES.values())
        raise InvalidInput(f"equipment kind {kind!r} names no known type: start it with "
                           f"{known} (e.g. 'CliniMACS Plus')")
    if session.exec(select(Equipment).where(Equipment.code == code)).first():
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"equipment {code} is already registered")
    row = Equipment(code=code, kind=kind, serial=serial, calibration_due=calibration_due)
    session.add(row)
    append(session, [PendingEvent(AuditAction.EQUIPMENT_REGISTERED, "equipment", code,
                                  "calibration_due", None, calibration_due.isoformat())],
           user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return row


def reagent_lots(session: Session) -> list[ReagentLot]:
    """Every registered lot, by lot number."""
    return list(session.exec(select(ReagentLot).order_by(col(ReagentLot.lot))))


def equipment_list(session: Session) -> list[Equipment]:
    """Every registered instrument, by code."""
    return list(session.exec(select(Equipment).order_by(col(Equipment.code))))


def expired_reagents(session: Session, spec: StepSpec, values: Mapping[str, object],
                     today: date) -> list[str]:
    """Problems with the step's reagent lots; an unregistered lot, or a lot of another
    material than the field takes, is refused outright."""
    def problem(field: Field, row: ReagentLot) -> str | None:
        assert field.material is not None  # a reagent field declares its material
        wrong = wrong_material(row.lot, row.reagent, row.material, field.material)
        if wrong is not None:
            raise DomainError(ErrorCode.MATERIAL_WRONG_KIND, f"{field.label}: {wrong}")
        if row.expires_on >= today:
            return None
        return f"{row.reagent} lot {row.lot} expired on {row.expires_on.isoformat()}"
    return _problems(session, spec, spec.reagent_fields, values, ReagentLot, ReagentLot.lot,
                     ErrorCode.REAGENT_UNKNOWN, "lot", problem)


def uncalibrated_equipment(session: Session, spec: StepSpec, values: Mapping[str, object],
                           today: date) -> list[str]:
    """Problems with the step's equipment; unregistered equipment, or an instrument of
    another type than the field takes, is refused outright."""
    def problem(field: Field, row: Equipment) -> str | None:
        assert field.equipment_type is not None  # an equipment field declares its type
        wrong = wrong_equipment(row.code, row.kind, field.equipment_type)
        if wrong is not None:
            raise DomainError(ErrorCode.EQUIPMENT_WRONG_KIND, f"{field.label}: {wrong}")
        if row.calibration_due >= today:
            return None
        return f"{row.kind} {row.code} calibration was due {row.calibration_due.isoformat()}"
    return _problems(session, spec, spec.equipment_fields, values, Equipment, Equipment.code,
                     ErrorCode.EQUIPMENT_UNKNOWN, "equipment", problem)


def _problems(session: Session, spec: StepSpec, fields: Iterable[str],
              values: Mapping[str, object], model: type[M], key: Any, unknown: ErrorCode,
              noun: str, problem: Callable[[Field, M], str | None]) -> list[str]:
    found = []
    for name in fields:
        value = values.get(name)
        if value is None:
            continue
        row = session.exec(select(model).where(key == str(value))).first()
        if row is None:
            raise DomainError(unknown, f"{spec.field(name).label}: {noun} {value} is not "
                                       f"registered")
        text = problem(spec.field(name), row)
        if text is not None:
            found.append(text)
    return found
