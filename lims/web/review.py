"""How the review-by-exception list (lims.services.review) is shown: most serious first."""

from __future__ import annotations

from dataclasses import dataclass

from lims.models import ReviewAcknowledgement
from lims.services.review import ReviewSummary
from lims.services.review_acknowledgements import ReviewItem

SEVERITY: dict[str, str] = {
    "out_of_spec": "major", "refusal": "major", "deviation": "major", "witness": "major",
    "time_window": "major", "independence": "major", "alert": "major", "near_miss": "major",
    "warning": "minor", "correction": "minor", "late_entry": "minor", "coi_refusal": "minor",
    "reprint": "minor", "pending": "info",
    "suspension": "major", "dose_discrepancy": "major", "computed_figure": "major",
    "verification": "major", "superseded_label": "major",
    "notification_undelivered": "major", "notification": "info",
}
KIND_WORDS: dict[str, str] = {
    "out_of_spec": "Out of specification", "refusal": "Refused value", "deviation": "Deviation",
    "witness": "Missing witness", "time_window": "Time window", "independence": "Independence",
    "alert": "Post-release alert", "warning": "Warning accepted", "correction": "Correction",
    "late_entry": "Late entry", "coi_refusal": "Wrong scan refused", "pending": "Pending",
    "reprint": "Label reprinted", "suspension": "Release suspended",
    "dose_discrepancy": "Dose discrepancy (typed vs computed)",
    "computed_figure": "Computed dose out of specification",
    "verification": "Correction awaiting verification (four eyes)",
    "superseded_label": "Label superseded by a correction",
    "near_miss": "Near miss (wrong patient or product)",
    "notification_undelivered": "Notification NOT delivered", "notification": "Notification",
}
_ORDER = {"major": 0, "minor": 1, "info": 2}


@dataclass(frozen=True)
class ShownException:
    severity: str
    kind: str
    text: str
    key: str = ""  # what QA's acknowledgement names (the hash of the kind and text)
    needs_comment: bool = True
    acknowledgement: ReviewAcknowledgement | None = None


def shown(summary: ReviewSummary) -> list[ShownException]:
    rows = [ShownException(SEVERITY.get(e.kind, "major"), KIND_WORDS.get(e.kind, e.kind), e.text)
            for e in summary.exceptions]
    return sorted(rows, key=lambda row: _ORDER[row.severity])


def to_acknowledge(items: list[ReviewItem]) -> list[ShownException]:
    """The exceptions QA acknowledges one by one, most serious first."""
    rows = [ShownException(SEVERITY.get(i.kind, "major"), KIND_WORDS.get(i.kind, i.kind),
                           i.text, i.key, i.needs_comment, i.acknowledgement) for i in items]
    return sorted(rows, key=lambda row: _ORDER[row.severity])
