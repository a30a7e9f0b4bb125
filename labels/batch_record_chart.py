"""The chart of this product's key values against their specification limits.

One row per value, each on its own linear scale (the units differ): the
specification range is a pale band between its limits, each limit a dark tick
with its value, and the product's value a bar from the scale's start. A value
outside its limits is drawn red and the row says OUT OF SPEC in words, so the
chart still reads on a black-and-white copy. Limits are inclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit

from labels.batch_record_model import ChartSeries
from labels.batch_record_style import (
    ALERT,
    CONTENT_WIDTH,
    INK,
    MUTED,
    PASS,
    PASS_FILL,
    RULE,
)
from labels.batch_record_text import nice_ceiling, number_text, power_of
from labels.fonts import SANS, SANS_BOLD, text_width

ROW_HEIGHT: Final = 17 * mm
LEGEND_HEIGHT: Final = 9 * mm
NAME_WIDTH: Final = 50 * mm
BAR_LEFT: Final = 54 * mm
BAR_RIGHT: Final = CONTENT_WIDTH - 30 * mm
STATUS_LEFT: Final = CONTENT_WIDTH - 26 * mm
BAND_HEIGHT: Final = 6 * mm
BAR_HEIGHT: Final = 3 * mm
LINE: Final = 3.4 * mm  # leading of the name and value lines
MAX_DRAWING_HEIGHT: Final = 215 * mm  # a piece of the chart fits under a heading on a fresh page


def in_spec(series: ChartSeries) -> bool:
    low_ok = series.low is None or series.value >= series.low
    return low_ok and (series.high is None or series.value <= series.high)


@dataclass(frozen=True)
class _Scale:
    start: float
    end: float
    power: int  # every number of the row is written in this power of ten

    def text(self, value: float) -> str:
        return number_text(value, self.power)

    def x(self, value: float) -> float:
        fraction = (value - self.start) / (self.end - self.start)
        return float(BAR_LEFT + fraction * (BAR_RIGHT - BAR_LEFT))


def _scale(series: ChartSeries) -> _Scale:
    """From zero (or below the lowest point if negative) to a round number past the highest."""
    points = [series.value, *(v for v in (series.low, series.high) if v is not None)]
    lowest, highest = min(points), max(points)
    start = -nice_ceiling(-lowest * 1.15) if lowest < 0 else 0.0
    end = nice_ceiling(highest * 1.15) if highest > 0 else 0.0
    if series.unit == "%" and 0 < highest <= 100 and start == 0:
        end = 100.0
    if end - start <= 0:
        end = start + 1.0
    return _Scale(start, end, power_of(end))


def _wrapped(value: str, font: str, size: float, width: float) -> list[str]:
    """`value` in lines no wider than `width`: at spaces, and inside words too long for a line."""
    lines: list[str] = []
    for line in simpleSplit(value, font, size, width) or [""]:
        while text_width(line, font, size) > width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and text_width(line[:cut], font, size) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    return lines


@dataclass(frozen=True)
class _Caption:
    """The name (bold) and value lines at the left of a row."""

    name: list[str]
    value: list[str]

    @property
    def height(self) -> float:
        return float((len(self.name) + len(self.value)) * LINE + 2 * mm)


def _caption(series: ChartSeries, scale: _Scale) -> _Caption:
    value = f"{scale.text(series.value)} {series.unit}".strip()
    return _Caption(_wrapped(series.name, SANS_BOLD, 8, NAME_WIDTH),
                    _wrapped(value, SANS_BOLD, 8, NAME_WIDTH))


def _row_height(series: ChartSeries) -> float:
    return float(max(ROW_HEIGHT, _caption(series, _scale(series)).height + 1 * mm))


def _label(drawing: Drawing, caption: _Caption, top: float, ok: bool) -> None:
    y = top - 3.2 * mm
    for line in caption.name:
        drawing.add(String(0, y, line, fontName=SANS_BOLD, fontSize=8, fillColor=INK))
        y -= LINE
    for line in caption.value:
        drawing.add(String(0, y, line, fontName=SANS if ok else SANS_BOLD, fontSize=8,
                           fillColor=INK if ok else ALERT))
        y -= LINE


def _limit(drawing: Drawing, x: float, caption: str, band_y: float, above: bool) -> None:
    drawing.add(Line(x, band_y - 1 * mm, x, band_y + BAND_HEIGHT + 1 * mm,
                     strokeColor=INK, strokeWidth=1.2))
    y = band_y + BAND_HEIGHT + 1.5 * mm if above else band_y - 4 * mm
    drawing.add(String(x, y, caption, fontName=SANS, fontSize=6.5, fillColor=INK,
                       textAnchor="middle"))


def _limits(drawing: Drawing, series: ChartSeries, scale: _Scale, band_y: float) -> None:
    """Both limit ticks; the upper caption goes above the band if the two would collide."""
    low_x: float | None = None
    if series.low is not None:
        low_x = scale.x(series.low)
        _limit(drawing, low_x, f"min {scale.text(series.low)}", band_y, above=False)
    if series.high is not None:
        high_x = scale.x(series.high)
        crowded = low_x is not None and high_x - low_x < 24 * mm
        _limit(drawing, high_x, f"max {scale.text(series.high)}", band_y, above=crowded)


def _bar(drawing: Drawing, series: ChartSeries, scale: _Scale, band_y: float, ok: bool) -> None:
    low = series.low if series.low is not None else scale.start
    high = series.high if series.high is not None else scale.end
    drawing.add(Rect(scale.x(low), band_y, scale.x(high) - scale.x(low), BAND_HEIGHT,
                     fillColor=PASS_FILL, strokeColor=None))
    drawing.add(Line(BAR_LEFT, band_y, BAR_RIGHT, band_y, strokeColor=RULE, strokeWidth=0.5))
    bar_y = band_y + (BAND_HEIGHT - BAR_HEIGHT) / 2
    drawing.add(Rect(scale.x(scale.start), bar_y, scale.x(series.value) - scale.x(scale.start),
                     BAR_HEIGHT, fillColor=PASS if ok else ALERT, strokeColor=None))
    _limits(drawing, series, scale, band_y)
    drawing.add(String(BAR_LEFT, band_y + BAND_HEIGHT + 1.2 * mm, scale.text(scale.start),
                       fontName=SANS, fontSize=6, fillColor=MUTED))
    drawing.add(String(BAR_RIGHT, band_y + BAND_HEIGHT + 1.2 * mm, scale.text(scale.end),
                       fontName=SANS, fontSize=6, fillColor=MUTED, textAnchor="end"))


def _row(drawing: Drawing, series: ChartSeries, top: float, height: float) -> None:
    ok, scale = in_spec(series), _scale(series)
    _label(drawing, _caption(series, scale), top, ok)
    band_y = top - height + 6 * mm
    _bar(drawing, series, scale, band_y, ok)
    status = "within spec" if ok else "OUT OF SPEC"
    drawing.add(String(STATUS_LEFT, band_y + 1.5 * mm, status, fontName=SANS_BOLD, fontSize=8.5,
                       fillColor=PASS if ok else ALERT))
    drawing.add(Line(0, top - height, CONTENT_WIDTH, top - height,
                     strokeColor=RULE, strokeWidth=0.3))


def _legend(drawing: Drawing, top: float) -> None:
    y = top - 5 * mm
    drawing.add(Rect(BAR_LEFT, y, 8 * mm, 3 * mm, fillColor=PASS_FILL, strokeColor=None))
    drawing.add(String(BAR_LEFT + 10 * mm, y + 0.6 * mm, "specification range", fontName=SANS,
                       fontSize=7, fillColor=INK))
    x = BAR_LEFT + 40 * mm
    drawing.add(Line(x, y - 0.5 * mm, x, y + 3.5 * mm, strokeColor=INK, strokeWidth=1.2))
    drawing.add(String(x + 2 * mm, y + 0.6 * mm, "limit", fontName=SANS, fontSize=7,
                       fillColor=INK))
    x += 14 * mm
    drawing.add(Rect(x, y + 0.5 * mm, 8 * mm, 2 * mm, fillColor=PASS, strokeColor=None))
    drawing.add(String(x + 10 * mm, y + 0.6 * mm, "this product (red: out of spec)",
                       fontName=SANS, fontSize=7, fillColor=INK))
    drawing.add(Line(0, top - LEGEND_HEIGHT, CONTENT_WIDTH, top - LEGEND_HEIGHT,
                     strokeColor=RULE, strokeWidth=0.3))


def key_value_chart(series: Sequence[ChartSeries]) -> Drawing:
    """A drawing (a platypus flowable) one content-width wide, one row per value."""
    heights = [_row_height(one) for one in series]
    total = LEGEND_HEIGHT + sum(heights)
    drawing = Drawing(CONTENT_WIDTH, total)
    _legend(drawing, total)
    top = total - LEGEND_HEIGHT
    for one, height in zip(series, heights, strict=True):
        _row(drawing, one, top, height)
        top -= height
    return drawing


def key_value_charts(series: Sequence[ChartSeries]) -> list[Drawing]:
    """The chart in pieces no taller than `MAX_DRAWING_HEIGHT`, so each fits a page."""
    pieces: list[list[ChartSeries]] = [[]]
    room = MAX_DRAWING_HEIGHT - LEGEND_HEIGHT
    for one in series:
        height = _row_height(one)
        if pieces[-1] and height > room:
            pieces.append([])
            room = MAX_DRAWING_HEIGHT - LEGEND_HEIGHT
        pieces[-1].append(one)
        room -= height
    return [key_value_chart(piece) for piece in pieces if piece]
