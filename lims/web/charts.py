"""Small inline SVG charts drawn on the server: a series across products on a time axis
(each product at its harvest date) against the specification limits.

Presentation attributes only (no style attributes, no script), so the strict
Content-Security-Policy of the pages holds. Out-of-specification points are drawn
as red crosses, in-specification ones as dots, so colour is never the only cue; each
point's tooltip (<title>) names its DIN, date and value, and says when it is out of
specification. Text is large enough to stay at least 12 px on screen when the chart is
drawn as narrow as the page lays it out (about 540 px of its 640).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise

from markupsafe import Markup, escape

from workflows.numbers import MILLION_UNITS, format_number, format_value, power_of_ten, significant

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 84, 24, 30, 66
TEXT = 15  # user units; the chart is never drawn below ~0.84 of its size (CSS: .charts)
DAY_STEPS = (1, 2, 3, 7, 14, 28, 56, 91, 182, 364)


@dataclass(frozen=True)
class Point:
    label: str  # the product's DIN, in the tooltip
    value: float
    ok: bool
    note: str = ""  # more of the tooltip (the arm)
    when: datetime | None = None  # where it sits on the time axis (the harvest)


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    points: list[Point]
    low: float | None = None
    high: float | None = None
    log: bool = False
    limit_text: str = ""
    # What the time axis and each point are: a product at its harvest (QC trends), or one
    # patient's visit (follow-up outcomes).
    time_axis: str = "harvest date (each point one product)"
    when_words: str = "harvest"
    points_are: str = "products by harvest date"


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


def _span(chart: Chart) -> tuple[datetime, datetime] | None:
    """The time axis: the points' dates with a little room on each side (a day at least)."""
    times = [p.when for p in chart.points if p.when is not None]
    if not times:
        return None
    first, last = min(times), max(times)
    pad = max((last - first) * 0.05, timedelta(hours=12))
    return first - pad, last + pad


@dataclass(frozen=True)
class _Frame:
    """Where the plot sits and how values and times map onto it."""

    chart: Chart
    low: float
    high: float
    zone: tzinfo
    span: tuple[datetime, datetime] | None

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
        point = self.chart.points[index]
        if self.span is None or point.when is None:
            return round(LEFT + self.width * ((index + 0.5) / max(len(self.chart.points), 1)), 1)
        return self.x_at(point.when)

    def x_at(self, when: datetime) -> float:
        assert self.span is not None
        first, last = self.span
        ratio = (when - first) / (last - first)
        return round(LEFT + self.width * ratio, 1)


def svg(chart: Chart, zone: tzinfo) -> Markup:
    """The chart as an inline <svg> with a title and description for screen readers;
    dates in the site's time zone `zone`."""
    frame = _Frame(chart, *_range(chart), zone=zone, span=_span(chart))
    key = re.sub(r"[^a-z0-9]+", "-", chart.title.lower()).strip("-")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" role="img" aria-labelledby="t-{key} d-{key}" class="chart">',
             f'<title id="t-{key}">{escape(chart.title)}</title>',
             f'<desc id="d-{key}">{escape(_describe(chart))}</desc>',
             *_background(frame), *_dates(frame), *_limits(frame), *_series(frame),
             *_axes(frame), "</svg>"]
    return Markup("".join(parts))


def _text(x: float, y: float, words: str, anchor: str = "middle", fill: str = "#333",
          extra: str = "") -> str:
    return (f'<text x="{x}" y="{y}" text-anchor="{anchor}" font-size="{TEXT}" fill="{fill}"'
            f'{extra}>{escape(words)}</text>')


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
            parts.append(_text(LEFT - 8, y + 5, _fmt(tick, frame.chart.unit), "end",
                               extra=' class="y-tick"'))
    return parts


def date_ticks(first: datetime, last: datetime, zone: tzinfo, most: int = 6) -> list[datetime]:
    """Local midnights between `first` and `last`, a whole number of days apart, at most
    `most` of them."""
    start = first.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    days = max((last - first) / timedelta(days=1), 1.0)
    step = next((d for d in DAY_STEPS if days / d <= most), DAY_STEPS[-1])
    ticks, day = [], start
    while day <= last:
        if day >= first:
            ticks.append(day)
        day = (day + timedelta(days=step, hours=3)).replace(hour=0)  # across a DST change
    return ticks


def _dates(frame: _Frame) -> list[str]:
    if frame.span is None:
        return []
    parts, bottom = [], TOP + frame.height
    for tick in date_ticks(*frame.span, frame.zone):
        x = frame.x_at(tick)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{TOP}" y2="{bottom + 6}" stroke="#e0e0e0"/>')
        parts.append(_text(x, bottom + 24, tick.strftime("%d %b"),
                           extra=f' class="x-tick" data-date="{tick.date().isoformat()}"'))
    return parts


def _limits(frame: _Frame) -> list[str]:
    parts = []
    for name, limit in (("lower", frame.chart.low), ("upper", frame.chart.high)):
        if limit is not None:
            y = frame.y(limit)
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + frame.width}" y1="{y}" y2="{y}" '
                         'stroke="#b00020" stroke-width="2" stroke-dasharray="8 5" '
                         f'class="limit limit-{name}"/>')
            shown = format_value(limit, frame.chart.unit)
            # The label sits inside the plot: below the upper limit, above the lower one.
            at = y + TEXT + 2 if name == "upper" else y - 6
            parts.append(_text(LEFT + frame.width - 6, at, f"{name} limit {shown}", "end",
                               "#b00020", ' class="limit-label"'))
    return parts


def _series(frame: _Frame) -> list[str]:
    chart, parts = frame.chart, []
    coords = [(frame.x(i), frame.y(p.value)) for i, p in enumerate(chart.points)]
    for (x1, y1), (x2, y2) in pairwise(coords):
        parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#5a6b7b" '
                     'stroke-width="1.5"/>')
    for point, (px, py) in zip(chart.points, coords, strict=True):
        when = (f" · {chart.when_words} {point.when.astimezone(frame.zone):%Y-%m-%d}"
                if point.when else "")
        tip = escape(f"{point.label}{when}: {format_value(point.value, chart.unit)} "
                     f"{point.note}".strip())
        if point.ok:
            parts.append(f'<circle cx="{px}" cy="{py}" r="6" fill="#1f5f99" class="point">'
                         f'<title>{tip}</title></circle>')
        else:
            parts.append(f'<path d="M{px - 7},{py - 7} L{px + 7},{py + 7} M{px - 7},{py + 7} '
                         f'L{px + 7},{py - 7}" stroke="#b00020" stroke-width="4" '
                         f'class="point out-of-spec"><title>{tip} — OUT OF SPECIFICATION'
                         '</title></path>')
    if not chart.points:
        parts.append(_text(LEFT + frame.width / 2, TOP + frame.height / 2, "no results yet",
                           fill="#555"))
    return parts


def _axes(frame: _Frame) -> list[str]:
    middle = TOP + frame.height / 2
    words = frame.chart.time_axis if frame.span is not None else "products"
    return [_text(LEFT + frame.width / 2, HEIGHT - 12, words, extra=' class="x-title"'),
            _text(18, middle, _axis(frame.chart.unit),
                  extra=f' transform="rotate(-90 18 {middle})" class="y-title"')]


def _describe(chart: Chart) -> str:
    out = sum(not p.ok for p in chart.points)
    if chart.low is None and chart.high is None:
        return f"{len(chart.points)} {chart.points_are}"
    return (f"{len(chart.points)} {chart.points_are}; {out} outside the specification"
            + (f" ({chart.limit_text})" if chart.limit_text else ""))
