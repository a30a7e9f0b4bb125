"""Final and issue labels: 100 × 100 mm, laid out in the ISBT 128 quadrants.

Upper left DIN, upper right product code and description, lower right expiry
(ST-001 §7.3 keeps DS 001, 003 and 005 in these positions on a 100 mm label);
the autologous band and the patient across the middle; volume, dose and storage
lower left; the Data Matrix (and REPRINT mark) under the expiry; statements,
facility, the issue hand-off and the placeholder note flow along the bottom.
"""

from __future__ import annotations

from typing import Final

from labels.barcode import DATAMATRIX_MODULE, DATAMATRIX_QUIET_MODULES
from labels.blocks import (
    band,
    captioned_lines,
    coded,
    din_group,
    expiry_group,
    identifiers_text,
    lines,
    mark,
    mark_left,
    moment,
    pair,
)
from labels.fonts import text_width
from labels.layout import (
    PT,
    SANS,
    SANS_BOLD,
    Box,
    FontName,
    Item,
    Layout,
    LayoutOverflow,
    Text,
    datamatrix,
    datamatrix_extent,
)
from labels.model import (
    ISSUED_MARK,
    PLACEHOLDER_NOTE,
    REPRINT_MARK,
    Element,
    IssueRecord,
    Label,
    print_serial_text,
    structures,
)
from labels.timefmt import local_text
from workflows.isbt128 import encode_compound, encode_product_code
from workflows.registry import LABEL, format_figure

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
        y = lines(
            items, x, y + 0.6, cls, font=SANS_BOLD, size=11, width=width, max_lines=2, min_size=8.5
        )
        if attributes:
            y = lines(
                items,
                x,
                y + 0.4,
                attributes,
                font=SANS_BOLD,
                size=8.5,
                width=width,
                max_lines=2,
                min_size=7,
            )
    if label.shows(Element.CONTAINER):
        y = pair(items, x, y + 0.6, "Container", label.container_label, size=8, width=width)
    return y


def patient_block(items: list[Item], label: Label, y: float) -> float:
    top = y
    y = pair(items, M + 0.5, y, "Patient", label.patient_name, size=10, width=60)
    y = lines(
        items,
        M + 0.5,
        y + 0.2,
        identifiers_text(label),
        font=SANS_BOLD,
        size=9,
        width=60,
        min_size=7.5,
    )
    if label.shows(Element.SUBJECT_ID):
        pair(items, 64.0, top, "Subject", label.subject_id, size=8.5, width=100 - M - 64)
    return y


def product_facts(items: list[Item], label: Label, y: float, width: float) -> float:
    x = M + 0.5
    if label.shows(Element.VOLUME) and label.volume_ml is not None:
        volume = format_figure(LABEL, "volume_ml", label.volume_ml)  # the registry's format
        y = pair(items, x, y, "Volume", volume, size=9, width=width)
    if label.shows(Element.DOSE) and label.dose_text:
        y = captioned_lines(
            items,
            x,
            y + 0.3,
            "Dose",
            label.dose_text,
            size=8.5,
            width=width,
            max_lines=2,
            min_size=7,
        )
    if label.shows(Element.STORAGE):
        y = lines(
            items,
            x,
            y + 0.8,
            label.storage_temperature,
            font=SANS,
            size=7.5,
            width=width,
            max_lines=3,
            min_size=6.5,
        )
    return y


def expiry_block(items: list[Item], label: Label, y: float) -> float:
    if not (label.shows(Element.EXPIRY) and label.expires_at):
        return y
    return expiry_group(items, label, MID + 1.0, y, bar_height=8.0, size=9.5, right=SIZE[0] - M)


class Flow:
    """Paragraphs down the bottom of the label, kept clear of the Data Matrix column.

    Text beside the obstacle (Data Matrix, REPRINT mark) wraps short of it; below
    the obstacle it uses the full label width.
    """

    def __init__(self, items: list[Item], y: float, obstacle_left: float, obstacle_bottom: float):
        self.items = items
        self.x = M + 0.5
        self.y = y
        self.obstacle_left = obstacle_left
        self.obstacle_bottom = obstacle_bottom

    def width(self) -> float:
        right = self.obstacle_left - 1.0 if self.y < self.obstacle_bottom else SIZE[0] - M
        return right - self.x

    def lines(
        self,
        text: str,
        *,
        font: FontName,
        size: float,
        gap: float,
        min_size: float,
        max_lines: int = 2,
    ) -> None:
        self.y = lines(
            self.items,
            self.x,
            self.y + gap,
            text,
            font=font,
            size=size,
            width=self.width(),
            max_lines=max_lines,
            min_size=min_size,
        )

    def pair(
        self,
        caption: str,
        value: str,
        *,
        size: float,
        gap: float = 0.0,
        x: float | None = None,
        bold_value: bool = True,
    ) -> None:
        left = self.x if x is None else x
        width = self.width() - (left - self.x)
        self.y = pair(
            self.items,
            left,
            self.y + gap,
            caption,
            value,
            size=size,
            width=width,
            bold_value=bold_value,
        )


def issue_block(flow: Flow, label: Label) -> None:
    """The custody hand-off: an ISSUED mark beside who, when, where and how; blanks to sign."""
    record = label.issue or IssueRecord()
    blank = "_______________"
    flow.y += 1.0
    left = mark_left(flow.items, flow.x, flow.y, ISSUED_MARK, size=9) + 1.5
    when = local_text(record.issued_at, label.time_zone) if record.issued_at else blank
    size = 7.5
    issued = f"{when} by {record.issued_by or blank}"
    caption_width = text_width("Issued", SANS, size * 0.8) * PT + 1.0
    if text_width(issued, SANS_BOLD, size) * PT > flow.width() - (left - flow.x) - caption_width:
        flow.pair("Issued", when, size=size, x=left)
        flow.pair("by", record.issued_by or blank, size=size, x=left)
    else:
        flow.pair("Issued", issued, size=size, x=left)
    flow.pair("To", record.destination or blank, size=size, x=left)
    flow.pair("Transport", record.transport or blank, size=size, x=left)
    flow.pair("Received by", f"{blank}  at ______", size=size, gap=0.3, x=left, bold_value=False)


def bottom_block(flow: Flow, label: Label) -> None:
    if label.shows(Element.STATEMENTS):
        for n, statement in enumerate(label.statements):
            flow.lines(statement, font=SANS_BOLD, size=7, gap=1.0 if n == 0 else 0.3, min_size=6)
    if label.shows(Element.PROCESSING_FACILITY) and label.processing_facility:
        name, *address = label.processing_facility
        flow.pair("Processed by", name, size=7, gap=0.8)
        if address:
            flow.lines(", ".join(address), font=SANS, size=6.5, gap=0.0, min_size=6)


def top_row(items: list[Item], label: Label) -> float:
    """DIN and collection (upper left), product code and description (upper right)."""
    left, _ = din_group(items, label, M, 3.0, bar_height=8.0, size=11.0, width=MID - M)
    if label.shows(Element.COLLECTION) and label.collection_at:
        left = moment(
            items,
            label,
            M + 2.5,
            left + 0.6,
            "Collected",
            label.collection_at,
            size=7.5,
            width=MID - M - 3,
            utc=False,
        )
    if label.shows(Element.COLLECTION_FACILITY):
        left = lines(
            items,
            M + 2.5,
            left + 0.3,
            label.collection_facility,
            font=SANS,
            size=7,
            width=MID - M - 3,
            max_lines=2,
            min_size=6,
        )
    pc_data = encode_product_code(label.product_code)
    right, pc = coded(items, MID + 1.0, 3.0, pc_data, label.product_code.text, bar_height=8.0)
    right = product_block(items, label, pc.bars_left, right, SIZE[0] - M - pc.bars_left)
    return max(left, right)


def lower_half(items: list[Item], label: Label, y: float) -> float:
    """Facts and expiry side by side, the Data Matrix under the expiry, then the text flow."""
    width = SIZE[0]
    facts = product_facts(items, label, y, MID - M - 1.5)
    expiry = expiry_block(items, label, y) + 0.8
    compound = encode_compound(structures(label))
    side = datamatrix_extent(compound)
    quiet = DATAMATRIX_QUIET_MODULES * DATAMATRIX_MODULE
    dm_x = width - M - side
    items.append(datamatrix(dm_x + quiet, expiry + quiet, compound))
    obstacle_left, obstacle_bottom = dm_x, expiry + side
    if label.print_serial is not None:
        obstacle_bottom += 6.5 * PT * 1.2
        items.append(Text(width - M - quiet, obstacle_bottom, print_serial_text(label), SANS,
                          6.5, align="right"))
        obstacle_bottom += 0.5
    if label.reprint:
        reprint_left = mark(items, width - M, obstacle_bottom + 0.5, REPRINT_MARK, size=9)
        obstacle_left = min(obstacle_left, reprint_left)
        obstacle_bottom += 0.5 + 9 * PT + 1.6
    flow = Flow(items, max(facts, expiry), obstacle_left, obstacle_bottom)
    bottom_block(flow, label)
    if label.shows(Element.ISSUE_BLOCK):
        issue_block(flow, label)
    if label.placeholder_codes:
        flow.lines(PLACEHOLDER_NOTE, font=SANS, size=6, gap=0.4, min_size=5.5)
    return max(flow.y, obstacle_bottom)


def layout_final(label: Label) -> Layout:
    width, height = SIZE
    items: list[Item] = []
    y = top_row(items, label) + 1.0
    if label.shows(Element.AUTOLOGOUS):
        y = band(items, M, y, width - 2 * M, label.autologous_statement, size=11) + 0.8
    for marking in label.markings:
        y = band(items, M, y, width - 2 * M, marking, size=11) + 0.8
    y = patient_block(items, label, y) + 0.6
    items.append(Box(M, y, width - 2 * M, 0, fill=True))  # rule above the product facts
    bottom = lower_half(items, label, y + 1.0)
    if bottom > height - M:
        raise LayoutOverflow(f"final label content runs to {bottom:.1f} mm of {height} mm")
    return Layout(width, height, tuple(items))
