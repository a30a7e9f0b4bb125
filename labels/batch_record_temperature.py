"""The batch record's block "Temperature excursions affecting this product" (issue 16):
each excursion where one of its containers was stored, and QA's acknowledgement."""

from __future__ import annotations

from reportlab.platypus import Flowable

from labels.batch_record_model import BatchRecord, ExcursionLine
from labels.batch_record_style import BODY, Cell, gap, markup, para, subsection, table, text
from labels.timefmt import local_text


def _row(line: ExcursionLine, zone: str) -> list[Cell]:
    qa = text(line.acknowledged) if line.acknowledged else "<b>not yet acknowledged</b>"
    return [markup(text(local_text(line.started_at, zone))), markup(text(line.where)),
            markup(text(line.what)), markup(qa)]


def excursions_block(record: BatchRecord) -> list[Flowable]:
    """Every excursion that touched a container of the product, oldest first."""
    heading = subsection(f"Temperature excursions affecting this product "
                         f"({len(record.excursions)})")
    if not record.excursions:
        return [gap(2), heading, para("No temperature excursion while its containers were "
                                      "stored.", BODY)]
    rows = [_row(line, record.time_zone) for line in record.excursions]
    header = ("Started", "Where", "What", "QA acknowledgement")
    return [gap(2), heading, table(header, rows, (28, 44, 60, 48))]
