"""What `lims audit verify` found wrong: one verdict per problem, naming the place.

Each verdict says which event or row is wrong, what the audit trail (or the rule)
expected there and what was actually found, so an inspector can go straight to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    where: str  # the row or event: "product W1234 26 000001", "signature 7", "event 42"
    what: str  # which part of it: "state", "meaning", "row"
    expected: str
    found: str
    # Old data made before the rule existed (e.g. an administration recorded before the
    # bedside e-signature): reported as such, not as a break of the records.
    before_rule: bool = False

    @property
    def line(self) -> str:
        if self.before_rule:
            return f"NOTE: {self.where}: {self.what}: {self.found}"
        return f"BROKEN: {self.where}: {self.what}: expected {self.expected}; found {self.found}"


def missing_row(where: str, event_seq: int, action: str) -> Problem:
    """A record the trail says was written is gone (deleted behind the system's back)."""
    return Problem(where, "row", f"the row written by event {event_seq} ({action})",
                   "no such row: it was deleted outside the system")


def unaudited_row(where: str, action: str) -> Problem:
    """A row no event accounts for (inserted behind the system's back)."""
    return Problem(where, "audit event", f"a '{action}' event that records it",
                   "none: the row was written outside the system")
