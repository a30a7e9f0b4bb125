"""Reusable parts of a label: the DIN group, coded blocks, text runs, bands.

Each function appends items to a list and returns the y (mm) just below what it
drew, so the kind-specific layouts read top to bottom like the label itself.
"""

from __future__ import annotations

from datetime import datetime

from labels.fonts import CAP_HEIGHT_EM
from labels.layout import (
    MONO,
    MONO_BOLD,
    PT,
    SANS,
    SANS_BOLD,
    Box,
    Code128Item,
    FontName,
    Item,
    LayoutOverflow,
    RotatedText,
    Text,
    code128,
    fit,
    line_height,
    wrap,
    wrap_fit,
)
from labels.model import Label
from labels.timefmt import local_text, utc_text
from workflows.isbt128 import encode_expiry

GAP = 0.6  # mm between a bar code and the text beneath it ("not touching")
HRI_SIZE = 7.0  # pt: 7 pt DejaVu digits are 1.8 mm high, within ISBT's 2 mm


def printed_flags(flags: str) -> str | None:
    """Flags to print beside the DIN: Type 1/2 (01-59) only; 00 and Type 3 never."""
    if flags.isdigit() and 1 <= int(flags) <= 59:
        return flags
    return None


def din_group(
    items: list[Item],
    label: Label,
    x: float,
    y: float,
    *,
    bar_height: float,
    size: float,
    width: float,
) -> tuple[float, Code128Item]:
    """DIN bar code with, beneath it, the DIN text, rotated flags and the boxed K.

    The DIN text is larger than other bar-code text: ST-001 §7.4.1 allows it.
    """
    symbol = code128(x, y, label.din_data, bar_height)
    items.append(symbol)
    cap = CAP_HEIGHT_EM * size * PT
    pad = 0.55
    baseline = symbol.y + symbol.height + GAP + pad + cap
    text = label.din.eye_readable()
    flags = printed_flags(label.flags)
    right = x + width

    def needed(s: float) -> float:
        char = 0.602 * s * PT  # DejaVu Sans Mono advance
        extra = (CAP_HEIGHT_EM * s * 0.8 * PT + 1.0) if flags else 0.0
        return len(text) * char + 1.0 + extra + char + 2 * pad

    while symbol.bars_left + needed(size) > right:
        size -= 0.25
        if size < 7:
            raise LayoutOverflow("DIN text does not fit")
    cap = CAP_HEIGHT_EM * size * PT
    left = symbol.bars_left
    din_text = Text(left, baseline, text, MONO_BOLD, size)
    items.append(din_text)
    cursor = left + din_text.width + 1.0
    if flags:
        flag_size = size * 0.8
        length = 2 * 0.602 * flag_size * PT
        top = baseline - cap / 2 - length / 2
        items.append(RotatedText(cursor, top, flags, MONO_BOLD, flag_size))
        cursor += CAP_HEIGHT_EM * flag_size * PT + 1.0
    k = Text(cursor + pad, baseline, label.din.check, MONO_BOLD, size)
    items.append(k)
    items.append(Box(cursor, baseline - cap - pad, k.width + 2 * pad, cap + 2 * pad, line=0.3))
    return baseline + pad + 0.4, symbol


def coded(
    items: list[Item], x: float, y: float, data: str, hri: str, *, bar_height: float
) -> tuple[float, Code128Item]:
    """A Code 128 symbol with its data-content text left-justified beneath (≤ 2 mm)."""
    symbol = code128(x, y, data, bar_height)
    items.append(symbol)
    baseline = symbol.y + symbol.height + GAP + CAP_HEIGHT_EM * HRI_SIZE * PT
    items.append(Text(symbol.bars_left, baseline, hri, MONO, HRI_SIZE))
    return baseline + 0.6, symbol


def lines(
    items: list[Item],
    x: float,
    y: float,
    text: str,
    *,
    font: FontName,
    size: float,
    width: float,
    max_lines: int = 1,
    min_size: float | None = None,
    white: bool = False,
) -> float:
    """Text wrapped into `width` mm, shrunk down to `min_size` if needed; returns the bottom."""
    wrapped, size = wrap_fit(text, font, size, width, max_lines, min_size or size)
    step = line_height(size)
    baseline = y + 0.76 * size * PT
    for line in wrapped:
        items.append(Text(x, baseline, line, font, size, white=white))
        baseline += step
    return baseline - step + 0.24 * size * PT


def pair(
    items: list[Item],
    x: float,
    y: float,
    caption: str,
    value: str,
    *,
    size: float,
    width: float,
    bold_value: bool = True,
) -> float:
    """ "Caption value" on one line: a small plain caption, then the value."""
    cap_size = size * 0.8
    cap = Text(x, y + 0.76 * size * PT, caption, SANS, cap_size)
    room = width - cap.width - 1.0
    font: FontName = SANS_BOLD if bold_value else SANS
    value_size = fit(value, font, size, room, min_size=size * 0.75)
    items.append(cap)
    items.append(Text(x + cap.width + 1.0, cap.baseline, value, font, value_size))
    return y + line_height(size)


def captioned_lines(
    items: list[Item],
    x: float,
    y: float,
    caption: str,
    value: str,
    *,
    size: float,
    width: float,
    max_lines: int,
    min_size: float,
) -> float:
    """A small caption, then a bold value that wraps under the caption's start."""
    while True:
        cap = Text(x, y + 0.76 * size * PT, caption, SANS, size * 0.8)
        indent = cap.width + 1.0
        try:
            wrapped = wrap(value, SANS_BOLD, size, width, max_lines, first_indent=indent)
            break
        except LayoutOverflow:
            size -= 0.25
            if size < min_size:
                raise
    items.append(cap)
    step = line_height(size)
    for n, line in enumerate(wrapped):
        items.append(
            Text(x + (indent if n == 0 else 0.0), cap.baseline + n * step, line, SANS_BOLD, size)
        )
    return y + len(wrapped) * step


def band(items: list[Item], x: float, y: float, w: float, text: str, *, size: float) -> float:
    """Text reversed out of a black band across the label (the autologous statement)."""
    size = fit(text, SANS_BOLD, size, w - 2.0, min_size=7.0)
    h = size * PT * 1.35
    items.append(Box(x, y, w, h, fill=True))
    items.append(
        Text(
            x + w / 2,
            y + h / 2 + 0.36 * size * PT,
            text,
            SANS_BOLD,
            size,
            align="center",
            white=True,
        )
    )
    return y + h


def mark_left(items: list[Item], x: float, y: float, text: str, *, size: float) -> float:
    """An outlined mark such as ISSUED with its left edge at `x`; returns its right edge."""
    t = Text(x + 1.0, y + 0.8 + 0.76 * size * PT, text, SANS_BOLD, size)
    items.append(t)
    items.append(Box(x, y, t.width + 2.0, size * PT + 1.6, line=0.4))
    return x + t.width + 2.0


def mark(items: list[Item], right: float, y: float, text: str, *, size: float) -> float:
    """An outlined mark such as REPRINT, right-aligned at `right`; returns its left edge."""
    t = Text(right - 1.0, y + 0.8 + 0.76 * size * PT, text, SANS_BOLD, size, align="right")
    items.append(t)
    items.append(Box(t.left - 1.0, y, t.width + 2.0, size * PT + 1.6, line=0.4))
    return t.left - 1.0


def moment(
    items: list[Item],
    label: Label,
    x: float,
    y: float,
    caption: str,
    when: datetime,
    *,
    size: float,
    width: float,
    utc: bool = True,
) -> float:
    """Local time with zone abbreviation, then "(… UTC)" beneath (ST-001 §7.4.4.2)."""
    y = pair(items, x, y, caption, local_text(when, label.time_zone), size=size, width=width)
    if utc:
        y = lines(items, x, y, utc_text(when), font=SANS, size=size * 0.8, width=width)
    return y


def expiry_group(
    items: list[Item],
    label: Label,
    x: float,
    y: float,
    *,
    bar_height: float,
    size: float,
    right: float,
) -> float:
    """Caption, DS 005 bar code, local expiry (key text, never shrunk) and UTC beneath."""
    assert label.expires_at is not None
    caption_size = 6.5
    items.append(
        Text(x + 2.54, y + 0.76 * caption_size * PT, "Expiry date and time", SANS, caption_size)
    )
    symbol = code128(
        x,
        y + line_height(caption_size),
        encode_expiry(label.expires_at.astimezone(label.zone)),
        bar_height,
    )
    items.append(symbol)
    width = right - symbol.bars_left
    y = symbol.y + symbol.height + GAP
    y = lines(
        items,
        symbol.bars_left,
        y,
        local_text(label.expires_at, label.time_zone),
        font=SANS_BOLD,
        size=size,
        width=width,
    )
    return lines(
        items,
        symbol.bars_left,
        y + 0.2,
        utc_text(label.expires_at),
        font=SANS,
        size=size * 0.8,
        width=width,
    )


def identifiers_text(label: Label) -> str:
    """ "MRN 123456 · DOB 1961-03-04": the two patient identifiers on one line."""
    return "  ·  ".join(f"{name} {value}" for name, value in label.patient_identifiers)
