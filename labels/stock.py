"""Label stocks: the die-cut label sizes the layouts print on, and which label needs which.

A label printer holds one stock at a time; a label prints only on its own stock (a final
label sent to a printer loaded with tube labels would come out clipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from labels.layout_final import SIZE
from labels.layout_partial import BAG_SIZE, TUBE_SIZE
from labels.model import LabelKind


def _code(size: tuple[float, float]) -> str:
    return f"{size[0]:g}x{size[1]:g}mm"


class LabelStock(StrEnum):
    """A stock by its size in mm (width x height), as the layouts draw it."""

    FINAL = _code(SIZE)  # 100 x 100 mm: the final and issue labels
    BAG = _code(BAG_SIZE)  # 100 x 60 mm: collection, harvest and in-process labels
    TUBE = _code(TUBE_SIZE)  # 50 x 25 mm: QC sample tubes


STOCK_NAMES: Mapping[LabelStock, str] = MappingProxyType({
    LabelStock.FINAL: "100 × 100 mm (final and issue labels)",
    LabelStock.BAG: "100 × 60 mm (collection, harvest and in-process labels)",
    LabelStock.TUBE: "50 × 25 mm (QC sample tube labels)",
})

STOCK_OF: Mapping[LabelKind, LabelStock] = MappingProxyType({
    LabelKind.COLLECTION: LabelStock.BAG,
    LabelKind.HARVEST: LabelStock.BAG,
    LabelKind.IN_PROCESS: LabelStock.BAG,
    LabelKind.QC_SAMPLE: LabelStock.TUBE,
    LabelKind.FINAL: LabelStock.FINAL,
    LabelKind.ISSUE: LabelStock.FINAL,
})


def stock_for(kind: LabelKind) -> LabelStock:
    """The stock the label of `kind` is laid out for."""
    return STOCK_OF[kind]


def parse_stock(text: str) -> LabelStock:
    """The stock named by its code ("100x60mm"); ValueError naming the known ones."""
    try:
        return LabelStock(text.strip())
    except ValueError:
        known = ", ".join(f"{s.value} ({STOCK_NAMES[s]})" for s in LabelStock)
        raise ValueError(f"label stock {text!r} is not one the labels are laid out for: "
                         f"{known}") from None
