"""The enrolment form read strictly: the typed strings as the service's arguments, or what
cannot be read, field by field.

A day is YYYY-MM-DD and nothing else (14/03/1962 is the 14th of March in one hospital and
nonsense in the next); the weight is digits with at most one decimal point (a comma is a
decimal mark in one lab and a thousands separator in the next); every checklist question
and every marker needs its own answer: nothing is assumed from an empty one. What is typed
comes back on the form; the password never does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lims.services.enrolment import SEXES, Choice, EnrolmentChoices
from workflows.characters import name_odd_characters
from workflows.eligibility import EXCLUSION, INCLUSION
from workflows.typed_text import free_text_problem, identifier_problem

TEXT_FIELDS = ("subject_id", "mrn", "name", "date_of_birth", "sex", "weight_kg",
               "consent_date", "arm", "treating_physician", "checked_by")
CRITERIA = (*INCLUSION, *EXCLUSION)
ANSWERS = {"yes": True, "no": False}
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


def criterion_field(key: str) -> str:
    return f"c_{key}"


def marker_field(key: str) -> str:
    return f"m_{key}"


@dataclass
class EnrolmentEntry:
    """What the form sent: the text to show again, what cannot be read, and the arguments
    of `enrol_patient` (complete only when nothing is wrong)."""

    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)


def read_enrolment(form: Mapping[str, object], choices: EnrolmentChoices) -> EnrolmentEntry:
    entry = EnrolmentEntry()
    names = [*TEXT_FIELDS, *(criterion_field(k) for k in CRITERIA),
             *(marker_field(m.key) for m in choices.markers)]
    for name in names:
        value = form.get(name)
        entry.typed[name] = value.strip() if isinstance(value, str) else ""
    _identity(entry)
    for name, what in (("date_of_birth", "date of birth"), ("consent_date", "consent date")):
        _day(entry, name, what)
    _weight(entry)
    _choice(entry, "sex", SEXES, "choose the patient's sex")
    _choice(entry, "arm", choices.arms, "choose the arm randomisation gave")
    _choice(entry, "treating_physician", choices.physicians,
            "choose the physician who treats the patient")
    _checklist(entry)
    _markers(entry, choices)
    _checker(entry, form.get("checked_by_password"))
    return entry


def _identity(entry: EnrolmentEntry) -> None:
    for name, what in (("subject_id", "the subject ID"), ("mrn", "the MRN")):
        text = entry.typed[name]
        problem = identifier_problem(text) if text else f"type {what}"
        if problem is None:
            entry.arguments[name] = text
        else:
            entry.errors[name] = problem
    name = entry.typed["name"]
    problem = free_text_problem(name) if name else "type the patient's name"
    if problem is None:
        entry.arguments["name"] = name
    else:
        entry.errors["name"] = problem


def _day(entry: EnrolmentEntry, name: str, what: str) -> None:
    text = entry.typed[name]
    if not text:
        entry.errors[name] = f"type the {what} as YYYY-MM-DD"
        return
    odd = name_odd_characters(text)
    if odd is not None:
        entry.errors[name] = f"type the {what} with the digits 0–9 as YYYY-MM-DD; it has {odd}"
        return
    if not _DAY.fullmatch(text):
        entry.errors[name] = f"“{text}” is not written YYYY-MM-DD (e.g. 1962-03-14)"
        return
    try:
        entry.arguments[name] = date.fromisoformat(text)
    except ValueError:
        entry.errors[name] = f"{text} is not a day of the calendar"


def _weight(entry: EnrolmentEntry) -> None:
    text = entry.typed["weight_kg"]
    if not text:
        entry.errors["weight_kg"] = "type the weight in kg"
    elif (odd := name_odd_characters(text)) is not None:
        entry.errors["weight_kg"] = f"type the weight with the digits 0–9; it has {odd}"
    elif "," in text:
        entry.errors["weight_kg"] = (f"“{text}” has a comma: type the weight in kg with a "
                                     "decimal point, e.g. 72.5")
    elif not _NUMBER.fullmatch(text):
        entry.errors["weight_kg"] = f"“{text}” is not a weight in kg: type e.g. 72.5"
    else:
        entry.arguments["weight_kg"] = float(text)


def _choice(entry: EnrolmentEntry, name: str, options: tuple[Choice, ...], ask: str) -> None:
    text = entry.typed[name]
    if text in {option.value for option in options}:
        entry.arguments[name] = text
    else:
        entry.errors[name] = ask if not text else f"“{text}” is not one of the choices: {ask}"


def _checklist(entry: EnrolmentEntry) -> None:
    answers: dict[str, bool] = {}
    for key in CRITERIA:
        text = entry.typed[criterion_field(key)]
        if text in ANSWERS:
            answers[key] = ANSWERS[text]
        else:
            entry.errors[criterion_field(key)] = "answer yes or no"
    entry.arguments["eligibility"] = answers


def _markers(entry: EnrolmentEntry, choices: EnrolmentChoices) -> None:
    results: dict[str, str] = {}
    for marker in choices.markers:
        text = entry.typed[marker_field(marker.key)]
        if text in {option.value for option in marker.options}:
            results[marker.key] = text
        else:
            entry.errors[marker_field(marker.key)] = "choose the result as recorded"
    entry.arguments["infectious_markers"] = results


def _checker(entry: EnrolmentEntry, password: object) -> None:
    username = entry.typed["checked_by"]
    if not username:
        entry.errors["checked_by"] = "type the user name of the physician who checked"
    else:
        entry.arguments["checked_by"] = username
    if not isinstance(password, str) or not password:
        entry.errors["checked_by_password"] = ("the physician who checked enters their "
                                               "password to confirm it")
    else:
        entry.arguments["checked_by_password"] = password
