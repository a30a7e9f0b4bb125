"""Which layout a label gets: its kind decides its size and arrangement."""

from __future__ import annotations

from labels.layout import Layout
from labels.layout_final import layout_final
from labels.layout_partial import layout_bag, layout_tube
from labels.model import Label, LabelKind


def layout_for(label: Label) -> Layout:
    """Lay out a label of any kind at its real size (final/issue 100 × 100 mm, bags
    100 × 60 mm, QC tubes 50 × 25 mm); raises `LayoutOverflow` rather than clip."""
    if label.kind in (LabelKind.FINAL, LabelKind.ISSUE):
        return layout_final(label)
    if label.kind is LabelKind.QC_SAMPLE:
        return layout_tube(label)
    return layout_bag(label)
