"""Small inline SVG charts drawn on the server: a series across products against limits.

Presentation attributes only (no style attributes, no script), so the strict
Content-Security-Policy of the pages holds. Out-of-specification points are drawn
as red crosses, in-specification ones as dots, so colour is never the only cue.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup, escape

from workflows.numbers import MILLION_UNITS, format_number, format_value, power_of_ten, significant

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 50


@dataclass(frozen=True)
class Point:
    label: str  # x-axis label (short DIN)
    value: float
    ok: bool
    note: str = ""  # tooltip


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    points: list[Point]
    low: float | None = None
    high: float | None = None
    log: bool = False
    limit_text: str = ""


def _ticks(low: float, high: float, log: bool) -> list[float]:
    if log:
        return [10.0 ** e for e in range(math.floor(math.log10(low)),
                                          math.ceil(math.log10(high)) + 1)]
    step = _nice((high - low) / 4)
    start = math.floor(low / step) * step
    return [start + i * step for i in range(7) if start + i * step <= high + step / 2]


def _nice(raw: float) -> float:
    if raw <= 0:
        return 1.0
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10 ** exponent
    nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    return float(nice * 10 ** exponent)


def _fmt(value: float, unit: str) -> str:
    """A tick or limit in the registry's format; cell numbers in millions, the axis says
    "× 10⁶ cells" (workflows.numbers)."""
    if unit in MILLION_UNITS:
        return significant(value / 1e6)
    return format_number(value, unit)


def _axis(unit: str) -> str:
    return f"× {power_of_ten(6)} {unit}" if unit in MILLION_UNITS else unit


def _range(chart: Chart) -> tuple[float, float]:
    values = [p.value for p in chart.points if not chart.log or p.value > 0]
    values += [v for v in (chart.low, chart.high) if v is not None]
    if not values:
        return (1.0, 10.0) if chart.log else (0.0, 100.0)
    low, high = min(values), max(values)
    if chart.log:
        return 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high))
    pad = (high - low) * 0.15 or abs(high) * 0.1 or 1.0
    low = 0.0 if low >= 0 and low - pad < 0 else low - pad
    return low, high + pad


@dataclass(frozen=True)
class _Frame:
    """Where the plot sits and how values map onto it."""

    chart: Chart
    low: float
    high: float

    @property
    def width(self) -> int:
        return WIDTH - LEFT - RIGHT

    @property
    def height(self) -> int:
        return HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        if self.chart.log:
            value = max(value, self.low)
            span = math.log10(self.high) - math.log10(self.low)
            ratio = (math.log10(value) - math.log10(self.low)) / span
        else:
            ratio = (value - self.low) / (self.high - self.low)
        return round(TOP + self.height * (1 - ratio), 1)

    def x(self, index: int) -> float:
        return round(LEFT + self.width * ((index + 0.5) / max(len(self.chart.points), 1)), 1)


def svg(chart: Chart) -> Markup:
    """The chart as an inline <svg> with a title and description for screen readers."""
    frame = _Frame(chart, *_range(chart))
    key = re.sub(r"[^a-z0-9]+", "-", chart.title.lower()).strip("-")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" role="img" aria-labelledby="t-{key} d-{key}" class="chart">',
             f'<title id="t-{key}">{escape(chart.title)}</title>',
             f'<desc id="d-{key}">{escape(_describe(chart))}</desc>',
             *_background(frame), *_limits(frame), *_series(frame), *_axes(frame), "</svg>"]
    return Markup("".join(parts))


def _background(frame: _Frame) -> list[str]:
    chart = frame.chart
    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{frame.width}" height="{frame.height}" '
             'fill="#ffffff" stroke="#8a8a8a"/>']
    if chart.low is not None and chart.high is not None:
        top, bottom = frame.y(chart.high), frame.y(chart.low)
        parts.append(f'<rect x="{LEFT}" y="{top}" width="{frame.width}" '
                     f'height="{bottom - top}" fill="#e3f4e6"/>')
    for tick in _ticks(frame.low, frame.high, chart.log):
        if frame.low <= tick <= frame.high:
            y = frame.y(tick)
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + frame.width}" y1="{y}" y2="{y}" '
                         'stroke="#e0e0e0"/>')
            parts.append(f'<text x="{LEFT - 8}" y="{y + 4}" text-anchor="end" font-size="12" '
                         f'fill="#333">{escape(_fmt(tick, frame.chart.unit))}</text>')
    return parts


def _limits(frame: _Frame) -> list[str]:
    parts = []
    for name, limit in (("min", frame.chart.low), ("max", frame.chart.high)):
        if limit is not None:
            y = frame.y(limit)
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + frame.width}" y1="{y}" y2="{y}" '
                         'stroke="#b00020" stroke-width="2" stroke-dasharray="8 5"/>')
            shown = escape(format_value(limit, frame.chart.unit))
            parts.append(f'<text x="{LEFT + frame.width - 4}" y="{y - 5}" text-anchor="end" '
                         f'font-size="12" fill="#b00020">{name} {shown}</text>')
    return parts


def _series(frame: _Frame) -> list[str]:
    chart, parts = frame.chart, []
    coords = [(frame.x(i), frame.y(p.value)) for i, p in enumerate(chart.points)]
    for (x1, y1), (x2, y2) in pairwise(coords):
        parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#5a6b7b" '
                     'stroke-width="1.5"/>')
    for point, (px, py) in zip(chart.points, coords, strict=True):
        tip = escape(f"{point.label}: {format_value(point.value, chart.unit)} {point.note}".strip())
        if point.ok:
            parts.append(f'<circle cx="{px}" cy="{py}" r="6" fill="#1f5f99"><title>{tip}'
                         '</title></circle>')
        else:
            parts.append(f'<path d="M{px - 7},{py - 7} L{px + 7},{py + 7} M{px - 7},{py + 7} '
                         f'L{px + 7},{py - 7}" stroke="#b00020" stroke-width="4">'
                         f'<title>{tip} OUT OF SPECIFICATION</title></path>')
        parts.append(f'<text x="{px}" y="{TOP + frame.height + 18}" text-anchor="middle" '
                     f'font-size="11" fill="#333">{escape(point.label)}</text>')
    if not chart.points:
        parts.append(f'<text x="{LEFT + frame.width / 2}" y="{TOP + frame.height / 2}" '
                     'text-anchor="middle" font-size="14" fill="#555">no results yet</text>')
    return parts


def _axes(frame: _Frame) -> list[str]:
    middle = TOP + frame.height / 2
    return [f'<text x="{LEFT + frame.width / 2}" y="{HEIGHT - 10}" text-anchor="middle" '
            'font-size="12" fill="#333">products, oldest harvest first (DIN sequence)</text>',
            f'<text x="14" y="{middle}" text-anchor="middle" font-size="12" fill="#333" '
            f'transform="rotate(-90 14 {middle})">{escape(_axis(frame.chart.unit))}</text>']


def _describe(chart: Chart) -> str:
    out = sum(not p.ok for p in chart.points)
    return (f"{len(chart.points)} products; {out} outside the specification"
            + (f" ({chart.limit_text})" if chart.limit_text else ""))
