"""The typefaces printed on labels.

ISBT 128 §7.4 and §7.5.1.1 require a typeface that tells 0 from O and 1 from I.
The PDF base-14 Helvetica/Courier do not reliably (and cannot be embedded), so
the package carries DejaVu Sans and DejaVu Sans Mono (slashed zero, serifed 1/I)
and embeds them; the same bytes are used on every machine, which also keeps the
golden-file test stable.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR: Final = Path(__file__).parent / "fonts"

SANS: Final = "LabelSans"
SANS_BOLD: Final = "LabelSans-Bold"
MONO: Final = "LabelMono"
MONO_BOLD: Final = "LabelMono-Bold"

_FILES: Final = {
    SANS: "DejaVuSans.ttf",
    SANS_BOLD: "DejaVuSans-Bold.ttf",
    MONO: "DejaVuSansMono.ttf",
    MONO_BOLD: "DejaVuSansMono-Bold.ttf",
}

# DejaVu cap height and digit height are both 1493/2048 em; used to keep the
# text under linear bar codes within ISBT's 2 mm limit.
CAP_HEIGHT_EM: Final = 1493 / 2048


@cache
def register_fonts() -> None:
    """Register the label typefaces with reportlab (once per process)."""
    for name, filename in _FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / filename)))


def text_width(text: str, font: str, size: float) -> float:
    """Width of `text` in points."""
    register_fonts()
    return float(pdfmetrics.stringWidth(text, font, size))


def font_file(font: str) -> Path:
    """The TrueType file of a label typeface (ZPL draws text its printer font lacks)."""
    return FONT_DIR / _FILES[font]
