"""Turn a raw step submission (HTML form strings or JSON values) into typed values.

Everything here is about whether a value *can* be real: its type, its physical
range, its timezone, the order of its times. Whether it meets the protocol is
the rules module's job. All problems are collected so the form can show them
together instead of one per submit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from workflows.characters import name_odd_characters
from workflows.step_model import Field, StepDataError, StepSpec
from workflows.typed_text import free_text_problem, identifier_problem

TEXT_MAX = 500  # as the API's step schemas bound every text field
# Text fields typed in a text area: their line breaks and tabs are kept.
MULTILINE = frozenset({"adverse_events", "alarms"})
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})


class _Invalid(Exception):
    """One field's value cannot be used; the message is shown next to the field."""


def clean_values(spec: StepSpec, raw: Mapping[str, object]) -> dict[str, object]:
    """Typed values for every field of `spec` (None for an absent optional one).

    Raises StepDataError listing unknown fields, missing required fields, values
    of the wrong type, values outside the field's physical range and naive times.
    """
    known = {f.name for f in spec.fields}
    errors = {str(name): "is not a field of this step" for name in raw if name not in known}
    values: dict[str, object] = {}
    for f in spec.fields:
        try:
            values[f.name] = _clean_field(f, raw.get(f.name))
        except _Invalid as problem:
            errors[f.name] = str(problem)
    if errors:
        raise StepDataError(errors)
    return values


def check_time_order(
    values: Mapping[str, object], pairs: tuple[tuple[str, str], ...], labels: Mapping[str, str]
) -> dict[str, str]:
    """Errors for each (earlier, later) pair where the later time comes first."""
    errors: dict[str, str] = {}
    for earlier, later in pairs:
        start, end = values.get(earlier), values.get(later)
        if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
            errors[later] = f"is before {labels[earlier].lower()} ({start.isoformat()})"
    return errors


def _clean_field(f: Field, value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        if f.required:
            raise _Invalid("is required")
        return None
    if f.kind == "number":
        return _in_range(f, _number(value))
    if f.kind == "integer":
        return _in_range(f, _integer(value))
    if f.kind == "datetime":
        return _aware_datetime(value)
    if f.kind == "bool":
        return _boolean(value)
    if f.kind == "choice":
        return _choice(f, value)
    if not isinstance(value, str):
        raise _Invalid(f"must be text, got {value!r}")
    return _text(f, value)


def _text(f: Field, value: str) -> str:
    if len(value) > TEXT_MAX:
        raise _Invalid(f"must be at most {TEXT_MAX} characters, got {len(value)}")
    # An identifier is matched against lots, instruments and samples character by
    # character; free text keeps any script but never a control character.
    problem = (identifier_problem(value) if f.identifier
               else free_text_problem(value, lines=f.name in MULTILINE))
    if problem is not None:
        raise _Invalid(problem)
    return value


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise _Invalid("must be a number, got a yes/no value")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        # A comma is a thousands separator in one lab and a decimal mark in the
        # next; guessing could shift a cell dose by 1000×, so refuse it.
        if "," in value:
            raise _Invalid(f"must be a number without commas, got {value!r}")
        odd = name_odd_characters(value)
        if odd is not None:  # float() would read a full-width '３' as 3
            raise _Invalid(f"must be typed with the digits 0–9; it has {odd}")
        try:
            number = float(value.replace(" ", "").replace("_", ""))
        except ValueError:
            raise _Invalid(f"must be a number, got {value!r}") from None
    else:
        raise _Invalid(f"must be a number, got {value!r}")
    if not math.isfinite(number):
        raise _Invalid(f"must be a finite number, got {value!r}")
    return number


def _integer(value: object) -> int:
    number = _number(value)
    if not number.is_integer():
        raise _Invalid(f"must be a whole number, got {value!r}")
    return int(number)


# The smallest amount a pipette, counter, scale or clock at the bench reads: a value that must
# be above zero yet is below this (1e-320 ml) is a slip, and would print as 0.
_SMALLEST_READING = {"ml": 0.01, "min": 0.1, "cells/µL": 1.0, "cells": 1.0, "g": 0.1,
                     "kg": 0.1}


def _in_range(f: Field, number: float) -> float:
    unit = f" {f.unit}" if f.unit else ""
    if f.min is not None and f.above_min and number <= f.min:
        raise _Invalid(f"must be above {f.min:g}{unit} (a container holds something), "
                       f"got {number:g}")
    smallest = _SMALLEST_READING.get(f.unit or "")
    if f.above_min and smallest is not None and number < smallest:
        raise _Invalid(f"{number:g}{unit} is less than the smallest reading of "
                       f"{smallest:g}{unit}: a slipped digit?")
    if f.min is not None and number < f.min:
        raise _Invalid(f"must be at least {f.min:g}{unit}, got {number:g}")
    if f.max is not None and number > f.max:
        raise _Invalid(f"must be at most {f.max:g}{unit}, got {number:g}")
    return number


def _aware_datetime(value: object) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _Invalid(f"must be an ISO-8601 date and time, got {value!r}") from None
    elif isinstance(value, datetime):
        moment = value
    else:
        raise _Invalid(f"must be an ISO-8601 date and time, got {value!r}")
    if moment.utcoffset() is None:
        # Elapsed time since harvest decides expiry; a time without its zone
        # cannot be placed on the same clock as the harvest end.
        raise _Invalid("must include a timezone (e.g. 2024-05-01T10:30+03:30)")
    return moment


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _Invalid(f"must be yes or no, got {value!r}")


def _choice(f: Field, value: object) -> str:
    assert f.choices is not None  # guaranteed by Field.__post_init__
    if isinstance(value, str):
        for choice in f.choices:
            if value.casefold() == choice.casefold():
                return choice
    raise _Invalid(f"must be one of {', '.join(f.choices)}, got {value!r}")
