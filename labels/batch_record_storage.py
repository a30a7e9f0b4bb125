"""The batch record's storage block (issue 16): where each container of the product was
kept, when it went in and came out, by whom and why."""

from __future__ import annotations

from reportlab.platypus import Flowable

from labels.batch_record_model import BatchRecord, StorageLine
from labels.batch_record_style import BODY, Cell, gap, markup, para, subsection, table, text
from labels.timefmt import local_text


def _row(line: StorageLine, zone: str) -> list[Cell]:
    out = (f"{text(local_text(line.removed_at, zone))}<br/>{text(line.removed_by or '')}"
           if line.removed_at is not None else "<b>still stored</b>")
    why = text(line.reason or "") + (f": {text(line.note)}" if line.note else "")
    return [markup(text(line.container)), markup(text(line.where)),
            markup(f"{text(local_text(line.stored_at, zone))}<br/>{text(line.stored_by)}"),
            markup(out), markup(why)]


def storage_block(record: BatchRecord) -> list[Flowable]:
    """Every stay in storage of the product's containers, oldest first (local time)."""
    heading = subsection(f"Storage ({len(record.storage)})")
    if not record.storage:
        return [gap(2), heading, para("No container of this product was stored.", BODY)]
    rows = [_row(line, record.time_zone) for line in record.storage]
    header = ("Container", "Where", "Stored (by)", "Taken out (by)", "Why")
    return [gap(2), heading, table(header, rows, (34, 52, 30, 30, 34))]
