"""Eye-readable dates and times (ISBT 128 ST-001 §7.4.4.2).

Local time with the zone abbreviation, then UTC beneath in parentheses, e.g.
"2026-11-25 23:59 IRST" / "(2026-11-25 20:29 UTC)".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

# The IANA database dropped invented abbreviations for some zones and now gives
# "+0330" for Iran; the lab and FACT want the abbreviation people use there.
_ABBREVIATIONS: Final[dict[tuple[str, str], str]] = {
    ("Asia/Tehran", "+0330"): "IRST",
    ("Asia/Tehran", "+0430"): "IRDT",
}


def zone_abbreviation(moment: datetime, zone: str) -> str:
    """Abbreviation of `zone` at `moment`, e.g. "IRST", "CET"; "UTC+05:45" if none exists."""
    local = moment.astimezone(ZoneInfo(zone))
    name = local.tzname() or ""
    if name[:1] not in "+-":
        return name
    known = _ABBREVIATIONS.get((zone, name))
    if known:
        return known
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def local_text(moment: datetime, zone: str) -> str:
    """ "2026-11-25 23:59 IRST": the facility's local time and zone."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {zone_abbreviation(moment, zone)}"


def utc_text(moment: datetime) -> str:
    """ "(2026-11-25 20:29 UTC)": printed beneath the local time."""
    return f"({moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
