"""How a figure is written for a person: one number format per unit, on every screen,
label, record and message.

Cell numbers (cells, cells/kg, cells/ml) are written in millions with a real superscript,
"4,000 × 10⁶ cells", "0.070 × 10⁶ cells/kg", so two records of one product never show the
same figure as "4e+09", "4.00 × 10^9" and "4000000000". Concentrations per µL stay plain
("20,000 cells/µL": that is how a haematology counter reports them). Durations in hours
are written in hours and minutes ("1 h 14 min", never "1.227 h").

`style` says where the text goes: "text" (Unicode superscript, for plain text, ZPL and
messages), "html" (<sup>, escaped by the caller's template engine only around it) or
"pdf" (reportlab paragraph markup <super>).
"""

from __future__ import annotations

import math
from typing import Literal

Style = Literal["text", "html", "pdf"]

MILLION_UNITS = frozenset({"cells", "cells/kg", "cells/ml"})
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def power_of_ten(exponent: int, style: Style = "text") -> str:
    """"10⁶" written for `style`."""
    if style == "html":
        return f"10<sup>{exponent}</sup>"
    if style == "pdf":
        return f"10<super>{exponent}</super>"
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def significant(value: float, digits: int = 3) -> str:
    """`value` to `digits` significant figures, with thousands separators and no exponent:
    4000 → "4,000", 0.06974 → "0.0697", 12.34 → "12.3"."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def format_number(value: float, unit: str, style: Style = "text") -> str:
    """The number part of a figure in `unit`, as people read it (no unit)."""
    if isinstance(value, bool):
        raise TypeError("a yes/no answer is not a number")
    if unit in MILLION_UNITS:
        return f"{significant(value / 1e6)} × {power_of_ten(6, style)}"
    if unit == "h":
        return _hours(value)
    if unit in ("cells/µL", "count", ""):
        return f"{value:,.0f}" if float(value).is_integer() else significant(value)
    if unit == "%":
        return f"{value:.1f}"
    if unit in ("EU/ml", "g/ml", "log", "×"):
        return significant(value) if unit != "g/ml" else f"{value:.3f}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 10 else significant(value)


def format_value(value: float, unit: str, style: Style = "text") -> str:
    """A figure with its unit: "4,000 × 10⁶ cells", "96.6 %", "1 h 14 min", "12.5 ml"."""
    number = format_number(value, unit, style)
    if unit == "h" or not unit:
        return number
    if unit == "×":
        return f"{number} ×" if not number.endswith("×") else number
    return f"{number} {unit}"


def _hours(value: float) -> str:
    total = round(value * 60)
    hours, minutes = divmod(abs(total), 60)
    sign = "−" if total < 0 else ""
    if hours == 0:
        return f"{sign}{minutes} min"
    return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
