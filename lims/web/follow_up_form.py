"""The follow-up forms read strictly, before anything is recorded: a visit's time, its
laboratory values (each in a unit its analyte is reported in) and the bedside grades; an
adverse event; a clinical event. What cannot be read comes back field by field, in words,
with what was typed; nothing is recorded until every field can be read.

Times use the one time entry of the step forms (lims.web.forms.parse_time: HH:MM today,
YYYY-MM-DD HH:MM or now, in the site's zone); days are YYYY-MM-DD; laboratory values go
through the follow-up's own number reader (follow_up_records.read_lab_entry: the step
field cleaner, plausible ranges in the unit entered).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from lims.models import AdverseEvent
from lims.services.follow_up_records import LabEntry, read_lab_entry
from lims.web.forms import TIME_HINT, TimeEntryError, looks_scanned, parse_time
from workflows.errors import DomainError
from workflows.follow_up import AE_OUTCOMES, CTCAE_GRADES, RELATEDNESS, EventKind
from workflows.liver_scores import ANALYTES, ASCITES_GRADES, ENCEPHALOPATHY_GRADES
from workflows.typed_text import free_text_problem

YES_NO = {"yes": True, "no": False}
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def value_field(analyte: str) -> str:
    return f"v_{analyte}"


def unit_field(analyte: str) -> str:
    return f"u_{analyte}"


@dataclass
class Entry:
    """What a form sent: the text to show again, what cannot be read, what can."""

    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, form: Mapping[str, object], name: str) -> str:
        value = form.get(name)
        self.typed[name] = value.strip() if isinstance(value, str) else ""
        return self.typed[name]


@dataclass
class ClinicalEntry(Entry):
    at: datetime | None = None
    note: str = ""
    labs: list[LabEntry] = field(default_factory=list)
    ascites: str | None = None
    encephalopathy: str | None = None
    dialysed: bool = False

    @property
    def has_finding(self) -> bool:
        return self.ascites is not None


def read_time(entry: Entry, form: Mapping[str, object], name: str, what: str,
              zone: ZoneInfo, now: datetime) -> datetime | None:
    text = entry.text(form, name)
    if not text:
        entry.errors[name] = f"type {what} as {TIME_HINT}"
        return None
    try:
        return parse_time(text, zone, now)
    except TimeEntryError as error:
        entry.errors[name] = str(error)
        return None


def read_day(entry: Entry, form: Mapping[str, object], name: str, what: str,
             required: bool = True) -> date | None:
    text = entry.text(form, name)
    if not text:
        if required:
            entry.errors[name] = f"type {what} as YYYY-MM-DD"
        return None
    if not _DAY.fullmatch(text):
        entry.errors[name] = f"“{text}” is not written YYYY-MM-DD (e.g. 2026-03-14)"
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        entry.errors[name] = f"{text} is not a day of the calendar"
        return None


def read_choice(entry: Entry, form: Mapping[str, object], name: str,
                options: tuple[str, ...], ask: str, required: bool = True) -> str | None:
    text = entry.text(form, name)
    if text in options:
        return text
    if text or required:
        entry.errors[name] = ask if not text else f"“{text}” is not one of the choices: {ask}"
    return None


def read_clinical(form: Mapping[str, object], zone: ZoneInfo, now: datetime,
                  *, need_values: bool) -> ClinicalEntry:
    """A visit (or a sampling outside a visit): its time, note, the values typed (empty
    ones left out) and the grades (both or neither). `need_values`: at least one value or
    the grades (a sampling outside a visit records nothing else)."""
    entry = ClinicalEntry()
    entry.at = read_time(entry, form, "at", "the time", zone, now)
    entry.note = entry.text(form, "note")
    for name, analyte in ANALYTES.items():
        text = entry.text(form, value_field(name))
        unit = entry.text(form, unit_field(name)) or analyte.unit
        if not text:
            continue
        if looks_scanned(text):
            entry.errors[value_field(name)] = "holds a barcode scan: clear it and type the value"
            continue
        try:
            read_lab_entry(LabEntry(name, text, unit))
        except DomainError as refused:
            entry.errors[value_field(name)] = refused.detail
            continue
        entry.labs.append(LabEntry(name, text, unit))
    ascites = read_choice(entry, form, "ascites", ASCITES_GRADES, "choose the ascites grade",
                          required=False)
    encephalopathy = read_choice(entry, form, "encephalopathy", ENCEPHALOPATHY_GRADES,
                                 "choose the encephalopathy grade", required=False)
    dialysis = entry.text(form, "dialysis")
    if (ascites is None) != (encephalopathy is None):
        missing = "encephalopathy" if ascites is not None else "ascites"
        if missing not in entry.errors:
            entry.errors[missing] = (f"choose the {missing} grade too: the findings are "
                                     "recorded together")
    elif ascites is not None:
        entry.ascites, entry.encephalopathy = ascites, encephalopathy
        if dialysis not in YES_NO:
            entry.errors["dialysis"] = "answer yes or no"
        else:
            entry.dialysed = YES_NO[dialysis]
    if need_values and not entry.errors and not entry.labs and not entry.has_finding:
        entry.errors["values"] = "type at least one laboratory value or choose the grades"
    return entry


# --- adverse events and clinical events ---------------------------------------------------

GRADE_CHOICES = tuple(str(grade) for grade in CTCAE_GRADES)


@dataclass
class AdverseEventEntry(Entry):
    description: str = ""
    onset_on: date | None = None
    resolved_on: date | None = None
    grade: int | None = None
    serious: bool | None = None
    relatedness: str | None = None
    outcome: str | None = None
    din: str | None = None


def read_adverse_event(form: Mapping[str, object], dins: tuple[str, ...]) -> AdverseEventEntry:
    """An adverse event as the service takes it: every answer given (serious yes or no is
    never assumed), days as YYYY-MM-DD, the product one of the patient's."""
    entry = AdverseEventEntry()
    entry.description = entry.text(form, "description")
    problem = free_text_problem(entry.description, lines=True) if entry.description else (
        "describe the event (e.g. “fever 38.6 °C, 2 days”)")
    if problem is not None:
        entry.errors["description"] = problem
    entry.onset_on = read_day(entry, form, "onset_on", "the day of onset")
    entry.resolved_on = read_day(entry, form, "resolved_on", "the day it resolved",
                                 required=False)
    grade = read_choice(entry, form, "grade", GRADE_CHOICES, "choose the CTCAE grade")
    entry.grade = int(grade) if grade else None
    serious = read_choice(entry, form, "serious", tuple(YES_NO),
                          "answer yes or no: is it serious (SAE)?")
    entry.serious = None if serious is None else YES_NO[serious]
    entry.relatedness = read_choice(entry, form, "relatedness", RELATEDNESS,
                                    "choose how likely the cells caused it")
    entry.outcome = read_choice(entry, form, "outcome", AE_OUTCOMES,
                                "choose the outcome so far")
    entry.din = read_choice(entry, form, "din", dins, "choose the product it follows, or none",
                            required=False)
    return entry


@dataclass
class AdverseEventUpdate(AdverseEventEntry):
    """An update of an adverse event: every field the service may change (as the form
    shows them, filled with what is recorded), the reason, and the version the form was
    filled from."""

    reason: str = ""
    version: int | None = None
    changes: dict[str, object] | None = None


def ae_typed(ae: AdverseEvent) -> dict[str, str]:
    """An adverse event as its update form shows it (what is recorded, and its version)."""
    return {"description": ae.description, "onset_on": ae.onset_on.isoformat(),
            "resolved_on": ae.resolved_on.isoformat() if ae.resolved_on else "",
            "grade": str(ae.grade), "serious": "yes" if ae.serious else "no",
            "relatedness": ae.relatedness, "outcome": ae.outcome, "version": str(ae.version)}


def read_ae_update(form: Mapping[str, object]) -> AdverseEventUpdate:
    """The update form read whole: the event's fields as a report reads them (the product
    never changes), the reason (required) and the version the form shows."""
    read = read_adverse_event(form, ())
    entry = AdverseEventUpdate(typed=read.typed, errors=read.errors)
    entry.errors.pop("din", None)
    entry.typed.pop("din", None)
    entry.reason = entry.text(form, "reason")
    if not entry.reason:
        entry.errors["reason"] = "say why it is updated (e.g. “resolved, discharged”)"
    else:
        problem = free_text_problem(entry.reason, lines=True)
        if problem is not None:
            entry.errors["reason"] = problem
    version = entry.text(form, "version")
    if not version.isdigit():
        entry.errors["version"] = "the form lost the version it was filled from: reload it"
    else:
        entry.version = int(version)
    if (not entry.errors and read.onset_on is not None and read.grade is not None
            and read.serious is not None and read.relatedness is not None
            and read.outcome is not None):
        entry.changes = {"description": read.description, "onset_on": read.onset_on,
                         "grade": read.grade, "serious": read.serious,
                         "relatedness": read.relatedness, "outcome": read.outcome,
                         "resolved_on": read.resolved_on}
    return entry


@dataclass
class ClinicalEventEntry(Entry):
    kind: str | None = None
    occurred_on: date | None = None
    note: str = ""


def read_clinical_event(form: Mapping[str, object]) -> ClinicalEventEntry:
    entry = ClinicalEventEntry()
    entry.kind = read_choice(entry, form, "kind", tuple(k.value for k in EventKind),
                             "choose the event")
    entry.occurred_on = read_day(entry, form, "occurred_on", "the day it happened")
    entry.note = entry.text(form, "note")
    problem = free_text_problem(entry.note, lines=True) if entry.note else None
    if problem is not None:
        entry.errors["note"] = problem
    return entry
