"""Bar-code geometry and drawing on a reportlab canvas.

Code 128 comes from reportlab's encoder (ISO/IEC 15417, switches to subset C
for digit runs). Data Matrix ECC 200 comes from zxing-cpp and is drawn here as
vector squares: reportlab's own Data Matrix encoder produced symbols that no
reader could decode.

Sizes follow ISBT 128 ST-001 ch. 6: Code 128 X = 0.254 mm (3 dots at 300 dpi,
target 0.25 mm), quiet zones 10X, height >= 5 mm and >= 15 % of the length;
Data Matrix X = 0.508 mm (6 dots at 300 dpi) with a 2X quiet zone. Positions are
snapped to the 300 dpi grid so every module is a whole number of printer dots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import zxingcpp
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

DOT: Final = 25.4 / 300  # mm per dot of a 300 dpi printer
CODE128_MODULE: Final = 3 * DOT  # 0.254 mm
CODE128_QUIET_MODULES: Final = 10
CODE128_MIN_HEIGHT: Final = 5.0  # mm
DATAMATRIX_MODULE: Final = 6 * DOT  # 0.508 mm
DATAMATRIX_QUIET_MODULES: Final = 2


def snap(value_mm: float) -> float:
    """Move a position back to the 300 dpi dot at or before it (never into what follows)."""
    return math.floor(value_mm / DOT + 1e-9) * DOT


def _code128(data: str, module: float, height: float) -> Code128:
    quiet = CODE128_QUIET_MODULES * module * mm
    symbol = Code128(
        data,
        barWidth=module * mm,
        barHeight=height * mm,
        humanReadable=0,
        quiet=1,
        lquiet=quiet,
        rquiet=quiet,
    )
    symbol.validate()
    if not symbol.valid:
        raise ValueError(f"cannot encode {data!r} in Code 128")
    return symbol


@dataclass(frozen=True)
class Code128Size:
    """Geometry in mm; `width` includes both quiet zones."""

    width: float
    quiet: float
    height: float

    @property
    def bars_width(self) -> float:
        return self.width - 2 * self.quiet


def code128_size(data: str, module: float = CODE128_MODULE, height: float = 0.0) -> Code128Size:
    """Size of the Code 128 symbol for `data`; height raised to the ISBT minimum."""
    symbol = _code128(data, module, 1.0)
    symbol.encode()
    symbol.decompose()
    symbol.computeSize()
    width = float(symbol.width) / mm
    return Code128Size(
        width=width,
        quiet=CODE128_QUIET_MODULES * module,
        height=max(height, CODE128_MIN_HEIGHT, 0.15 * width),
    )


def draw_code128(
    canvas: Canvas, data: str, x: float, y: float, *, module: float, height: float
) -> None:
    """Draw with the left quiet zone starting at (x, y) (mm, PDF origin bottom-left)."""
    _code128(data, module, height).drawOn(canvas, x * mm, y * mm)


def datamatrix_modules(data: str) -> list[list[bool]]:
    """ECC 200 module matrix, row 0 at the top; True is a dark module."""
    # Square symbols only: the layouts reserve a square, and ISBT labels print square ones.
    symbol = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
    # zxing-cpp's Image implements the buffer protocol; its stubs do not declare it.
    image = memoryview(symbol.to_image(scale=1, add_quiet_zones=False))  # type: ignore[arg-type]
    rows, cols = image.shape or (0, 0)
    return [[image[r, c] == 0 for c in range(cols)] for r in range(rows)]


def datamatrix_size(data: str, module: float = DATAMATRIX_MODULE) -> tuple[float, float]:
    """(width, height) of the symbol in mm, quiet zone excluded."""
    matrix = datamatrix_modules(data)
    return len(matrix[0]) * module, len(matrix) * module


def draw_datamatrix(
    canvas: Canvas, modules: list[list[bool]], x: float, top: float, *, module: float
) -> None:
    """Draw the matrix with its top-left corner at (x, top) (mm, PDF origin bottom-left).

    Dark runs of each row become one rectangle, all filled as one path so that
    touching modules leave no hairline seams when rasterised.
    """
    path = canvas.beginPath()
    for r, row in enumerate(modules):
        y = (top - (r + 1) * module) * mm
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            path.rect((x + start * module) * mm, y, (c - start) * module * mm, module * mm)
    canvas.drawPath(path, stroke=0, fill=1)
