"""Small inline SVG charts drawn on the server: a series across products against limits.

Presentation attributes only (no style attributes, no script), so the strict
Content-Security-Policy of the pages holds. Out-of-specification points are drawn
as red crosses, in-specification ones as dots, so colour is never the only cue.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from markupsafe import Markup, escape

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


def _fmt(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-2):
        exponent = math.floor(math.log10(abs(value)))
        mantissa = value / 10 ** exponent
        return f"{mantissa:g}e{exponent}" if mantissa != 1 else f"1e{exponent}"
    return f"{value:g}"


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


def svg(chart: Chart) -> Markup:
    """The chart as an inline <svg> with a title and description for screen readers."""
    low, high = _range(chart)
    key = re.sub(r"[^a-z0-9]+", "-", chart.title.lower()).strip("-")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        if chart.log:
            value = max(value, low)
            ratio = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
        else:
            ratio = (value - low) / (high - low)
        return round(TOP + plot_h * (1 - ratio), 1)

    n = len(chart.points)

    def x(index: int) -> float:
        return round(LEFT + plot_w * ((index + 0.5) / max(n, 1)), 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" role="img" aria-labelledby="t-{key} d-{key}" '
             'class="chart">',
             f'<title id="t-{key}">{escape(chart.title)}</title>',
             f'<desc id="d-{key}">{escape(_describe(chart))}</desc>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#ffffff" '
             'stroke="#8a8a8a"/>']
    if chart.low is not None and chart.high is not None:
        top, bottom = y(chart.high), y(chart.low)
        parts.append(f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{bottom - top}" '
                     'fill="#e3f4e6"/>')
    for tick in _ticks(low, high, chart.log):
        if not low <= tick <= high:
            continue
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick)}" y2="{y(tick)}" '
                     'stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y(tick) + 4}" text-anchor="end" '
                     f'font-size="12" fill="#333">{escape(_fmt(tick))}</text>')
    for name, limit in (("min", chart.low), ("max", chart.high)):
        if limit is not None:
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(limit)}" '
                         f'y2="{y(limit)}" stroke="#b00020" stroke-width="2" '
                         'stroke-dasharray="8 5"/>')
            parts.append(f'<text x="{LEFT + plot_w - 4}" y="{y(limit) - 5}" text-anchor="end" '
                         f'font-size="12" fill="#b00020">{name} {escape(_fmt(limit))}</text>')
    previous = None
    for index, point in enumerate(chart.points):
        px, py = x(index), y(point.value)
        if previous is not None:
            parts.append(f'<line x1="{previous[0]}" y1="{previous[1]}" x2="{px}" y2="{py}" '
                         'stroke="#5a6b7b" stroke-width="1.5"/>')
        previous = (px, py)
    for index, point in enumerate(chart.points):
        px, py = x(index), y(point.value)
        tip = escape(f"{point.label}: {_fmt(point.value)} {chart.unit} {point.note}".strip())
        if point.ok:
            parts.append(f'<circle cx="{px}" cy="{py}" r="6" fill="#1f5f99"><title>{tip}'
                         '</title></circle>')
        else:
            parts.append(f'<path d="M{px - 7},{py - 7} L{px + 7},{py + 7} M{px - 7},{py + 7} '
                         f'L{px + 7},{py - 7}" stroke="#b00020" stroke-width="4">'
                         f'<title>{tip} OUT OF SPECIFICATION</title></path>')
        parts.append(f'<text x="{px}" y="{TOP + plot_h + 18}" text-anchor="middle" '
                     f'font-size="11" fill="#333">{escape(point.label)}</text>')
    if not chart.points:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" '
                     'text-anchor="middle" font-size="14" fill="#555">no results yet</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 10}" text-anchor="middle" '
                 'font-size="12" fill="#333">products, oldest harvest first (DIN sequence)'
                 '</text>')
    parts.append(f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" font-size="12" '
                 f'fill="#333" transform="rotate(-90 14 {TOP + plot_h / 2})">'
                 f'{escape(chart.unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(chart: Chart) -> str:
    out = sum(not p.ok for p in chart.points)
    return (f"{len(chart.points)} products; {out} outside the specification"
            + (f" ({chart.limit_text})" if chart.limit_text else ""))
