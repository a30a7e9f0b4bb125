"""A sheet of 100 labels of mixed kinds renders on A4 and every page scans completely."""

from __future__ import annotations

from collections import Counter

from labels import Label, LabelKind, barcodes, render_sheet
from labels.layouts import layout_for
from labels.pdf import sheet_placements
from tests.unit.label_support import decoded, make_label, rasterise

# A day's print run: bags, tubes and final products, in the order they were asked for.
RUN = [
    LabelKind.COLLECTION,
    LabelKind.IN_PROCESS,
    LabelKind.QC_SAMPLE,
    LabelKind.QC_SAMPLE,
    LabelKind.IN_PROCESS,
    LabelKind.QC_SAMPLE,
    LabelKind.FINAL,
    LabelKind.ISSUE,
]


def _labels(count: int) -> list[Label]:
    return [
        make_label(kind, sequence=n + 1, flags="10" if kind is LabelKind.QC_SAMPLE else "00")
        for n, kind in ((n, RUN[n % len(RUN)]) for n in range(count))
    ]


def test_every_page_of_a_100_label_sheet_scans_as_exactly_its_labels_symbols():
    labels = _labels(100)
    placements = sheet_placements([layout_for(label) for label in labels])

    pages = rasterise(render_sheet(labels), 300)

    assert len(pages) == placements[-1].page + 1
    for number, page in enumerate(pages):
        expected = Counter(
            b.data
            for label, where in zip(labels, placements, strict=True)
            if where.page == number
            for b in barcodes(label)
        )
        assert decoded(page) == expected, f"page {number + 1}"


def test_labels_keep_their_order_and_never_overlap_on_a_sheet():
    labels = _labels(40)
    layouts = [layout_for(label) for label in labels]
    placements = sheet_placements(layouts)
    # Reading order: page, then row (by its top edge, downwards), then left to right.
    keys = [
        (p.page, -round(p.y + layout.height, 6), p.x)
        for layout, p in zip(layouts, placements, strict=True)
    ]

    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for page in {p.page for p in placements}:
        boxes = [
            (p.x, p.y, p.x + layout.width, p.y + layout.height)
            for layout, p in zip(layouts, placements, strict=True)
            if p.page == page
        ]
        for n, a in enumerate(boxes):
            assert a[0] >= 0 and a[1] >= 0 and a[2] <= 210 and a[3] <= 297
            for b in boxes[n + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_an_empty_sheet_is_a_valid_one_page_pdf():
    pages = rasterise(render_sheet([]), 72)

    assert len(pages) == 1
