"""Type, colours and table building blocks of the batch record.

Everything is set in the embedded DejaVu faces of `labels.fonts`. A flag that
matters (OUT OF SPEC, LATE ENTRY, CORRECTED) is always a word in bold, never a
colour alone, so it survives a black-and-white photocopy.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final, TypeAlias
from xml.sax.saxutils import escape

from reportlab.lib.colors import Color, HexColor
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import registerFontFamily
from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer, Table, TableStyle

from labels.fonts import MONO, MONO_BOLD, SANS, SANS_BOLD, register_fonts, text_width

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X: Final = 15 * mm
MARGIN_TOP: Final = 22 * mm
MARGIN_BOTTOM: Final = 22 * mm
CONTENT_WIDTH: Final = PAGE_WIDTH - 2 * MARGIN_X  # the frame has no padding of its own
SECTION_ROOM: Final = 60 * mm  # a section heading needs this much below it, or a new page
STEP_ROOM: Final = 55 * mm  # likewise a step: its heading, who and when, and a few values

INK: Final = HexColor("#111111")
MUTED: Final = HexColor("#555555")
RULE: Final = HexColor("#9a9a9a")
HEADER_FILL: Final = HexColor("#e4e7eb")
SECTION_FILL: Final = HexColor("#23395b")
ALERT: Final = HexColor("#b00020")
ALERT_FILL: Final = HexColor("#fbe4e6")
CAUTION_FILL: Final = HexColor("#fff4d6")
PASS: Final = HexColor("#1b6e3a")
PASS_FILL: Final = HexColor("#e3f2e7")


@cache
def register_families() -> None:
    """Fonts, and the families that let `<b>` in a paragraph pick the bold face."""
    register_fonts()
    registerFontFamily(SANS, normal=SANS, bold=SANS_BOLD, italic=SANS, boldItalic=SANS_BOLD)
    registerFontFamily(MONO, normal=MONO, bold=MONO_BOLD, italic=MONO, boldItalic=MONO_BOLD)


def _style(name: str, size: float, *, font: str = SANS, **extra: object) -> ParagraphStyle:
    options: dict[str, object] = {
        "fontName": font, "fontSize": size, "leading": size * 1.25, "textColor": INK,
        "alignment": TA_LEFT, "splitLongWords": 1,
    }
    return ParagraphStyle(name, **{**options, **extra})


BODY: Final = _style("body", 8.5)
CELL: Final = _style("cell", 8)
CELL_BOLD: Final = _style("cell-bold", 8, font=SANS_BOLD)
HEAD_CELL: Final = _style("head-cell", 7.5, font=SANS_BOLD)
SMALL: Final = _style("small", 7, textColor=MUTED)
HASH: Final = _style("hash", 6.5, font=MONO)
TITLE: Final = _style("title", 17, font=SANS_BOLD, spaceAfter=1 * mm)
SUBTITLE: Final = _style("subtitle", 10.5, textColor=MUTED, spaceAfter=4 * mm)
SECTION: Final = _style("section", 11.5, font=SANS_BOLD, textColor=HexColor("#ffffff"))
SUBSECTION: Final = _style(
    "subsection", 10, font=SANS_BOLD, spaceBefore=3 * mm, spaceAfter=1.5 * mm
)
DIN: Final = _style("din", 14, font=MONO_BOLD)
DISPOSITION: Final = _style("disposition", 12, font=SANS_BOLD, leading=15)


def text(value: str) -> str:
    """Paragraph markup for literal text: `<`, `&` and `>` are shown, not parsed."""
    return escape(value)


def para(value: str, style: ParagraphStyle = CELL) -> Paragraph:
    """A paragraph of literal text (escaped)."""
    return Paragraph(text(value), style)


def markup(value: str, style: ParagraphStyle = CELL) -> Paragraph:
    """A paragraph of markup the caller built from escaped parts."""
    return Paragraph(value, style)


def alert(word: str) -> str:
    """Markup for a flag word: bold and red, and legible in black and white."""
    return f'<font name="{SANS_BOLD}" color="{ALERT.hexval()}">{text(word)}</font>'


def section(title: str) -> list[Flowable]:
    """A numbered section's heading: a dark band as wide as the tables.

    It starts a new page unless `SECTION_ROOM` is left, so it is never orphaned.
    """
    band = Table(
        [[Paragraph(text(title), SECTION)]], colWidths=[CONTENT_WIDTH], hAlign="LEFT",
        style=TableStyle([
            ("BACKGROUND", (0, 0), (-1, -1), SECTION_FILL),
            ("LEFTPADDING", (0, 0), (-1, -1), 2 * mm),
            ("TOPPADDING", (0, 0), (-1, -1), 1.4 * mm),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2 * mm),
        ]),
    )
    return [CondPageBreak(SECTION_ROOM), Spacer(1, 4 * mm), band, Spacer(1, 3 * mm)]


def subsection(title: str) -> Paragraph:
    return Paragraph(text(title), SUBSECTION)


def gap(height_mm: float = 2.0) -> Spacer:
    return Spacer(1, height_mm * mm)


_PAD: Final = 1.6 * mm
_CELL_FONT: Final = (SANS, 8.0)
_HEAD_FONT: Final = (SANS_BOLD, 7.5)

BASE_TABLE: Final = (
    ("FONT", (0, 0), (-1, -1), *_CELL_FONT, 10),
    ("TEXTCOLOR", (0, 0), (-1, -1), INK),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("GRID", (0, 0), (-1, -1), 0.3, RULE),
    ("LEFTPADDING", (0, 0), (-1, -1), _PAD),
    ("RIGHTPADDING", (0, 0), (-1, -1), _PAD),
    ("TOPPADDING", (0, 0), (-1, -1), 1.0 * mm),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2 * mm),
)

Cell: TypeAlias = "Flowable | str"


def fitted(cell: Cell, width: float, head: bool = False) -> Cell:
    """A plain string cell if it fits on one line of a column `width` points wide.

    Plain strings draw far faster than paragraphs but never wrap, so anything
    longer becomes a (wrapping) paragraph: no value is ever clipped.
    """
    if not isinstance(cell, str):
        return cell
    font, size = _HEAD_FONT if head else _CELL_FONT
    if "\n" not in cell and text_width(cell, font, size) <= width - 2 * _PAD:
        return cell
    return para(cell, HEAD_CELL if head else CELL)


def _widths(widths_mm: Sequence[float]) -> list[float]:
    scale = CONTENT_WIDTH / sum(widths_mm)
    return [w * scale for w in widths_mm]


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    widths_mm: Sequence[float],
    extra: Sequence[tuple[object, ...]] = (),
) -> Table:
    """A grid with a shaded header row that repeats on each page it spans.

    `widths_mm` are relative: they are scaled to the full content width. A row
    taller than a page splits inside its cells rather than failing.
    """
    widths = _widths(widths_mm)
    data = [
        [fitted(h, w, head=True) for h, w in zip(header, widths, strict=True)],
        *[[fitted(c, w) for c, w in zip(r, widths, strict=True)] for r in rows],
    ]
    styles = [
        *BASE_TABLE, ("FONT", (0, 0), (-1, 0), *_HEAD_FONT, 9.5),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL), *extra,
    ]
    return Table(data, colWidths=widths, repeatRows=1, style=TableStyle(styles), hAlign="LEFT",
                 splitInRow=1)


def key_value_table(
    pairs: Sequence[tuple[str, Cell]], widths_mm: Sequence[float] = (38, 142)
) -> Table:
    """Label / value rows, the labels shaded; the pairs fill `len(widths_mm) // 2` columns."""
    per_row = len(widths_mm) // 2
    widths = _widths(widths_mm)
    rows: list[list[Cell]] = []
    for start in range(0, len(pairs), per_row):
        row: list[Cell] = []
        for n, (label, value) in enumerate(pairs[start : start + per_row]):
            row += [fitted(label, widths[2 * n], head=True), fitted(value, widths[2 * n + 1])]
        rows.append(row + [""] * (2 * per_row - len(row)))
    label_columns = range(0, 2 * per_row, 2)
    styles = [
        *BASE_TABLE,
        *(("BACKGROUND", (c, 0), (c, -1), HEADER_FILL) for c in label_columns),
        *(("FONT", (c, 0), (c, -1), *_HEAD_FONT, 9.5) for c in label_columns),
    ]
    return Table(rows, colWidths=widths, style=TableStyle(styles), hAlign="LEFT", splitInRow=1)


def row_fill(row: int, colour: Color) -> tuple[object, ...]:
    """Table style command shading one whole row."""
    return ("BACKGROUND", (0, row), (-1, row), colour)
