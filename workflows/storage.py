"""Storage rules: a container's disposition, the location hierarchy, box positions.

Pure: the services (lims/services/storage.py) apply these to the tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from workflows.errors import InvalidInput
from workflows.identity import ContainerKind


class Disposition(StrEnum):
    """Where a container is in its life: the one enumeration behind `container.status`.

    The first four are the statuses the process steps have always set; the rest come from
    storage, so the negative fraction and the samples no longer stay "in use" forever.
    """

    IN_USE = "in_use"  # on the bench, in the process
    CONSUMED = "consumed"  # used up by the next step
    ADMINISTERED = "administered"  # given to the patient
    DISCARDED = "discarded"  # destroyed (final)
    STORED = "stored"  # in a storage position
    OUT_FOR_TESTING = "out_for_testing"  # taken out of storage for a test
    RETURNED = "returned"  # taken out of storage and handed back to the bench


D = Disposition
TRANSITIONS: Mapping[Disposition, frozenset[Disposition]] = MappingProxyType({
    D.IN_USE: frozenset({D.CONSUMED, D.ADMINISTERED, D.DISCARDED, D.STORED}),
    D.STORED: frozenset({D.OUT_FOR_TESTING, D.DISCARDED, D.RETURNED}),
    D.OUT_FOR_TESTING: frozenset({D.STORED, D.CONSUMED, D.DISCARDED}),
    D.RETURNED: frozenset({D.STORED, D.CONSUMED, D.DISCARDED, D.IN_USE}),
    D.CONSUMED: frozenset(),
    D.ADMINISTERED: frozenset(),
    D.DISCARDED: frozenset(),
})

DISPOSITION_WORDS: Mapping[str, str] = MappingProxyType({
    D.IN_USE: "in use",
    D.CONSUMED: "used in the next step",
    D.ADMINISTERED: "administered",
    D.DISCARDED: "discarded",
    D.STORED: "stored",
    D.OUT_FOR_TESTING: "out of storage for testing",
    D.RETURNED: "returned from storage",
})


def disposition_of(status: str) -> Disposition:
    try:
        return Disposition(status)
    except ValueError:
        raise InvalidInput(f"{status!r} is not a container disposition") from None


def can_become(current: str, target: Disposition) -> bool:
    return target in TRANSITIONS.get(disposition_of(current), frozenset())


# Containers kept after the process: retention samples, the CD133-negative fraction, and
# the QC tubes between the bench and the test. Bags in the process are never stored here.
STORABLE_KINDS = frozenset({ContainerKind.RETENTION_SAMPLE, ContainerKind.CD133_NEGATIVE,
                            ContainerKind.QC_SAMPLE})


def storable_refusal(kind: str, status: str) -> str | None:
    """Why a container cannot go into a position now, in words (None: it can)."""
    if kind not in STORABLE_KINDS:
        return (f"a {kind.replace('_', ' ')} is not kept in storage (storage holds retention "
                "samples, negative fractions and QC samples)")
    if status == D.STORED:
        return "the container is already stored: scan it out of its position first"
    if not can_become(status, D.STORED):
        return f"the container is {DISPOSITION_WORDS.get(status, status)}: it cannot be stored"
    return None


class RemovalReason(StrEnum):
    TESTING = "testing"
    DISCARD = "discard"
    RETURN = "return"


REMOVAL_OUTCOME: Mapping[RemovalReason, Disposition] = MappingProxyType({
    RemovalReason.TESTING: D.OUT_FOR_TESTING,
    RemovalReason.DISCARD: D.DISCARDED,
    RemovalReason.RETURN: D.RETURNED,
})

REMOVAL_WORDS: Mapping[str, str] = MappingProxyType({
    RemovalReason.TESTING: "taken out for testing",
    RemovalReason.DISCARD: "discarded",
    RemovalReason.RETURN: "returned",
})


class LocationKind(StrEnum):
    SITE = "site"
    ROOM = "room"
    FREEZER = "freezer"
    FRIDGE = "fridge"
    RACK = "rack"
    BOX = "box"
    POSITION = "position"


L = LocationKind
# Which kinds a location of each kind may sit in (None: at the top of the tree).
ALLOWED_PARENTS: Mapping[LocationKind, frozenset[LocationKind | None]] = MappingProxyType({
    L.SITE: frozenset({None}),
    L.ROOM: frozenset({L.SITE}),
    L.FREEZER: frozenset({L.ROOM}),
    L.FRIDGE: frozenset({L.ROOM}),
    L.RACK: frozenset({L.FREEZER, L.FRIDGE}),
    L.BOX: frozenset({L.RACK, L.FREEZER, L.FRIDGE}),
    L.POSITION: frozenset({L.BOX}),
})

LOCATION_WORDS: Mapping[str, str] = MappingProxyType({k: k.value for k in LocationKind})

MAX_BOX_SIDE = 26  # rows are letters A..Z


def check_parent(kind: str, parent_kind: str | None) -> LocationKind:
    """The kind, if it may sit in a parent of `parent_kind`; else a refusal in words."""
    try:
        own = LocationKind(kind)
    except ValueError:
        raise InvalidInput(f"{kind!r} is not a kind of location (one of "
                           f"{', '.join(LocationKind)})") from None
    parent = LocationKind(parent_kind) if parent_kind is not None else None
    if parent not in ALLOWED_PARENTS[own]:
        where = ", ".join(sorted(str(p) for p in ALLOWED_PARENTS[own] if p is not None))
        if parent is None:
            raise InvalidInput(f"a {own} must be inside a {where}")
        raise InvalidInput(f"a {own} cannot be inside a {parent}"
                           + (f" (only inside a {where})" if where else " (a site is the top)"))
    return own


def check_box_size(rows: int | None, columns: int | None) -> tuple[int, int]:
    if rows is None or columns is None:
        raise InvalidInput("a box needs its number of rows and columns")
    if not (1 <= rows <= MAX_BOX_SIDE and 1 <= columns <= MAX_BOX_SIDE):
        raise InvalidInput(f"a box has 1 to {MAX_BOX_SIDE} rows and columns")
    return rows, columns


def check_range(low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"the lowest temperature ({low} °C) is above the highest ({high} °C)")
    for value in (low, high):
        if value is not None and not -200.0 <= value <= 60.0:
            raise InvalidInput(f"{value} °C is not a storage temperature (−200 to 60 °C)")


@dataclass(frozen=True)
class Range:
    low_c: float | None
    high_c: float | None

    def words(self) -> str:
        if self.low_c is None and self.high_c is None:
            return "no range set"
        if self.low_c is None:
            return f"at most {self.high_c:g} °C"
        if self.high_c is None:
            return f"at least {self.low_c:g} °C"
        return f"{self.low_c:g} to {self.high_c:g} °C"


def effective_range(chain: Sequence[tuple[float | None, float | None]]) -> Range:
    """The range a location must hold: its own bound, else the nearest ancestor's.

    `chain` runs from the location itself up to the top of the tree; each bound is
    inherited separately (a freezer may set only its highest temperature).
    """
    low = next((lo for lo, _ in chain if lo is not None), None)
    high = next((hi for _, hi in chain if hi is not None), None)
    return Range(low, high)


def position_name(row: int, column: int) -> str:
    """Row 1, column 1 -> "A1": how the lab names a box position."""
    return f"{chr(ord('A') + row - 1)}{column}"


def box_positions(rows: int, columns: int) -> list[tuple[int, int, str]]:
    """Every position of a box, row by row: (row, column, "A1")."""
    check_box_size(rows, columns)
    return [(r, c, position_name(r, c)) for r in range(1, rows + 1)
            for c in range(1, columns + 1)]


def position_code(box_code: str, row: int, column: int) -> str:
    """The scannable code of a box position: the box's code and the position ("BOX1-A1")."""
    return f"{box_code}-{position_name(row, column)}"


def check_code(code: str) -> str:
    """A location code as the scanner reads it: printable ASCII letters, digits, '-', '.'."""
    text = code.strip().upper()
    if not 2 <= len(text) <= 34 or not all(ch.isascii() and (ch.isalnum() or ch in "-._")
                                           for ch in text):
        raise InvalidInput("a location code is 2 to 34 letters, digits, '-', '.' or '_'")
    return text
