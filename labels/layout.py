"""A label laid out as positioned items, shared by the PDF and ZPL renderers.

Coordinates are millimetres from the label's top-left corner, y downwards (the
way a thermal printer and a person read a label). Laying out once and rendering
twice keeps the PDF and the ZPL label identical in content and position.
Text is measured with the embedded DejaVu metrics; text that would not fit
raises `LayoutOverflow` instead of being silently clipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from labels.barcode import (
    CODE128_MODULE,
    DATAMATRIX_MODULE,
    DATAMATRIX_QUIET_MODULES,
    code128_size,
    datamatrix_modules,
    snap,
)
from labels.fonts import CAP_HEIGHT_EM, MONO, MONO_BOLD, SANS, SANS_BOLD, text_width

PT: Final = 25.4 / 72  # mm per point
ASCENT_EM: Final = 0.76  # DejaVu ascent (accents excluded), as a fraction of the size
DESCENT_EM: Final = 0.24

FontName = Literal["LabelSans", "LabelSans-Bold", "LabelMono", "LabelMono-Bold"]


class LayoutOverflow(ValueError):
    """The label's content does not fit its space; nothing was clipped."""


@dataclass(frozen=True)
class Text:
    x: float  # left edge (or right edge when align == "right", centre for "center")
    baseline: float
    text: str
    font: FontName
    size: float  # points
    align: Literal["left", "right", "center"] = "left"
    white: bool = False  # reversed out of a filled box

    @property
    def width(self) -> float:
        return text_width(self.text, self.font, self.size) / 72 * 25.4

    @property
    def left(self) -> float:
        if self.align == "right":
            return self.x - self.width
        if self.align == "center":
            return self.x - self.width / 2
        return self.x

    def bbox(self) -> tuple[float, float, float, float]:
        return (
            self.left,
            self.baseline - ASCENT_EM * self.size * PT,
            self.left + self.width,
            self.baseline + DESCENT_EM * self.size * PT,
        )


@dataclass(frozen=True)
class RotatedText:
    """Text turned 90° clockwise: it reads downwards from (x, top); x is its baseline side."""

    x: float
    top: float
    text: str
    font: FontName
    size: float

    def bbox(self) -> tuple[float, float, float, float]:
        length = text_width(self.text, self.font, self.size) / 72 * 25.4
        return (self.x, self.top, self.x + CAP_HEIGHT_EM * self.size * PT, self.top + length)


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: bool = False
    line: float = 0.25  # stroke width in mm when not filled

    def bbox(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)


@dataclass(frozen=True)
class Code128Item:
    """A Code 128 symbol; x is the left edge of its quiet zone, y the top of the bars."""

    x: float
    y: float
    data: str
    width: float  # including both quiet zones
    height: float
    quiet: float
    module: float = CODE128_MODULE

    @property
    def bars_left(self) -> float:
        return self.x + self.quiet

    def bbox(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.width, self.y + self.height)


@dataclass(frozen=True)
class DataMatrixItem:
    """A Data Matrix; (x, y) is the top-left of the symbol, quiet zone outside it."""

    x: float
    y: float
    data: str
    modules: tuple[tuple[bool, ...], ...] = field(repr=False)
    module: float = DATAMATRIX_MODULE

    @property
    def size(self) -> float:
        return len(self.modules) * self.module

    @property
    def quiet(self) -> float:
        return DATAMATRIX_QUIET_MODULES * self.module

    def bbox(self) -> tuple[float, float, float, float]:
        q = self.quiet
        return (self.x - q, self.y - q, self.x + self.size + q, self.y + self.size + q)


Item = Text | RotatedText | Box | Code128Item | DataMatrixItem


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    items: tuple[Item, ...]


def code128(x: float, y: float, data: str, height: float) -> Code128Item:
    size = code128_size(data, height=height)
    return Code128Item(snap(x), snap(y), data, size.width, size.height, size.quiet)


def datamatrix(x: float, y: float, data: str) -> DataMatrixItem:
    modules = tuple(tuple(row) for row in datamatrix_modules(data))
    return DataMatrixItem(snap(x), snap(y), data, modules)


def datamatrix_extent(data: str) -> float:
    """Side of the symbol plus both quiet zones, in mm."""
    n = len(datamatrix_modules(data))
    return (n + 2 * DATAMATRIX_QUIET_MODULES) * DATAMATRIX_MODULE


def line_height(size: float) -> float:
    """Baseline-to-baseline distance in mm for text of `size` points."""
    return size * PT * 1.18


def fit(text: str, font: FontName, size: float, width: float, min_size: float) -> float:
    """Largest size <= `size` at which `text` fits `width` mm; overflow if below `min_size`."""
    while text_width(text, font, size) / 72 * 25.4 > width:
        size -= 0.25
        if size < min_size:
            raise LayoutOverflow(f"{text!r} does not fit {width:.1f} mm at {min_size} pt")
    return size


def wrap(
    text: str,
    font: FontName,
    size: float,
    width: float,
    max_lines: int,
    first_indent: float = 0.0,
) -> list[str]:
    """Greedy word wrap into at most `max_lines` lines of `width` mm (the first indented)."""
    lines: list[str] = []
    for word in text.split():
        room = width - (first_indent if len(lines) <= 1 else 0.0)
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and text_width(candidate, font, size) / 72 * 25.4 <= room:
            lines[-1] = candidate
            continue
        room = width - (first_indent if not lines else 0.0)
        if text_width(word, font, size) / 72 * 25.4 > room:
            raise LayoutOverflow(f"word {word!r} wider than {room:.1f} mm")
        lines.append(word)
    if len(lines) > max_lines:
        raise LayoutOverflow(f"{text!r} needs {len(lines)} lines, {max_lines} available")
    return lines


def wrap_fit(
    text: str, font: FontName, size: float, width: float, max_lines: int, min_size: float
) -> tuple[list[str], float]:
    """Wrap at the largest size (down to `min_size`) that fits in `max_lines`."""
    while True:
        try:
            return wrap(text, font, size, width, max_lines), size
        except LayoutOverflow:
            size -= 0.25
            if size < min_size:
                raise


__all__ = [
    "MONO",
    "MONO_BOLD",
    "SANS",
    "SANS_BOLD",
    "Box",
    "Code128Item",
    "DataMatrixItem",
    "Item",
    "Layout",
    "LayoutOverflow",
    "RotatedText",
    "Text",
]
