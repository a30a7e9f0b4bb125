"""The electronic batch record as an A4 PDF: `render_batch_record(record) -> bytes`.

Page 1 carries the product identity and chain-of-identity block, the
disposition, the expiry checks at issue and infusion, every decision on the
product (hold, resume, discard, release suspension, re-release, rejection,
expiry) with its reason, who and when, and the exceptions summary (review by
exception). Then: every step with its data and computed values, each judged
value against its limit with the limit's source, operator, witness and times;
corrections of step data (old → new, reason, who, when); reagent lots and
equipment; container lineage and label prints; the chain of custody of each
container; QC results against the specification with a chart of the key values;
deviations; and every electronic signature with its manifestation (printed
name, date/time UTC, meaning; 21 CFR 11.50), after QA's acknowledgement of each
exception (comment, printed name, time) on the first page. Every page shows the product,
"Page n of N" and the record's content hash (`content_hash`), so a page cannot
be moved to another record unnoticed.

Pure: standard library, reportlab and `workflows` only. The canvas is `invariant=1`, so the
same record gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
)

from labels.batch_record_chart import key_value_charts
from labels.batch_record_model import (
    AcknowledgementLine,
    BatchRecord,
    CertificateLine,
    ChartSeries,
    ContainerLine,
    CorrectionLine,
    CustodyLine,
    DeviationLine,
    ExpiryCheck,
    LabelPrintLine,
    QcLine,
    ReviewException,
    Signature,
    StateChange,
    StepEntry,
    ValueLine,
    content_hash,
)
from labels.batch_record_sections import first_page, materials_section, steps_section
from labels.batch_record_storage import storage_block
from labels.batch_record_story import corrections_section, custody_section
from labels.batch_record_style import (
    BODY,
    CONTENT_WIDTH,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    MUTED,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RULE,
    SMALL,
    gap,
    para,
    register_families,
    section,
)
from labels.batch_record_tables import (
    certificates_block,
    containers_section,
    deviations_section,
    qc_section,
    signatures_section,
)
from labels.batch_record_temperature import excursions_block
from labels.batch_record_text import utc_stamp
from labels.fonts import MONO, SANS, SANS_BOLD, text_width

__all__ = [
    "AcknowledgementLine",
    "BatchRecord",
    "CertificateLine",
    "ChartSeries",
    "ContainerLine",
    "CorrectionLine",
    "CustodyLine",
    "DeviationLine",
    "ExpiryCheck",
    "LabelPrintLine",
    "QcLine",
    "ReviewException",
    "Signature",
    "StateChange",
    "StepEntry",
    "ValueLine",
    "content_hash",
    "render_batch_record",
]

_HEADER_SIZE: Final = 8.0
_HASH_SIZE: Final = 6.5
_HASH_CAPTION: Final = "Content hash (SHA-256):"


@dataclass(frozen=True)
class _Furniture:
    """What every page repeats: the product in the header, number and hash in the footer."""

    title: str
    product: str
    digest: str
    generated: str
    audit_checkpoint: str = ""


def _clipped(value: str, font: str, size: float, width: float) -> str:
    """`value`, shortened with an ellipsis until it fits `width` points."""
    if text_width(value, font, size) <= width:
        return value
    while value and text_width(value + "…", font, size) > width:
        value = value[:-1]
    return value + "…"


def _draw_furniture(canvas: Canvas, page: int, total: int, furniture: _Furniture) -> None:
    left, right = MARGIN_X, PAGE_WIDTH - MARGIN_X
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    top = PAGE_HEIGHT - 12 * mm
    product = _clipped(furniture.product, SANS_BOLD, _HEADER_SIZE, (right - left) * 0.6)
    canvas.setFont(SANS_BOLD, _HEADER_SIZE)
    canvas.drawRightString(right, top, product)
    room = right - left - text_width(product, SANS_BOLD, _HEADER_SIZE) - 6 * mm
    canvas.setFont(SANS, _HEADER_SIZE)
    canvas.drawString(left, top, _clipped(furniture.title, SANS, _HEADER_SIZE, room))
    canvas.line(left, top - 2.5 * mm, right, top - 2.5 * mm)
    canvas.line(left, 17 * mm, right, 17 * mm)
    canvas.setFont(SANS_BOLD, 9)
    canvas.drawRightString(right, 12.5 * mm, f"Page {page} of {total}")
    canvas.setFont(SANS, 7)
    canvas.drawString(left, 12.5 * mm, _HASH_CAPTION)
    canvas.setFont(MONO, _HASH_SIZE)
    hash_x = left + text_width(_HASH_CAPTION, SANS, 7) + 1.5 * mm
    canvas.drawString(hash_x, 12.5 * mm, furniture.digest)
    canvas.setFillColor(MUTED)
    canvas.setFont(SANS, 6.5)
    canvas.drawString(left, 8.5 * mm, _clipped(furniture.generated, SANS, 6.5, right - left))
    if furniture.audit_checkpoint:
        canvas.drawString(left, 5 * mm, _clipped(furniture.audit_checkpoint, SANS, 6.5,
                                                 right - left))
    canvas.restoreState()


class _NumberedCanvas(Canvas):  # type: ignore[misc]
    """Holds the pages back until the end, then stamps each with "Page n of N"."""

    def __init__(self, *args: Any, furniture: _Furniture, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._furniture = furniture
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held)
        for state in self._held:
            self.__dict__.update(state)
            _draw_furniture(self, self._pageNumber, total, self._furniture)
            super().showPage()
        super().save()


def _furniture(record: BatchRecord, digest: str) -> _Furniture:
    return _Furniture(
        title=f"Electronic batch record · {record.arm} · {record.product_description}",
        product=f"DIN {record.din_text} {record.check_character} · {record.subject_id}",
        digest=digest,
        generated=(f"Generated {utc_stamp(record.generated_at)}; the hash covers everything "
                   f"but this time · {record.facility}"),
        audit_checkpoint=record.audit_checkpoint,
    )


def _chart_section(chart: tuple[ChartSeries, ...]) -> list[Flowable]:
    heading = section("7  Key values against specification limits")
    if not chart:
        return [*heading, para("No key values to chart.", BODY)]
    note = para("Each value on its own scale; the band is the specification range.", SMALL)
    first, *rest = key_value_charts(chart)
    # The heading goes to the page its chart starts on, never alone at the foot of a page.
    return [KeepTogether([*heading, note, gap(1), first]), *rest]


def story(record: BatchRecord) -> list[Flowable]:
    """The flowables of the whole record, in reading order."""
    return [
        *first_page(record),
        PageBreak(),
        *steps_section(record),
        *corrections_section(record),
        *materials_section(record),
        *containers_section(record),
        *custody_section(record),
        *storage_block(record),
        *excursions_block(record),
        *qc_section(record),
        *_chart_section(record.chart),
        *deviations_section(record),
        *signatures_section(record),
        *certificates_block(record),
        gap(6),
        para("End of batch record.", SMALL),
    ]


def _page_template() -> PageTemplate:
    """One frame filling the margins, without padding, so tables are exactly its width."""
    frame = Frame(
        MARGIN_X, MARGIN_BOTTOM, CONTENT_WIDTH, PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM,
        leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="body",
    )
    return PageTemplate(id="record", frames=[frame])


def render_batch_record(record: BatchRecord) -> bytes:
    """The record as A4 PDF bytes; identical records give identical bytes.

    Raises ValueError if any datetime in the record is naive.
    """
    digest = content_hash(record)
    if record.generated_at.utcoffset() is None:
        raise ValueError("generated_at has no time zone")
    register_families()
    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), invariant=1, pageCompression=1,
        leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, title=f"Batch record {record.din_text}",
        subject=f"content SHA-256 {digest}", creator="cell-lims batch record",
        author=record.facility, pageTemplates=[_page_template()],
    )
    maker = partial(_NumberedCanvas, furniture=_furniture(record, digest))
    document.build(story(record), canvasmaker=maker)
    return buffer.getvalue()
