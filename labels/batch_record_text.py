"""Text for the batch record: times, and the numbers of the chart's scales."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from labels.timefmt import local_text
from workflows.numbers import power_of_ten

NONE_TEXT: Final = "—"


def utc_stamp(moment: datetime) -> str:
    """ "2026-11-25 14:03:27 UTC": how signatures and entries print their time."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def utc_minutes(moment: datetime) -> str:
    """ "2026-11-25 14:03 UTC"."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def local_and_utc(moment: datetime | None, zone: str) -> str:
    """ "2026-11-25 17:33 IRST (14:03 UTC)", the UTC date added when it differs."""
    if moment is None:
        return NONE_TEXT
    utc = moment.astimezone(UTC)
    local = local_text(moment, zone)
    same_day = local.startswith(f"{utc:%Y-%m-%d}")
    return f"{local} ({utc:%H:%M} UTC)" if same_day else f"{local} ({utc:%Y-%m-%d %H:%M} UTC)"


def power_of(value: float) -> int:
    """The power of ten, a multiple of three, in which the lab writes `value` (0 below 10^6)."""
    if not math.isfinite(value) or abs(value) < 1e6:
        return 0
    return 3 * (math.floor(math.log10(abs(value))) // 3)


def number_text(value: float, power: int | None = None) -> str:
    """Up to three significant figures; "4.5 × 10⁶", "12 × 10⁶" from a million upwards.

    Powers are multiples of three, as the lab writes doses (1–12 × 10^6); pass
    `power` to write several numbers in the same one (0.1 × 10^9 beside 1.12 × 10^9).
    """
    if value == 0 or not math.isfinite(value):
        return str(value) if value else "0"
    power = power_of(value) if power is None else power
    if power:
        return f"{value / 10**power:.3g} × {power_of_ten(power)}"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is >= `value` (> 0)."""
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude >= value * (1 - 1e-12):
            return step * magnitude
    return 10 * magnitude
