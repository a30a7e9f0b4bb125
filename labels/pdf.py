"""PDF labels: one label per page at its real size, or many on an A4 sheet.

The canvas is created with `invariant=1` (no creation date, fixed document ID),
so the same label gives the same bytes: the golden-file test relies on it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from reportlab.lib.colors import black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from labels.barcode import draw_code128, draw_datamatrix
from labels.fonts import register_fonts
from labels.layout import Box, Code128Item, DataMatrixItem, Layout, RotatedText, Text
from labels.layouts import layout_for
from labels.model import Label

SHEET_MARGIN: Final = 8.0  # mm; inside the printable area of office printers
SHEET_GAP: Final = 4.0  # mm between labels, room to cut
CUT_LINE_GREY: Final = 0.75


def _canvas(buffer: io.BytesIO, size: tuple[float, float], title: str) -> Canvas:
    register_fonts()
    canvas = Canvas(buffer, pagesize=size, invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("cell-lims labels")
    return canvas


def draw_layout(canvas: Canvas, layout: Layout, x: float = 0.0, y: float = 0.0) -> None:
    """Draw a laid-out label with its bottom-left corner at (x, y) mm."""
    top = y + layout.height
    for item in layout.items:
        if isinstance(item, Text):
            canvas.setFillColor(white if item.white else black)
            canvas.setFont(item.font, item.size)
            canvas.drawString((x + item.left) * mm, (top - item.baseline) * mm, item.text)
            canvas.setFillColor(black)
        elif isinstance(item, RotatedText):
            canvas.saveState()
            canvas.translate((x + item.x) * mm, (top - item.top) * mm)
            canvas.rotate(-90)  # clockwise, as ISBT prints flag characters
            canvas.setFont(item.font, item.size)
            canvas.drawString(0, 0, item.text)
            canvas.restoreState()
        elif isinstance(item, Box):
            _box(canvas, item, x, top)
        elif isinstance(item, Code128Item):
            draw_code128(
                canvas,
                item.data,
                x + item.x,
                top - item.y - item.height,
                module=item.module,
                height=item.height,
            )
        elif isinstance(item, DataMatrixItem):
            draw_datamatrix(
                canvas,
                [list(r) for r in item.modules],
                x + item.x,
                top - item.y,
                module=item.module,
            )


def _box(canvas: Canvas, box: Box, x: float, top: float) -> None:
    if box.fill:
        canvas.rect(
            (x + box.x) * mm,
            (top - box.y - max(box.h, 0.3)) * mm,
            box.w * mm,
            max(box.h, 0.3) * mm,
            stroke=0,
            fill=1,
        )
        return
    canvas.setLineWidth(box.line * mm)
    canvas.rect(
        (x + box.x) * mm, (top - box.y - box.h) * mm, box.w * mm, box.h * mm, stroke=1, fill=0
    )


def _title(label: Label) -> str:
    return f"{label.kind.value} label {label.din.text}"


def render_pdf(label: Label) -> bytes:
    """One label on a page of exactly the label's size."""
    layout = layout_for(label)
    buffer = io.BytesIO()
    canvas = _canvas(buffer, (layout.width * mm, layout.height * mm), _title(label))
    draw_layout(canvas, layout)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@dataclass(frozen=True)
class Placement:
    """Where a label of a sheet went: page index and bottom-left corner in mm."""

    page: int
    x: float
    y: float


def sheet_placements(layouts: Sequence[Layout]) -> list[Placement]:
    """Pack labels left to right, top to bottom, onto as many A4 pages as needed."""
    page_w, page_h = A4[0] / mm, A4[1] / mm
    placements: list[Placement] = []
    page, x, row_top, row_height, on_page = 0, SHEET_MARGIN, page_h - SHEET_MARGIN, 0.0, 0
    for layout in layouts:
        if layout.width > page_w - 2 * SHEET_MARGIN or layout.height > page_h - 2 * SHEET_MARGIN:
            raise ValueError(f"a {layout.width} × {layout.height} mm label does not fit A4")
        if x + layout.width > page_w - SHEET_MARGIN:
            x, row_top, row_height = SHEET_MARGIN, row_top - row_height - SHEET_GAP, 0.0
        if row_top - layout.height < SHEET_MARGIN and on_page:
            page, on_page = page + 1, 0
            x, row_top, row_height = SHEET_MARGIN, page_h - SHEET_MARGIN, 0.0
        placements.append(Placement(page, x, row_top - layout.height))
        x += layout.width + SHEET_GAP
        row_height = max(row_height, layout.height)
        on_page += 1
    return placements


def render_sheet(labels: Sequence[Label]) -> bytes:
    """Labels packed on A4 pages (`sheet_placements`), each with a grey cut outline."""
    layouts = [layout_for(label) for label in labels]
    buffer = io.BytesIO()
    canvas = _canvas(buffer, A4, f"{len(labels)} labels")
    page = 0
    for layout, where in zip(layouts, sheet_placements(layouts), strict=True):
        if where.page != page:
            canvas.showPage()
            page = where.page
        canvas.setStrokeGray(CUT_LINE_GREY)
        canvas.setLineWidth(0.2)
        canvas.rect(where.x * mm, where.y * mm, layout.width * mm, layout.height * mm)
        canvas.setStrokeColor(black)
        draw_layout(canvas, layout, where.x, where.y)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
