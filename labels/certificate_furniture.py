"""The certificate's furniture: the DIN bar code block, and the header and footer lines.

The bar code is drawn by `labels.barcode` as on the labels (Code 128, X = 0.254 mm, quiet
zones 10X), the eye-readable DIN with its boxed check character beneath, aligned with the
bars; the footer carries the certificate's ID and "Page 1 of 1".
"""

from __future__ import annotations

from typing import Final

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Table, TableStyle

from labels.barcode import CODE128_MODULE, code128_size, draw_code128
from labels.batch_record_sections import din_box
from labels.batch_record_style import (
    INK,
    MARGIN_X,
    MUTED,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RULE,
    SMALL,
    para,
)
from labels.batch_record_text import utc_stamp
from labels.certificate_model import Certificate
from labels.fonts import MONO, SANS, SANS_BOLD, text_width

TITLE_TEXT: Final = "Certificate of analysis"
_BAR_HEIGHT: Final = 10.0  # mm: DIN bar code, above ISBT's 5 mm and 15 % of its length


class _DinBarcode(Flowable):  # type: ignore[misc]
    """The DIN's Code 128 symbol (quiet zones included), drawn as the labels draw it."""

    def __init__(self, data: str) -> None:
        super().__init__()
        self.data = data
        self.size = code128_size(data, height=_BAR_HEIGHT)
        self.width, self.height = self.size.width * mm, self.size.height * mm

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        draw_code128(self.canv, self.data, 0, 0, module=CODE128_MODULE, height=self.size.height)


def din_block(certificate: Certificate) -> Table:
    """Bar code, and beneath it (aligned with the bars) the DIN text with its boxed K."""
    symbol = _DinBarcode(certificate.din_barcode)
    quiet = symbol.size.quiet * mm
    caption = para("DIN (ISBT 128)", SMALL)
    eye_readable = din_box(certificate.din_text, certificate.check_character)
    width = max(symbol.width, quiet - 1.5 * mm + sum(eye_readable._colWidths))
    return Table([[caption], [symbol], [eye_readable]],
                 colWidths=[width], hAlign="RIGHT", style=TableStyle([
                     ("LEFTPADDING", (0, 0), (-1, -1), 0),
                     ("LEFTPADDING", (0, 0), (0, 0), quiet),
                     ("LEFTPADDING", (0, 2), (0, 2), quiet - 1.5 * mm),
                     ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                     ("TOPPADDING", (0, 0), (-1, -1), 0),
                     ("BOTTOMPADDING", (0, 0), (-1, -1), 0.8 * mm),
                 ]))


def draw_furniture(canvas: Canvas, certificate: Certificate, digest: str) -> None:
    left, right = MARGIN_X, PAGE_WIDTH - MARGIN_X
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    top = PAGE_HEIGHT - 12 * mm
    canvas.setFont(SANS, 8)
    canvas.setFillColor(INK)
    canvas.drawString(left, top, f"{TITLE_TEXT} · {certificate.protocol}")
    canvas.setFont(SANS_BOLD, 8)
    canvas.drawRightString(right, top, f"DIN {certificate.din_text} {certificate.check_character}"
                                       f" · {certificate.subject_id}")
    canvas.line(left, top - 2.5 * mm, right, top - 2.5 * mm)
    canvas.line(left, 19 * mm, right, 19 * mm)
    caption = "Certificate ID (content SHA-256):"
    canvas.setFont(SANS, 7)
    canvas.drawString(left, 14.5 * mm, caption)
    canvas.setFont(MONO, 6.5)
    canvas.drawString(left + text_width(caption, SANS, 7) + 1.5 * mm, 14.5 * mm, digest)
    canvas.setFont(SANS_BOLD, 9)
    canvas.drawRightString(right, 14.5 * mm, "Page 1 of 1")
    canvas.setFont(SANS, 6.5)
    canvas.setFillColor(MUTED)
    printed = (f"Printed {utc_stamp(certificate.generated_at)} by {certificate.generated_by}; "
               if certificate.generated_at is not None else "")
    canvas.drawString(left, 10.5 * mm, f"{printed}the ID covers everything on this page but "
                                       "this line.")
    canvas.restoreState()
