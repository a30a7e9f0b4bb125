"""Reagent lots and equipment: master data, and the checks a step runs against them.

A lot is registered with its material (workflows.materials.Material) and an instrument
with a kind whose first word names its type; a step's lot or equipment field takes
only its own kind, in date and in calibration. A lot a person registers is received into
quarantine and QA releases it for use after incoming inspection, or rejects it
(workflows.materials.LotStatus); a step takes only a released lot. Reference and demo lots
(the seed, no person) are registered released.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import AuditEvent, Equipment, ReagentLot, User
from lims.services.common import require_role, utcnow
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound
from workflows.materials import (
    EQUIPMENT_NAMES,
    LOT_STATUS_NAMES,
    MATERIAL_NAMES,
    REASON_REQUIRED_FOR,
    LotStatus,
    Material,
    equipment_type_of,
    lot_change_problem,
    not_released,
    parse_material,
    wrong_equipment,
    wrong_material,
)
from workflows.roles import Role
from workflows.steps import Field, StepSpec
from workflows.typed_text import free_text_problem, identifier_problem

MASTER_DATA_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})
# Releasing a lot for use, or rejecting it, is QA's decision after incoming inspection.
LOT_DECIDERS = frozenset({Role.QA})
M = TypeVar("M", ReagentLot, Equipment)


# A date outside these years is a typing slip (1900, 9999), never a real lot or calibration.
_EARLIEST_YEAR = 2000
_YEARS_AHEAD = 30


def _plausible_day(what: str, day: date) -> None:
    latest = utcnow().year + _YEARS_AHEAD
    if not _EARLIEST_YEAR <= day.year <= latest:
        raise InvalidInput(f"{what} {day.isoformat()} cannot be right: it must lie between "
                           f"{_EARLIEST_YEAR} and {latest}")


def site_today() -> date:
    """Today in the site's time zone (the date on the lab's calendar)."""
    return utcnow().astimezone(ZoneInfo(get_settings().time_zone)).date()


def register_reagent_lot(session: Session, *, actor: User | None, reagent: str, lot: str,
                         material: str, expires_on: date, manufacturer: str = "",
                         grade: str = "GMP", received_on: date | None = None) -> ReagentLot:
    """Register a lot of `material` (a Material code, e.g. "density_gradient_medium"),
    received on `received_on` (today by default): into quarantine when a person registers
    it, released when the seed registers reference data (`actor` None)."""
    if actor is not None:
        require_role(actor, MASTER_DATA_ROLES, "register reagent lots")
    kind = _material(material)
    lot = lot.strip()
    if not lot or not reagent.strip():
        raise InvalidInput("a reagent lot needs the product name and the lot number")
    _check_text(identifiers={"lot number": lot},
                texts={"product name": reagent, "manufacturer": manufacturer, "grade": grade})
    _plausible_day("expiry date", expires_on)
    received = _received_on(received_on, expires_on)
    if session.exec(select(ReagentLot).where(ReagentLot.lot == lot)).first():
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"reagent lot {lot} is already registered")
    status = LotStatus.QUARANTINE if actor is not None else LotStatus.RELEASED
    row = ReagentLot(reagent=reagent.strip(), lot=lot, material=kind.value,
                     expires_on=expires_on, manufacturer=manufacturer, grade=grade,
                     received_on=received, status=status.value,
                     status_changed_at=utcnow() if actor is None else None)
    session.add(row)
    append(session, [
        PendingEvent(AuditAction.REAGENT_LOT_REGISTERED, "reagent_lot", lot, name, None, value)
        for name, value in (("expires_on", expires_on.isoformat()), ("material", kind.value),
                            ("received_on", received.isoformat()), ("status", status.value))
    ], user_id=actor.id if actor else None, username=actor.username if actor else "system")
    session.commit()
    return row


def _received_on(received_on: date | None, expires_on: date) -> date:
    """The day a lot was received: today by default, never ahead of today or its expiry."""
    today = site_today()
    received = received_on or today
    _plausible_day("date received", received)
    if received > today:
        raise InvalidInput(f"date received {received.isoformat()} is in the future: a lot is "
                           f"registered on or after the day it arrives (today is "
                           f"{today.isoformat()})")
    if received > expires_on:
        raise InvalidInput(f"date received {received.isoformat()} is after the expiry date "
                           f"{expires_on.isoformat()}: check both dates on the delivery")
    return received


def release_reagent_lot(session: Session, *, actor: User, lot: str,
                        reason: str = "") -> ReagentLot:
    """QA releases a lot in quarantine for use after incoming inspection (four eyes: not
    the person who registered it)."""
    return _decide(session, actor, lot, LotStatus.RELEASED, reason)


def reject_reagent_lot(session: Session, *, actor: User, lot: str, reason: str) -> ReagentLot:
    """QA rejects a lot (inspection failed, damaged, recalled), with the reason."""
    return _decide(session, actor, lot, LotStatus.REJECTED, reason)


def _decide(session: Session, actor: User, lot: str, wanted: LotStatus,
            reason: str) -> ReagentLot:
    verb = "release" if wanted == LotStatus.RELEASED else "reject"
    require_role(actor, LOT_DECIDERS, f"{verb} reagent lots")
    lot, reason = lot.strip(), reason.strip()
    _check_text(identifiers={"lot number": lot}, texts={"reason": reason})
    if len(reason) > 500:
        raise InvalidInput(f"the reason is {len(reason)} characters long; at most 500")
    row = session.exec(select(ReagentLot).where(ReagentLot.lot == lot)
                       .with_for_update()).first()
    if row is None:
        raise NotFound(f"reagent lot {lot} is not registered")
    problem = lot_change_problem(row.lot, row.status, wanted)
    if problem is not None:
        raise DomainError(ErrorCode.CONFLICT, problem)
    if wanted in REASON_REQUIRED_FOR and not reason:
        raise DomainError(ErrorCode.REASON_REQUIRED,
                          f"say why lot {row.lot} is {LOT_STATUS_NAMES[wanted]}")
    if wanted == LotStatus.RELEASED:
        _check_releasable(session, actor, row)
    old = row.status
    row.status, row.status_reason = wanted.value, reason
    row.status_changed_by_id, row.status_changed_at = actor.id, utcnow()
    session.add(row)
    append(session, [PendingEvent(AuditAction.REAGENT_LOT_STATUS_CHANGED, "reagent_lot",
                                  row.lot, "status", old, wanted.value, reason or None)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def _check_releasable(session: Session, actor: User, row: ReagentLot) -> None:
    """An expired lot is not released; nor by the person who registered it (four eyes: the
    registering user is the one the audit trail names)."""
    if row.expires_on < site_today():
        raise DomainError(ErrorCode.REAGENT_EXPIRED,
                          f"{row.reagent} lot {row.lot} expired on "
                          f"{row.expires_on.isoformat()}: an expired lot is not released; "
                          f"reject it")
    registered_by = session.exec(select(AuditEvent.user_id).where(
        AuditEvent.action == AuditAction.REAGENT_LOT_REGISTERED,
        AuditEvent.entity == "reagent_lot", AuditEvent.entity_id == row.lot)).first()
    if registered_by is not None and registered_by == actor.id:
        raise DomainError(ErrorCode.NOT_INDEPENDENT,
                          f"{actor.username} registered lot {row.lot}: another QA person "
                          f"inspects and releases it")


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


def record_calibration(session: Session, *, actor: User, code: str, calibration_due: date,
                       reason: str) -> Equipment:
    """Record an instrument's calibration: its new due date, later than today, and why."""
    require_role(actor, MASTER_DATA_ROLES, "record equipment calibration")
    code, reason = code.strip(), reason.strip()
    _check_text(identifiers={"equipment ID": code}, texts={"reason": reason})
    if not reason:
        raise DomainError(ErrorCode.REASON_REQUIRED,
                          "say what was done (e.g. the calibration certificate number)")
    if len(reason) > 500:
        raise InvalidInput(f"the reason is {len(reason)} characters long; at most 500")
    _plausible_day("calibration due date", calibration_due)
    today = site_today()
    if calibration_due <= today:
        raise InvalidInput(f"the new calibration due date {calibration_due.isoformat()} must "
                           f"be later than today ({today.isoformat()})")
    row = session.exec(select(Equipment).where(Equipment.code == code)
                       .with_for_update()).first()
    if row is None:
        raise NotFound(f"equipment {code} is not registered")
    old = row.calibration_due
    row.calibration_due = calibration_due
    session.add(row)
    append(session, [PendingEvent(AuditAction.EQUIPMENT_CALIBRATION_RECORDED, "equipment", code,
                                  "calibration_due", old.isoformat(),
                                  calibration_due.isoformat(), reason)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def reagent_lots(session: Session, status: LotStatus | None = None) -> list[ReagentLot]:
    """Every registered lot (or those of `status`), by lot number."""
    query = select(ReagentLot).order_by(col(ReagentLot.lot))
    if status is not None:
        query = query.where(ReagentLot.status == status.value)
    return list(session.exec(query))


def equipment_list(session: Session) -> list[Equipment]:
    """Every registered instrument, by code."""
    return list(session.exec(select(Equipment).order_by(col(Equipment.code))))


def expired_reagents(session: Session, spec: StepSpec, values: Mapping[str, object],
                     today: date) -> list[str]:
    """Problems with the step's reagent lots; an unregistered lot, a lot of another
    material than the field takes, or a lot QA has not released, is refused outright."""
    def problem(field: Field, row: ReagentLot) -> str | None:
        assert field.material is not None  # a reagent field declares its material
        wrong = wrong_material(row.lot, row.reagent, row.material, field.material)
        if wrong is not None:
            raise DomainError(ErrorCode.MATERIAL_WRONG_KIND, f"{field.label}: {wrong}")
        held = not_released(row.lot, row.reagent, row.status)
        if held is not None:
            raise DomainError(ErrorCode.REAGENT_NOT_RELEASED, f"{field.label}: {held}")
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
