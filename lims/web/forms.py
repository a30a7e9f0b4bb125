"""Step forms: which inputs a field gets, and the submitted strings as step values.

Times are typed as `HH:MM` (today, at the site), `YYYY-MM-DD HH:MM` or `now`, and get
the site's time zone here, because the step rules need a zone-aware time (an HTML
datetime-local value has none). Everything else goes to the step rules as typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from workflows.balance import carried_input
from workflows.isbt128 import ScanError, parse_scan
from workflows.steps import Field, StepSpec

_TIME = re.compile(r"^(\d{1,2})[:.h](\d{2})$")
_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})$")
TIME_HINT = "HH:MM today, YYYY-MM-DD HH:MM, or now"


class TimeEntryError(ValueError):
    pass


def parse_time(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """A typed time in the site's zone; ISO-8601 with an offset is kept as given."""
    entry = text.strip()
    if entry.lower() == "now":
        return now.astimezone(zone).replace(second=0, microsecond=0)
    if match := _TIME.match(entry):
        hour, minute = int(match[1]), int(match[2])
        today = now.astimezone(zone)
        try:
            return today.replace(hour=hour, minute=minute, second=0, microsecond=0)
        except ValueError:
            raise TimeEntryError(f"{entry!r} is not a time of day") from None
    if match := _DATE_TIME.match(entry):
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3]), int(match[4]),
                            int(match[5]), tzinfo=zone)
        except ValueError:
            raise TimeEntryError(f"{entry!r} is not a real date and time") from None
    try:
        moment = datetime.fromisoformat(entry)
    except ValueError:
        raise TimeEntryError(f"type the time as {TIME_HINT}") from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=zone)


def shown_time(value: object, zone: ZoneInfo) -> str:
    """How a time goes back into a form field: local, to the minute."""
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Submission:
    """What the form sent: the strings as typed, the values for the rules, time errors."""

    typed: dict[str, str]
    values: dict[str, object]
    errors: dict[str, str]

    @property
    def empty(self) -> bool:
        return not any(self.typed.values())


def read_step_form(spec: StepSpec, form: FormData | Mapping[str, str], zone: ZoneInfo,
                   now: datetime) -> Submission:
    typed: dict[str, str] = {}
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for f in spec.fields:
        raw = form.get(f"v_{f.name}")
        text = raw.strip() if isinstance(raw, str) else ""
        typed[f.name] = text
        if not text:
            continue
        if looks_scanned(text):
            errors[f.name] = ("holds a barcode scan: the scanner typed into this field. Clear "
                              "it; scan containers into the scan field")
            continue
        if f.kind == "datetime":
            try:
                moment = parse_time(text, zone, now)
            except TimeEntryError as error:
                errors[f.name] = str(error)
                continue
            typed[f.name] = shown_time(moment, zone)
            values[f.name] = moment
        else:
            values[f.name] = text
    return Submission(typed, values, errors)


def looks_scanned(text: str) -> bool:
    """True for ISBT 128 data (what a wedge scanner types), never typed by hand in a value."""
    if text[:1] not in "=&" or len(text) < 8:
        return False
    try:
        parse_scan(text)
    except ScanError:
        return False
    return True


def input_type(f: Field) -> str:
    if f.kind in ("bool", "choice"):
        return "select"
    return "text"


def input_mode(f: Field) -> str:
    if f.kind == "integer":
        return "numeric"
    if f.kind == "number":
        return "decimal"
    return "text"


def hint(f: Field) -> str:
    if f.kind == "datetime":
        return TIME_HINT
    if carried_input(f):  # left empty, the service takes what the earlier step put out
        return "empty: as the earlier step put out"
    if f.kind in ("number", "integer") and f.unit == "cells":
        return "e.g. 5.2e6"
    return ""


def options(f: Field) -> list[tuple[str, str]]:
    if f.kind == "bool":
        return [("yes", "yes"), ("no", "no")]
    return [(c, c) for c in (f.choices or ())]

