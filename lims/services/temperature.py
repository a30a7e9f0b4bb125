"""Storage temperatures recorded: the monitoring system's file imported, a reading typed by
hand, the monitoring probes assigned to their locations.

An import is all or nothing and idempotent: the file's SHA-256 is recorded on each reading
and in the audit event; a reading already imported (same location, time and value) is
skipped, so importing the same or an overlapping file again records nothing twice. A
reading imported before with another value refuses the file (the monitoring system's
record changed: someone must find out why). A refused file is audited with its hash and
the lines to correct. Excursions are checked in the same transaction (see
lims.services.temperature_excursions).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import StorageLocation, TemperatureDevice, TemperatureReading, User
from lims.services.clock import refuse_future
from lims.services.common import aware, require_role
from lims.services.storage_locations import LOCATION_KEEPERS, location_by_code, out_of_use
from lims.services.temperature_excursions import check_location, monitoring
from workflows.errors import Conflict, DomainError, ErrorCode, InvalidInput
from workflows.roles import Role
from workflows.temperature import (
    DEVICE_MAX,
    HIGHEST_C,
    LOWEST_C,
    Reading,
    parse_export,
    refusal,
    strict_celsius,
    strict_time,
)

RECORDERS = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA})
MAX_FILE_BYTES = 10 * 1024 * 1024
IMPORT, HAND = "import", "hand"


@dataclass(frozen=True)
class ImportResult:
    sha256: str
    recorded: int  # new readings
    already: int  # readings this or another file imported before
    excursions: list[int] = field(default_factory=list)  # raised or changed


def register_device(session: Session, *, actor: User, device: str,
                    location_code: str) -> TemperatureDevice:
    """Assign a monitoring probe (as the export names it) to a storage location."""
    require_role(actor, LOCATION_KEEPERS, "assign temperature probes")
    device = device.strip()
    if not device or len(device) > DEVICE_MAX or not device.isascii() or " " in device:
        raise InvalidInput(f"the device must be 1 to {DEVICE_MAX} characters without spaces")
    location = location_by_code(session, location_code)
    if (retired := out_of_use(session, location)) is not None:
        inside = "" if retired is location else f" (inside {retired.name}, {retired.code})"
        raise InvalidInput(f"{location.name} ({location.code}) is out of use{inside}: assign "
                           "the probe to a location in use")
    if session.exec(select(TemperatureDevice).where(
            TemperatureDevice.device == device)).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"device {device} is already assigned")
    assert location.id is not None
    row = TemperatureDevice(device=device, location_id=location.id, registered_by_id=actor.id)
    session.add(row)
    session.flush()
    append(session, [PendingEvent(AuditAction.TEMPERATURE_DEVICE_REGISTERED,
                                  "temperature_device", device, "location", None,
                                  location.code)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def import_readings(session: Session, *, actor: User, content: bytes,
                    now: datetime | None = None) -> ImportResult:
    """Import the monitoring system's CSV export: everything or nothing (commits)."""
    require_role(actor, RECORDERS, "import temperature readings")
    now = aware(now)
    sha = hashlib.sha256(content).hexdigest()
    try:
        rows = _rows(session, content, now)
    except InvalidInput as error:
        session.rollback()
        append(session, [PendingEvent(AuditAction.TEMPERATURE_FILE_REFUSED, "temperature_file",
                                      sha[:40], "sha256", None, sha,
                                      reason=error.detail[:2000])],
               user_id=actor.id, username=actor.username)
        session.commit()
        raise
    assert actor.id is not None
    new = [r for r in rows if r.id is None]
    for reading in new:
        reading.import_hash, reading.entered_by_id, reading.entered_at = sha, actor.id, now
    session.add_all(new)
    if new:
        first = min(r.measured_at for r in new)
        session.flush()
        changed = check_location(session, {r.location_id for r in new}, since=first, now=now,
                                 user=actor)
        append(session, [PendingEvent(
            AuditAction.TEMPERATURE_FILE_IMPORTED, "temperature_file", sha[:40], "sha256",
            None, sha, reason=f"{len(new)} reading(s) recorded, {len(rows) - len(new)} "
                              "imported before")],
            user_id=actor.id, username=actor.username)
    else:
        changed = []
    _commit(session)
    return ImportResult(sha, len(new), len(rows) - len(new),
                        [e.id for e in changed if e.id is not None])


def _rows(session: Session, content: bytes, now: datetime) -> list[TemperatureReading]:
    """The file's readings: existing rows for those imported before, new ones unsaved."""
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput(f"the file has {len(content)} bytes; at most {MAX_FILE_BYTES}")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"the file is not UTF-8 text (byte {error.start + 1}): export it "
                           "as CSV in UTF-8") from None
    devices = {d.device: d for d in session.exec(select(TemperatureDevice))}
    readings = parse_export(text, now=now, skew=monitoring(session).skew, devices=devices)
    errors: list[str] = []
    existing = _imported_before(session, [d.location_id for d in devices.values()],
                                readings)
    rows: list[TemperatureReading] = []
    for r in readings:
        device = devices[r.device]
        before = existing.get((device.location_id, r.measured_at))
        if before is None:
            rows.append(TemperatureReading(location_id=device.location_id, device_id=device.id,
                                           measured_at=r.measured_at, celsius=r.celsius,
                                           source=IMPORT, entered_by_id=0))  # set on import
        elif before.celsius != r.celsius:
            errors.append(f"line {r.line}: {r.device} at {r.measured_at.isoformat()} was "
                          f"imported before as {before.celsius:g} °C, not {r.celsius:g}")
        else:
            rows.append(before)
    if errors:
        raise refusal(errors)
    return rows


def _imported_before(session: Session, location_ids: list[int],
                     readings: list[Reading]) -> dict[tuple[int, datetime], TemperatureReading]:
    if not location_ids:
        return {}
    query = select(TemperatureReading).where(
        col(TemperatureReading.location_id).in_(location_ids),
        TemperatureReading.source == IMPORT,
        col(TemperatureReading.measured_at) >= min(r.measured_at for r in readings),
        col(TemperatureReading.measured_at) <= max(r.measured_at for r in readings))
    return {(row.location_id, row.measured_at): row for row in session.exec(query)}


def enter_reading(session: Session, *, actor: User, location_code: str,
                  measured_at: datetime, celsius: float | str,
                  now: datetime | None = None) -> TemperatureReading:
    """A reading typed by hand (a thermometer read at the fridge door, monitoring down)."""
    require_role(actor, RECORDERS, "enter temperature readings")
    now = aware(now)
    location = location_by_code(session, location_code)
    if not location.active:
        raise InvalidInput(f"{location.name} ({location.code}) is out of use")
    params = monitoring(session)
    if measured_at.tzinfo is None:
        raise InvalidInput("the reading time has no zone")
    refuse_future(measured_at, what="the reading time",
                  skew_minutes=params.skew.total_seconds() / 60)
    when = strict_time(measured_at.isoformat() if isinstance(measured_at, datetime)
                       else str(measured_at), now=now, skew=params.skew)
    value = _celsius(celsius)
    if session.exec(select(TemperatureReading).where(
            TemperatureReading.location_id == location.id,
            TemperatureReading.measured_at == when,
            TemperatureReading.source == HAND)).first() is not None:
        raise Conflict(f"a hand reading of {location.code} at {when.isoformat()} is already "
                       "recorded")
    assert location.id is not None and actor.id is not None
    row = TemperatureReading(location_id=location.id, measured_at=when, celsius=value,
                             source=HAND, entered_by_id=actor.id, entered_at=now)
    session.add(row)
    session.flush()
    append(session, [PendingEvent(AuditAction.TEMPERATURE_READING_ENTERED,
                                  "temperature_reading", str(row.id), "celsius", None, value,
                                  reason=f"{location.code} at {when.isoformat()}")],
           user_id=actor.id, username=actor.username)
    check_location(session, {location.id}, since=when, now=now, user=actor)
    _commit(session)
    return row


def _celsius(value: float | str) -> float:
    if isinstance(value, str):
        return strict_celsius(value)
    if isinstance(value, bool) or not math.isfinite(value) or not LOWEST_C <= value <= HIGHEST_C:
        raise InvalidInput(f"{value!r} is not a temperature a storage device reports "
                           f"({LOWEST_C:g} to {HIGHEST_C:g} °C)")
    return float(value)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:  # the same readings recorded by another request just now
        session.rollback()
        raise Conflict("the same readings were recorded at the same moment by someone else: "
                       "import again (what is already recorded is skipped)") from None


def readings_of(session: Session, location: StorageLocation,
                limit: int = 500) -> list[TemperatureReading]:
    """A location's latest readings, newest first."""
    return list(session.exec(select(TemperatureReading).where(
        TemperatureReading.location_id == location.id)
        .order_by(col(TemperatureReading.measured_at).desc(), col(TemperatureReading.id))
        .limit(limit)))
