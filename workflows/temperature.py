"""Storage temperatures: the monitoring system's export read strictly, excursions found.

The monitoring system exports a CSV of `device,time,celsius` (a header line naming the
columns is allowed and skipped). A file is read whole or not at all: every line with a
problem is named with its number, and one bad line refuses the file, so a half-imported
file never leaves a gap nobody sees.

An excursion is what QA must assess for the products stored there:

- "temperature": starts at the first reading outside the location's range and ends at the
  first reading back inside it (still open while the last reading is outside). Its lowest
  and highest readings are the ones outside the range.
- "no_data": two consecutive readings further apart than the protocol's
  `temperature_reading_gap_max_minutes`; nobody knows what the temperature was, so it is
  treated like an excursion. It runs from the last reading before the gap to the first one
  after it. Decision: the time after the location's latest reading is not reported (the
  next import fills it, or shows the gap then), so a file imported late raises no false
  "no data" for the minutes since its last line.

Pure standard library: no ORM, no web layer, no `lims`.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from workflows.characters import name_odd_characters
from workflows.errors import InvalidInput

MAX_LINES = 200_000  # a year of one-minute readings of a freezer fits easily
MAX_ERRORS_SHOWN = 20
DEVICE_MAX = 60
# Below absolute zero is impossible; above this no storage device reports: a typo.
LOWEST_C, HIGHEST_C = -273.15, 150.0
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")
_HEADER_NAMES = {"device", "time", "celsius", "°c", "temperature", "temperature_c", "c"}


class ExcursionKind(StrEnum):
    TEMPERATURE = "temperature"  # outside the location's range
    NO_DATA = "no_data"  # readings too far apart: the temperature is unknown


@dataclass(frozen=True)
class Reading:
    """One line of the monitoring system's export."""

    line: int
    device: str
    measured_at: datetime
    celsius: float


@dataclass(frozen=True)
class Point:
    """A reading of a location, whatever its source."""

    measured_at: datetime
    celsius: float


@dataclass(frozen=True)
class Excursion:
    kind: ExcursionKind
    started_at: datetime
    ended_at: datetime | None  # None: still outside at the last reading
    min_c: float | None  # the extremes seen outside the range (None for no data)
    max_c: float | None

    def describe(self, unit_low: float | None, unit_high: float | None) -> str:
        """In the lab's words, for the alert and the excursion list."""
        end = self.ended_at.isoformat(timespec="minutes") if self.ended_at else "still open"
        start = self.started_at.isoformat(timespec="minutes")
        if self.kind == ExcursionKind.NO_DATA:
            return f"no temperature reading from {start} to {end}"
        return (f"outside {range_words(unit_low, unit_high)} from {start} to {end}, "
                f"readings {self.min_c:g} to {self.max_c:g} °C")


def range_words(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g} to {high:g} °C"
    if low is not None:
        return f"at least {low:g} °C"
    if high is not None:
        return f"at most {high:g} °C"
    return "no range"


def strict_celsius(text: str) -> float:
    """A temperature as typed: digits, an optional sign and decimal point; no comma (a
    decimal mark in one lab, a thousands separator in the next), no exponent."""
    value = text.strip()
    odd = name_odd_characters(value)
    if odd is not None:
        raise InvalidInput(f"the temperature must be typed with the digits 0–9; it has {odd}")
    if not _NUMBER.fullmatch(value):
        raise InvalidInput(f"the temperature {value!r} is not a number of °C such as -80 or "
                           "4.5 (a point as decimal mark, no unit)")
    number = float(value)
    if not math.isfinite(number) or not LOWEST_C <= number <= HIGHEST_C:
        raise InvalidInput(f"{value} °C is not a temperature a storage device reports "
                           f"({LOWEST_C:g} to {HIGHEST_C:g} °C)")
    return number


def strict_time(text: str, *, now: datetime, skew: timedelta) -> datetime:
    """An ISO 8601 time with its zone, not in the future beyond the clock skew."""
    value = text.strip()
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"the time {value!r} is not an ISO 8601 time such as "
                           "2026-11-30T14:05:00+01:00") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput(f"the time {value!r} has no zone: the monitoring system must "
                           "export it with its offset (e.g. +01:00 or Z)")
    if when > now + skew:
        raise InvalidInput(f"the time {value} is in the future (the server's clock says "
                           f"{now.astimezone(when.tzinfo).isoformat(timespec='minutes')})")
    return when


def parse_export(text: str, *, now: datetime, skew: timedelta,
                 devices: Collection[str] | None = None) -> list[Reading]:
    """All the readings of a file, or InvalidInput naming every bad line (up to 20).
    `devices`: the probes assigned to a location; any other is a bad line."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_LINES:
        raise InvalidInput(f"the file has {len(rows)} lines; at most {MAX_LINES} at once")
    errors: list[str] = []
    readings: list[Reading] = []
    seen: dict[tuple[str, datetime], int] = {}
    for number, row in enumerate(rows, start=1):
        if not row or all(not cell.strip() for cell in row):
            continue  # a blank line (the export's last line) carries nothing
        if number == 1 and {c.strip().lower() for c in row} <= _HEADER_NAMES:
            continue
        try:
            reading = _reading(number, row, now=now, skew=skew)
        except InvalidInput as error:
            errors.append(f"line {number}: {error.detail}")
            continue
        if devices is not None and reading.device not in devices:
            errors.append(f"line {number}: device {reading.device} is not assigned to a "
                          "storage location")
            continue
        key = (reading.device, reading.measured_at)
        if key in seen:
            errors.append(f"line {number}: device {reading.device} at "
                          f"{reading.measured_at.isoformat()} is already on line {seen[key]}")
            continue
        seen[key] = number
        readings.append(reading)
    if errors:
        raise refusal(errors)
    if not readings:
        raise InvalidInput("the file holds no readings (expected lines of device,time,celsius)")
    return readings


def refusal(errors: Sequence[str]) -> InvalidInput:
    """The whole file refused, naming its bad lines (the first 20 of them)."""
    shown = errors[:MAX_ERRORS_SHOWN]
    more = len(errors) - len(shown)
    return InvalidInput("the file was not imported, nothing was recorded; "
                        f"{len(errors)} line(s) to correct: " + "; ".join(shown)
                        + (f"; and {more} more" if more else ""))


def _reading(number: int, row: list[str], *, now: datetime, skew: timedelta) -> Reading:
    if len(row) != 3:
        raise InvalidInput(f"expected 3 columns (device,time,celsius), found {len(row)}")
    device = row[0].strip()
    odd = name_odd_characters(device)
    if odd is not None:
        raise InvalidInput(f"the device has {odd}")
    if not _DEVICE.fullmatch(device) or len(device) > DEVICE_MAX:
        raise InvalidInput(f"the device {device!r} is not a device identifier (letters, "
                           f"digits and . _ : / -, at most {DEVICE_MAX})")
    return Reading(number, device, strict_time(row[1], now=now, skew=skew),
                   strict_celsius(row[2]))


def outside(celsius: float, low: float | None, high: float | None) -> bool:
    return (low is not None and celsius < low) or (high is not None and celsius > high)


def find_excursions(points: Sequence[Point], *, low: float | None, high: float | None,
                    max_gap: timedelta) -> list[Excursion]:
    """The excursions of one location's readings (in any order) against its range."""
    found: list[Excursion] = []
    ordered = sorted(points, key=lambda p: p.measured_at)
    start: Point | None = None
    seen: list[float] = []
    previous: Point | None = None
    for point in ordered:
        if previous is not None and point.measured_at - previous.measured_at > max_gap:
            found.append(Excursion(ExcursionKind.NO_DATA, previous.measured_at,
                                   point.measured_at, None, None))
        if outside(point.celsius, low, high):
            start = start or point
            seen.append(point.celsius)
        elif start is not None:
            found.append(Excursion(ExcursionKind.TEMPERATURE, start.measured_at,
                                   point.measured_at, min(seen), max(seen)))
            start, seen = None, []
        previous = point
    if start is not None:
        found.append(Excursion(ExcursionKind.TEMPERATURE, start.measured_at, None,
                               min(seen), max(seen)))
    return sorted(found, key=lambda e: (e.started_at, e.kind))


def overlaps(a_start: datetime, a_end: datetime | None, b_start: datetime,
             b_end: datetime | None) -> bool:
    """Two periods share a moment (an open end runs on)."""
    return (a_end is None or b_start <= a_end) and (b_end is None or a_start <= b_end)
