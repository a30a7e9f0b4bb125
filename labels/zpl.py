"""ZPL II for Zebra thermal printers (203, 300 or 600 dpi), from the same layout as the PDF.

Escaping, because three layers read the field data:

* `^FH_` on every field: the ZPL parser treats `^` and `~` as commands anywhere, so
  they, `_` itself and every non-ASCII byte (UTF-8, `^CI28`) are sent as `_hh`.
* `^BC` Code 128 in mode N with explicit start and subset codes. `>` is the
  invocation prefix: a data `>` is sent as `>0` (symbol value 30), `^` as `><`
  (value 62) and `~` as `>=` (value 94) — ZPL II Programming Guide, ^BC, Table
  "Code 128 Invocation Characters". Digit runs go to subset C (`>5`, back with `>6`).
* `^BX` Data Matrix ECC 200 with the escape character named explicitly (`_`): its
  firmware default changed from `_` to `~` between versions. A data `_` is `__`.

Text uses the printer's scalable font 0; its condensed glyphs are narrower than
the DejaVu metrics the layout measured with, so nothing spills over. Font 0 has no
superscript digits (it would print "10" and a blank for "10⁶"): a text holding one is
sent as a graphic (`^GFA`) drawn with the label's own DejaVu typeface, as the PDF shows it.
"""

from __future__ import annotations

import re
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from labels.fonts import font_file
from labels.layout import (
    PT,
    Box,
    Code128Item,
    DataMatrixItem,
    Layout,
    RotatedText,
    Text,
)
from labels.layouts import layout_for
from labels.model import Label

SUPPORTED_DPI: Final = (203, 300, 600)
_HEX_SAFE: Final = re.compile(r"[ !\"#$%&'()*+,\-./0-9:;<=>?@A-Z\[\\\]`a-z{|}]")
_CODE128_B_ESCAPES: Final = {">": ">0", "^": "><", "~": ">="}
_DM_ESCAPE: Final = "_"
# What font 0 cannot show: the Unicode superscripts and subscripts (U+2070-U+209F).
NOT_IN_FONT_0: Final = re.compile("[\u2070-\u209f]")


def field_hex(text: str) -> str:
    """Field data safe inside `^FH_^FD…^FS`: anything not plainly printable becomes `_hh`."""
    out: list[str] = []
    for ch in text:
        if _HEX_SAFE.fullmatch(ch):
            out.append(ch)
        else:
            out.extend(f"_{byte:02X}" for byte in ch.encode("utf-8"))
    return "".join(out)


def code128_field(data: str) -> str:
    """`^BC` mode-N field data whose bar code reads exactly `data` (before `field_hex`)."""
    if not data.isascii() or any(ord(ch) < 32 or ord(ch) == 127 for ch in data):
        raise ValueError(f"Code 128 field {data!r}: printable ASCII only")
    out: list[str] = []
    subset = ""
    for run in re.findall(r"\d+|\D+", data):
        if run.isdigit() and (len(run) >= 4 or (run == data and len(run) % 2 == 0)):
            if len(run) % 2:  # the odd digit goes in subset B, the pairs in C
                subset = _to_b(out, subset)
                out.append(run[0])
                run = run[1:]
            out.append(">;" if not subset else ">5")
            subset = "C"
            out.append(run)
            continue
        subset = _to_b(out, subset)
        out.extend(_CODE128_B_ESCAPES.get(ch, ch) for ch in run)
    return "".join(out)


def _to_b(out: list[str], subset: str) -> str:
    if subset != "B":
        out.append(">:" if not subset else ">6")
    return "B"


def datamatrix_field(data: str) -> str:
    """`^BX` quality-200 field data (before `field_hex`): the escape character doubled."""
    return data.replace(_DM_ESCAPE, _DM_ESCAPE * 2)


class _Dots:
    def __init__(self, dpi: int) -> None:
        if dpi not in SUPPORTED_DPI:
            raise ValueError(f"dpi must be one of {SUPPORTED_DPI}, got {dpi}")
        self.per_mm = dpi / 25.4

    def __call__(self, mm: float) -> int:
        return round(mm * self.per_mm)

    def pt(self, size: float) -> int:
        return max(10, round(size * PT * self.per_mm))

    def module(self, mm: float) -> int:
        return max(2, round(mm * self.per_mm))


def text_graphic(item: Text, d: _Dots) -> str:
    """The text as a `^GFA` graphic in its DejaVu face, its baseline where the text's is."""
    pixels = item.size / 72 * 25.4 * d.per_mm
    font = ImageFont.truetype(str(font_file(item.font)), size=max(1, round(pixels)))
    x0, y0, x1, y1 = (round(v) for v in font.getbbox(item.text, anchor="ls"))
    image = Image.new("1", (max(x1 - x0, 1), max(y1 - y0, 1)), 0)
    ImageDraw.Draw(image).text((-x0, -y0), item.text, font=font, fill=1, anchor="ls")
    data = image.tobytes()  # 1 bit a dot, 1 = ink, rows padded to whole bytes as ^GF wants
    row = (image.width + 7) // 8
    reverse = "^FR" if item.white else ""
    return (f"^FO{d(item.left) + x0},{d(item.baseline) + y0}{reverse}"
            f"^GFA,{len(data)},{len(data)},{row},{data.hex().upper()}^FS")


def _text(item: Text, d: _Dots) -> str:
    if NOT_IN_FONT_0.search(item.text):
        return text_graphic(item, d)
    height = d.pt(item.size)
    reverse = "^FR" if item.white else ""
    data = f"^FH_^FD{field_hex(item.text)}^FS"
    if item.align == "left":
        return f"^FT{d(item.left)},{d(item.baseline)}^A0N,{height}{reverse}{data}"
    left, top, right, _ = item.bbox()
    justify = "C" if item.align == "center" else "R"
    return f"^FO{d(left)},{d(top)}^A0N,{height}^FB{d(right - left)},1,0,{justify}{reverse}{data}"


def _item(item: object, d: _Dots) -> str:
    if isinstance(item, Text):
        return _text(item, d)
    if isinstance(item, RotatedText):
        return f"^FO{d(item.x)},{d(item.top)}^A0R,{d.pt(item.size)}^FH_^FD{field_hex(item.text)}^FS"
    if isinstance(item, Box):
        w = max(d(item.w), 1)
        if item.fill:  # a filled box is a border as thick as the box (rules are 0.3 mm)
            h = max(d(item.h), d(0.3), 1)
            thickness = min(w, h)
        else:
            h, thickness = max(d(item.h), 1), max(1, d(item.line))
        return f"^FO{d(item.x)},{d(item.y)}^GB{w},{h},{thickness},B,0^FS"
    if isinstance(item, Code128Item):
        height = d(item.height)
        return (
            f"^FO{d(item.bars_left)},{d(item.y)}^BY{d.module(item.module)},3,{height}"
            f"^BCN,{height},N,N,N,N^FH_^FD{field_hex(code128_field(item.data))}^FS"
        )
    if isinstance(item, DataMatrixItem):
        n = len(item.modules)
        return (
            f"^FO{d(item.x)},{d(item.y)}^BXN,{d.module(item.module)},200,{n},{n},6,{_DM_ESCAPE}"
            f"^FH_^FD{field_hex(datamatrix_field(item.data))}^FS"
        )
    raise TypeError(f"cannot render {type(item).__name__} as ZPL")


def layout_zpl(layout: Layout, dpi: int = 300, comment: str = "") -> str:
    d = _Dots(dpi)
    commands = ["^XA", "^CI28", f"^PW{d(layout.width)}", f"^LL{d(layout.height)}", "^LH0,0"]
    if comment:
        # ^FX ends at the next ^ or ~; keep the comment to plain words.
        commands.append("^FX" + re.sub(r"[^A-Za-z0-9 .:-]", " ", comment) + "^FS")
    commands.extend(_item(item, d) for item in layout.items)
    commands.append("^PQ1")
    commands.append("^XZ")
    return "\n".join(commands) + "\n"


def render_zpl(label: Label, dpi: int = 300) -> str:
    """The label as one ZPL II format (`^XA` … `^XZ`) for a `dpi` printer."""
    comment = f"{label.kind.value} label {label.din.text}"
    return layout_zpl(layout_for(label), dpi, comment)
