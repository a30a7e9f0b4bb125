"""Collection and in-process labels (100 × 60 mm) and the QC tube label (50 × 25 mm).

100 × 60 mm keeps the two 100 mm-label upper quadrants (DIN, product code) at
full bar-code size and leaves one band for the patient, the expiry or
collection time and the Data Matrix: enough for a bag or a 50 mL tube, small
enough for a CliniMACS transfer bag. The QC tube label is an ISBT partial label
(§7.3.1): DIN bar code and text with boxed K, product code and division as
text, the subject ID, and a small Data Matrix carrying DIN and product code.
"""

from __future__ import annotations

from typing import Final

from labels.barcode import DATAMATRIX_MODULE, DATAMATRIX_QUIET_MODULES
from labels.blocks import (
    band,
    coded,
    din_group,
    expiry_group,
    identifiers_text,
    lines,
    mark,
    moment,
    pair,
)
from labels.layout import (
    PT,
    SANS,
    SANS_BOLD,
    Item,
    Layout,
    LayoutOverflow,
    Text,
    datamatrix,
    datamatrix_extent,
)
from labels.layout_final import description_parts
from labels.model import (
    PLACEHOLDER_NOTE,
    REPRINT_MARK,
    Element,
    Label,
    print_serial_text,
    structures,
)
from workflows.isbt128 import encode_compound, encode_product_code
from workflows.registry import LABEL, format_figure

BAG_SIZE: Final = (100.0, 60.0)
TUBE_SIZE: Final = (50.0, 25.0)
M: Final = 2.0
MID: Final = 50.0
DM_QUIET: Final = DATAMATRIX_QUIET_MODULES * DATAMATRIX_MODULE


def _top_right(items: list[Item], label: Label, y: float) -> float:
    pc_data = encode_product_code(label.product_code)
    bottom, pc = coded(items, MID + 1.0, y, pc_data, label.product_code.text, bar_height=7.0)
    width = BAG_SIZE[0] - M - pc.bars_left
    if label.shows(Element.PRODUCT_DESCRIPTION):
        cls, attributes = description_parts(label.product_description)
        bottom = lines(
            items, pc.bars_left, bottom + 0.5, cls, font=SANS_BOLD, size=10, width=width, min_size=8
        )
        if attributes:
            bottom = lines(
                items,
                pc.bars_left,
                bottom + 0.3,
                attributes,
                font=SANS_BOLD,
                size=8,
                width=width,
                min_size=7,
            )
    return bottom


def _bag_left(items: list[Item], label: Label, y: float) -> float:
    """Patient, identifiers and the placeholder note under the autologous band."""
    x, column = M + 0.5, MID - M - 1.0
    y = pair(items, x, y, "Patient", label.patient_name, size=9.5, width=column)
    y = lines(
        items,
        x,
        y + 0.2,
        identifiers_text(label),
        font=SANS_BOLD,
        size=8.5,
        width=column,
        min_size=7,
    )
    if label.placeholder_codes:
        y = lines(
            items,
            x,
            y + 0.6,
            PLACEHOLDER_NOTE,
            font=SANS,
            size=6,
            width=column,
            max_lines=2,
            min_size=5.5,
        )
    return y


def _bag_right(items: list[Item], label: Label, y: float) -> float:
    """Expiry (in-process) or collection time (collection label) under the band."""
    right = BAG_SIZE[0] - M
    if label.shows(Element.EXPIRY) and label.expires_at:
        y = expiry_group(items, label, MID + 1.0, y, bar_height=7.0, size=9, right=right)
    if Element.ANTICOAGULANT in label.elements:  # the collection label: blanks before harvest
        return _collection_facts(items, label, y, right)
    if label.shows(Element.COLLECTION) and label.collection_at:
        x = MID + 1.0 + 2.54  # in line with the bars of the codes above
        y = moment(
            items, label, x, y + 0.5, "Collected", label.collection_at, size=9, width=right - x
        )
    return y


BLANK: Final = "__________"


def _collection_facts(items: list[Item], label: Label, y: float, right: float) -> float:
    """Collection time, volume and anticoagulant; blanks to fill in on a label printed before
    the harvest (it is printed again, as a new generation, once the harvest is recorded)."""
    x = MID + 1.0 + 2.54
    width = right - x
    if label.collection_at:
        y = moment(items, label, x, y + 0.5, "Collected", label.collection_at, size=8.5,
                   width=width)
    else:
        y = pair(items, x, y + 0.5, "Collected", BLANK, size=8.5, width=width)
    # The registry's one format ("205 ml"), or a blank to fill in by hand.
    volume = (format_figure(LABEL, "volume_ml", label.volume_ml) if label.volume_ml is not None
              else f"{BLANK} ml")
    y = pair(items, x, y + 0.3, "Volume", volume, size=8.5, width=width)
    return pair(items, x, y + 0.3, "Anticoagulant", label.anticoagulant or BLANK, size=8.5,
                width=width)


def layout_bag(label: Label) -> Layout:
    """Collection (partial) and in-process labels."""
    width, height = BAG_SIZE
    items: list[Item] = []
    left, din = din_group(items, label, M, 2.5, bar_height=7.0, size=11.0, width=MID - M)
    if label.shows(Element.CONTAINER):
        left = pair(
            items,
            din.bars_left,
            left + 0.6,
            "Container",
            label.container_label,
            size=9,
            width=MID - din.bars_left,
        )
    y = max(left, _top_right(items, label, 2.5)) + 1.0
    if label.shows(Element.AUTOLOGOUS):
        y = band(items, M, y, width - 2 * M, label.autologous_statement, size=10.5) + 1.0
    compound = encode_compound(structures(label))
    side = datamatrix_extent(compound)
    dm_x, dm_y = width - M - side, height - M - side
    items.append(datamatrix(dm_x + DM_QUIET, dm_y + DM_QUIET, compound))
    if _bag_right(items, label, y) > dm_y:
        raise LayoutOverflow("expiry or collection time runs into the Data Matrix")
    bottom = _bag_left(items, label, y)
    markings_top = _bag_bottom(items, label, dm_x, dm_y)
    if bottom > markings_top:
        raise LayoutOverflow(f"label content runs to {bottom:.1f} mm of {markings_top:.1f} mm")
    return Layout(width, height, tuple(items))


def _bag_bottom(items: list[Item], label: Label, dm_x: float, dm_y: float) -> float:
    """Print serial beside the Data Matrix; markings bands (and REPRINT) along the bottom.

    Returns the top of what it drew on the left of the Data Matrix."""
    height = BAG_SIZE[1]
    if label.print_serial is not None:
        items.append(Text(dm_x - 1.0, dm_y + DM_QUIET + 6 * PT, print_serial_text(label),
                          SANS, 6, align="right"))
    right, top = dm_x - 1.0, height - M
    if label.reprint:
        right = mark(items, right, height - M - 9 * PT - 1.6, REPRINT_MARK, size=9) - 1.0
    for text in reversed(label.markings):
        size = 9.5
        top -= size * PT * 1.35
        band(items, M, top, right - M, text, size=size)
        top -= 0.4
    if label.reprint:
        top = min(top, height - M - 9 * PT - 1.6)
    if label.print_serial is not None:
        top = min(top, dm_y + DM_QUIET)
    return top


def layout_tube(label: Label) -> Layout:
    """QC sample tube: a partial label readable at 600 dpi and by a hand scanner."""
    width, height = TUBE_SIZE
    items: list[Item] = []
    compound = encode_compound(structures(label))
    side = datamatrix_extent(compound)
    below, din = din_group(
        items, label, 0.6, 1.0, bar_height=0.0, size=8.5, width=width - side - 1.1
    )
    dm_y = din.y + din.height
    dm_x = width - 0.3 - side  # the quiet zone stays on the label
    items.append(datamatrix(dm_x + DM_QUIET, dm_y + DM_QUIET, compound))
    x = din.bars_left
    room = dm_x - x
    pc = label.product_code
    y = pair(items, x, below + 0.2, "Prod", f"{pc.text}  (div {pc.division})", size=7, width=room)
    if label.shows(Element.CONTAINER):
        y = lines(
            items, x, y + 0.1, label.container_label, font=SANS_BOLD, size=7, width=room, min_size=6
        )
    y = pair(items, x, y + 0.1, "Subject", label.subject_id, size=7, width=room)
    notes = []
    if label.reprint:
        notes.append(REPRINT_MARK)
    if label.placeholder_codes:
        notes.append("PLACEHOLDER CODE")
    if notes:
        y = lines(items, x, y + 0.1, " · ".join(notes), font=SANS_BOLD, size=5.5, width=room,
                  min_size=5.0)
    if label.print_serial is not None:  # under the Data Matrix, below the notes
        serial = Text(width - 0.3, max(dm_y + side, y) + 1.6, print_serial_text(label),
                      SANS_BOLD, 5.5, align="right")
        items.append(serial)
        y = max(y, serial.bbox()[3])
    if y > height - 0.5 or dm_y + side > height:
        raise LayoutOverflow(f"tube label content runs to {y:.1f} mm of {height} mm")
    return Layout(width, height, tuple(items))


__all__ = ["layout_bag", "layout_tube"]
