"""Final and issue labels: 100 × 100 mm, laid out in the ISBT 128 quadrants.

Upper left DIN, upper right product code and description, lower right expiry
(ST-001 §7.3 fixes these positions on a 100 mm label); the autologous band and
the patient across the middle; volume, dose and storage lower left; the
statements, facility and the Data Matrix along the bottom.
"""

from __future__ import annotations

from typing import Final

from labels.barcode import DATAMATRIX_MODULE, DATAMATRIX_QUIET_MODULES
from labels.blocks import (
    band,
    captioned_lines,
    coded,
    din_group,
    identifiers_text,
    lines,
    mark,
    mark_left,
    moment,
    pair,
)
from labels.layout import (
    PT,
    SANS,
    SANS_BOLD,
    Box,
    Item,
    Layout,
    LayoutOverflow,
    code128,
    datamatrix,
    datamatrix_extent,
)
from labels.model import (
    ISSUED_MARK,
    IssueRecord,
    PLACEHOLDER_NOTE,
    REPRINT_MARK,
    Element,
    Label,
    structures,
)
from labels.timefmt import local_text
from workflows.isbt128 import encode_compound, encode_expiry

SIZE: Final = (100.0, 100.0)
M: Final = 2.0  # margin, mm
MID: Final = 50.0  # quadrant boundary


def description_parts(text: str) -> tuple[str, str]:
    """ "HPC, MARROW | CD133 enriched" -> class name, attributes (printed smaller)."""
    head, _, rest = text.partition("|")
    return head.strip(), " ".join(part.strip() for part in rest.split("|") if part.strip())


def product_block(items: list[Item], label: Label, x: float, y: float, width: float) -> float:
    cls, attributes = description_parts(label.product_description)
    if label.shows(Element.PRODUCT_DESCRIPTION):
        y = lines(items, x, y + 0.6, cls, font=SANS_BOLD, size=11, width=width,
                  max_lines=2, min_size=8.5)
        if attributes:
            y = lines(items, x, y + 0.4, attributes, font=SANS_BOLD, size=8.5, width=width,
                      max_lines=2, min_size=7)
    if label.shows(Element.CONTAINER):
        y = pair(items, x, y + 0.6, "Container", label.container_label, size=8, width=width)
    return y


def patient_block(items: list[Item], label: Label, y: float) -> float:
    top = y
    y = pair(items, M + 0.5, y, "Patient", label.patient_name, size=10, width=60)
    y = lines(items, M + 0.5, y + 0.2, identifiers_text(label), font=SANS_BOLD, size=9,
              width=60, min_size=7.5)
    if label.shows(Element.SUBJECT_ID):
        pair(items, 64.0, top, "Subject", label.subject_id, size=8.5, width=100 - M - 64)
    return y


def product_facts(items: list[Item], label: Label, y: float, width: float) -> float:
    x = M + 0.5
    if label.shows(Element.VOLUME) and label.volume_ml is not None:
        y = pair(items, x, y, "Volume", f"{label.volume_ml:.1f} mL", size=9, width=width)
    if label.shows(Element.DOSE) and label.dose_text:
        y = captioned_lines(items, x, y + 0.3, "Dose", label.dose_text, size=8.5,
                            width=width, max_lines=2, min_size=7)
    if label.shows(Element.STORAGE):
        y = lines(items, x, y + 0.8, label.storage_temperature, font=SANS, size=7.5,
                  width=width, max_lines=3, min_size=6.5)
    return y


def expiry_block(items: list[Item], label: Label, y: float) -> float:
    if not (label.shows(Element.EXPIRY) and label.expires_at):
        return y
    local = label.expires_at.astimezone(label.zone)
    symbol = code128(MID + 1.0, y, encode_expiry(local), 8.0)
    items.append(symbol)
    return moment(items, label, symbol.bars_left, symbol.y + symbol.height + 0.8, "Expires",
                  label.expires_at, size=9.5, width=100 - M - symbol.bars_left)


def issue_block(items: list[Item], label: Label, x: float, y: float, width: float) -> float:
    """The custody hand-off: an ISSUED mark beside who, when, where and how; blanks to sign."""
    record = label.issue or IssueRecord()
    blank = "_______________"
    left = mark_left(items, x, y, ISSUED_MARK, size=9) + 1.5
    room = x + width - left
    when = local_text(record.issued_at, label.time_zone) if record.issued_at else blank
    size = 7.5
    y = pair(items, left, y, "Issued", when, size=size, width=room)
    y = pair(items, left, y, "by", record.issued_by or blank, size=size, width=room)
    y = pair(items, left, y, "To", record.destination or blank, size=size, width=room)
    y = pair(items, left, y, "Transport", record.transport or blank, size=size, width=room)
    return pair(items, left, y + 0.3, "Received by", f"{blank}  at ______", size=size,
                width=room, bold_value=False)


def bottom_block(items: list[Item], label: Label, y: float, right: float) -> float:
    x = M + 0.5
    width = right - x
    if label.shows(Element.STATEMENTS):
        for statement in label.statements:
            y = lines(items, x, y + 0.3, statement, font=SANS_BOLD, size=7, width=width,
                      max_lines=2, min_size=6)
    if label.shows(Element.PROCESSING_FACILITY) and label.processing_facility:
        name, *address = label.processing_facility
        y = pair(items, x, y + 0.8, "Processed by", name, size=7, width=width)
        if address:
            y = lines(items, x, y, ", ".join(address), font=SANS, size=6.5, width=width,
                      max_lines=2, min_size=6)
    return y


def layout_final(label: Label) -> Layout:
    width, height = SIZE
    items: list[Item] = []
    left_bottom, _ = din_group(items, label, M, 3.0, bar_height=8.0, size=11.0, width=MID - M)
    if label.shows(Element.COLLECTION) and label.collection_at:
        left_bottom = moment(items, label, M + 2.5, left_bottom + 0.6, "Collected",
                             label.collection_at, size=7.5, width=MID - M - 3, utc=False)
    if label.shows(Element.COLLECTION_FACILITY):
        left_bottom = lines(items, M + 2.5, left_bottom + 0.3, label.collection_facility,
                            font=SANS, size=7, width=MID - M - 3, max_lines=2, min_size=6)
    pc_data = structures(label)[1]
    right_bottom, pc = coded(items, MID + 1.0, 3.0, pc_data, label.product_code.text,
                             bar_height=8.0)
    right_bottom = product_block(items, label, pc.bars_left, right_bottom,
                                 width - M - pc.bars_left)
    y = max(left_bottom, right_bottom) + 1.0
    if label.shows(Element.AUTOLOGOUS):
        y = band(items, M, y, width - 2 * M, label.autologous_statement, size=11) + 0.8
    y = patient_block(items, label, y) + 0.6
    items.append(Box(M, y, width - 2 * M, 0, fill=True))
    y += 1.0
    facts = product_facts(items, label, y, MID - M - 1.5)
    expiry = expiry_block(items, label, y)
    if label.reprint:
        # Beside the product facts, clear of the bar codes and the bottom text.
        mark(items, width - M, expiry + 0.8, REPRINT_MARK, size=9)
        expiry += 0.8 + 9 * PT + 1.6
    y = max(facts, expiry) + 0.8
    compound = encode_compound(structures(label))
    side = datamatrix_extent(compound)
    dm_x = width - M - side
    quiet = DATAMATRIX_QUIET_MODULES * DATAMATRIX_MODULE
    items.append(datamatrix(dm_x + quiet, height - M - side + quiet, compound))
    bottom = bottom_block(items, label, y, dm_x - 1.0)
    if label.shows(Element.ISSUE_BLOCK):
        bottom = issue_block(items, label, M + 0.5, bottom + 1.0, dm_x - M - 1.5)
    if label.placeholder_codes:
        bottom = lines(items, M + 0.5, bottom + 0.4, PLACEHOLDER_NOTE, font=SANS, size=6,
                       width=dm_x - M - 2, max_lines=2, min_size=5.5)
    if bottom > height - M:
        raise LayoutOverflow(f"final label content runs to {bottom:.1f} mm of {height} mm")
    return Layout(width, height, tuple(items))
