"""The product's story beyond its step data: expiry checks, decisions, corrections, custody.

Every decision shows its reason, who decided (printed name) and when; every correction of
step data shows old → new with its reason, who and when; the chain of custody shows who
had each container from when until when.
"""

from __future__ import annotations

from reportlab.platypus import Flowable

from labels.batch_record_model import BatchRecord, CustodyLine
from labels.batch_record_style import (
    ALERT_FILL,
    BODY,
    CAUTION_FILL,
    CELL_BOLD,
    PASS,
    alert,
    gap,
    markup,
    para,
    row_fill,
    section,
    subsection,
    table,
)
from labels.batch_record_text import NONE_TEXT, local_and_utc
from labels.fonts import SANS_BOLD
from labels.timefmt import local_text


def expiry_block(record: BatchRecord) -> list[Flowable]:
    """The expiry against the issue and the infusion: in date ✓ or EXPIRED ✗."""
    heading = subsection("Expiry checks")
    if not record.expiry_checks:
        return [heading, para("Not issued: no expiry check recorded yet.", BODY)]
    zone = record.time_zone
    rows, fills = [], []
    for r, check in enumerate(record.expiry_checks, start=1):
        if check.in_date:
            verdict = f'<font name="{SANS_BOLD}" color="{PASS.hexval()}">in date ✓</font>'
        else:
            verdict = alert("EXPIRED ✗")
            fills.append(row_fill(r, ALERT_FILL))
        rows.append([check.what, local_and_utc(check.at, zone),
                     local_and_utc(check.expires_at, zone), markup(verdict)])
    return [heading, table(("Moment", "At", "Expiry", "Verdict"), rows, (30, 60, 60, 30), fills)]


_ALARMING = frozenset({"Put on hold", "Discarded", "Expired", "Rejected", "Release suspended",
                       "Rejected after suspension"})


def decisions_block(record: BatchRecord) -> list[Flowable]:
    """Every decision on the product (hold, resume, discard, suspension, re-release,
    rejection, expiry, release) with its reason, who decided and when."""
    decisions = [c for c in record.state_changes if c.decision]
    heading = subsection(f"Decisions on the product ({len(decisions)})")
    if not decisions:
        return [heading, para("No hold, release decision, discard or expiry recorded.", BODY)]
    rows, fills = [], []
    for r, change in enumerate(decisions, start=1):
        rows.append([
            para(change.event, CELL_BOLD), local_and_utc(change.at, record.time_zone),
            f"{change.old_state} → {change.new_state}", change.by,
            change.reason or NONE_TEXT,
        ])
        if change.event in _ALARMING:
            fills.append(row_fill(r, CAUTION_FILL))
    header = ("Decision", "Recorded", "State", "Decided by", "Reason")
    return [heading, table(header, rows, (26, 34, 36, 30, 54), fills)]


def corrections_section(record: BatchRecord) -> list[Flowable]:
    """Step data corrected after it was recorded: the steps show the current values."""
    heading = section(f"2  Corrections of step data ({len(record.corrections)})")
    if not record.corrections:
        return [*heading, para("No step data corrected.", BODY)]
    note = para("The process steps above show the current values; each correction below "
                "replaced a step record, which is kept unchanged in the audit trail.", BODY)
    rows = [
        [c.step, para(c.field, CELL_BOLD),
         markup(f"{c.old} → <b>{c.new}</b>"), c.reason,
         f"{c.corrected_by}, {local_text(c.corrected_at, record.time_zone)}"]
        for c in record.corrections
    ]
    fills = [row_fill(r, CAUTION_FILL) for r in range(1, len(rows) + 1)]
    header = ("Step", "Field", "Old → new", "Reason", "Corrected by, when")
    return [*heading, note, gap(1.5), table(header, rows, (28, 28, 42, 46, 36), fills)]


def _custody_row(line: CustodyLine, first: bool, zone: str) -> list[Flowable | str]:
    until = local_text(line.end, zone) if line.end else NONE_TEXT
    return [
        para(line.container, CELL_BOLD) if first else "",
        line.event, local_text(line.start, zone), until, line.by,
    ]


def custody_section(record: BatchRecord) -> list[Flowable]:
    heading = section("5  Chain of custody")
    if not record.custody:
        return [*heading, para("No custody of any container recorded.", BODY)]
    note = para(f"Who had each container from when until when (local time, {record.time_zone})"
                ", from collection to infusion; each event lasts until the next one of the "
                "same container.", BODY)
    rows, previous = [], None
    for line in record.custody:
        rows.append(_custody_row(line, line.container != previous, record.time_zone))
        previous = line.container
    header = ("Container", "Event", "From", "Until", "Held / handled by")
    return [*heading, note, gap(1.5), table(header, rows, (36, 50, 27, 27, 40))]

