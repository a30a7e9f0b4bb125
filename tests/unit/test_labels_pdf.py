"""Rendered PDF labels scan as intended and read right for a person at the bench."""

from __future__ import annotations

import io
from itertools import combinations

import pytest
from pypdf import PdfReader

from labels import DEFAULT_TEXTS, IssueRecord, Label, LabelKind, barcodes, render_pdf
from labels.barcode import CODE128_MIN_HEIGHT, CODE128_QUIET_MODULES
from labels.fonts import CAP_HEIGHT_EM
from labels.layout import PT, Box, Code128Item, DataMatrixItem, RotatedText, Text
from labels.layouts import layout_for
from tests.unit.label_support import EXPIRY, HARVEST_END, decoded, make_label, rasterise
from workflows.isbt128 import type3_flags

BBox = tuple[float, float, float, float]

LABELS = {
    "collection (marrow bag)": make_label(
        LabelKind.COLLECTION, "marrow_bag", flags="12", expires_at=None
    ),
    "collection, reprint": make_label(
        LabelKind.COLLECTION, "marrow_bag", flags="12", reprint=True, expires_at=None
    ),
    "in-process CD133+ target": make_label(LabelKind.IN_PROCESS, "cd133_target"),
    "in-process MNC, reprint": make_label(LabelKind.IN_PROCESS, "mnc", reprint=True),
    "QC sterility tube": make_label(
        LabelKind.QC_SAMPLE, flags="10", container_label="QC sterility (aerobic)"
    ),
    "QC test tube, reprint": make_label(
        LabelKind.QC_SAMPLE, flags="07", reprint=True, container_label="QC endotoxin"
    ),
    "final CD133+": make_label(LabelKind.FINAL, "final_cd133"),
    "final BM-MNC": make_label(
        LabelKind.FINAL,
        "final_bm_mnc",
        volume_ml=20.0,
        dose_text="130 × 10⁶ viable MNC (1.90 × 10⁶ cells/kg)",
    ),
    "final, reprint, no placeholder": make_label(reprint=True, placeholder_codes=False),
    "issue CD133+": make_label(
        LabelKind.ISSUE,
        reprint=True,
        issue=IssueRecord(
            EXPIRY, "Sara Technician", "Interventional radiology, room 3", "2–8 °C validated box"
        ),
    ),
    "issue with blanks to fill in": make_label(LabelKind.ISSUE, "final_bm_mnc"),
    "collection printed blank, print 1": make_label(
        LabelKind.COLLECTION, "marrow_bag", flags="12", expires_at=None, collection_at=None,
        volume_ml=None, print_serial=1
    ),
    "harvest label, reprint, biohazard": make_label(
        LabelKind.HARVEST, "marrow_bag", flags="12", expires_at=None, volume_ml=205.0,
        anticoagulant="heparin, 20 mL", print_serial=3, reprint=True,
        markings=(DEFAULT_TEXTS.biohazard,)
    ),
    "final syringe in quarantine, reprint": make_label(
        LabelKind.IN_PROCESS, reprint=True, print_serial=12,
        markings=(DEFAULT_TEXTS.quarantine, DEFAULT_TEXTS.biohazard)
    ),
    "negative fraction, not for infusion": make_label(
        LabelKind.IN_PROCESS, "cd133_target", print_serial=1,
        markings=(DEFAULT_TEXTS.not_for_infusion,)
    ),
    "QC tube, reprint, print 40": make_label(
        LabelKind.QC_SAMPLE, flags="21", reprint=True, print_serial=40, placeholder_codes=True
    ),
    "final, print 2, biohazard": make_label(
        print_serial=2, markings=(DEFAULT_TEXTS.biohazard,)
    ),
    "issue, reprint, print 999999": make_label(LabelKind.ISSUE, reprint=True, print_serial=999_999),
}


@pytest.mark.parametrize("name", list(LABELS))
def test_every_symbol_on_the_label_scans_as_exactly_the_intended_string(name):
    label = LABELS[name]
    dpi = 600 if label.kind is LabelKind.QC_SAMPLE else 300

    (page,) = rasterise(render_pdf(label), dpi)

    assert decoded(page) == {b.data: 1 for b in barcodes(label)}


def test_the_tube_label_also_scans_at_printer_resolution():
    label = LABELS["QC sterility tube"]

    (page,) = rasterise(render_pdf(label), 300)

    assert decoded(page) == {b.data: 1 for b in barcodes(label)}


@pytest.mark.parametrize(
    ("kind", "size"),
    [
        (LabelKind.FINAL, (100, 100)),
        (LabelKind.ISSUE, (100, 100)),
        (LabelKind.IN_PROCESS, (100, 60)),
        (LabelKind.COLLECTION, (100, 60)),
        (LabelKind.QC_SAMPLE, (50, 25)),
    ],
)
def test_each_kind_prints_at_its_real_size(kind, size):
    page = PdfReader(io.BytesIO(render_pdf(make_label(kind)))).pages[0]

    width_mm = float(page.mediabox.width) / 72 * 25.4
    height_mm = float(page.mediabox.height) / 72 * 25.4

    assert (round(width_mm, 1), round(height_mm, 1)) == size


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_final_label_reads_din_groups_check_character_autologous_and_expiry():
    label = make_label(LabelKind.FINAL)

    text = _text(render_pdf(label))

    assert "X9999 26 000123" in text
    assert label.din.check == "D" and "D" in text.split("000123", 1)[1][:4]
    assert "FOR AUTOLOGOUS USE ONLY" in text
    assert "2026-11-25 23:40 IRST" in text
    assert "(2026-11-25 20:10 UTC)" in text
    assert "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" in text
    assert "AHMADI, Fatemeh" in text and "MRN 123456" in text and "DOB 1961-03-04" in text
    assert "PLACEHOLDER PRODUCT CODE" in text


def test_a_reprint_says_so_and_an_original_does_not():
    assert "REPRINT" in _text(render_pdf(make_label(reprint=True)))
    assert "REPRINT" not in _text(render_pdf(make_label()))


def test_an_issue_label_prints_the_custody_hand_off():
    text = _text(render_pdf(LABELS["issue CD133+"]))

    assert "ISSUED" in text and "Sara Technician" in text and "Received by" in text


def _rotated(label: Label) -> list[RotatedText]:
    return [i for i in layout_for(label).items if isinstance(i, RotatedText)]


def test_type_1_flags_are_printed_rotated_after_the_din():
    (flags,) = _rotated(make_label(LabelKind.QC_SAMPLE, flags="07"))

    assert flags.text == "07"


def test_default_and_type_3_flags_are_never_printed():
    plain = make_label(flags="00")
    type3 = make_label(flags=type3_flags(plain.din.text))  # "60" + MOD 37-2 checksum

    for label in (plain, type3):
        after_din = _text(render_pdf(label)).split("X9999 26 000123", 1)[1]
        assert _rotated(label) == []
        assert after_din.split()[0] == label.din.check  # K follows the DIN directly


def test_type_1_flags_are_read_between_the_din_and_its_check_character():
    label = make_label(LabelKind.COLLECTION, "marrow_bag", flags="12")

    after_din = _text(render_pdf(label)).split("X9999 26 000123", 1)[1]

    assert after_din.split()[:2] == ["12", label.din.check]


def _k_and_box(label: Label) -> tuple[Text, list[Box]]:
    items = layout_for(label).items
    (k,) = [
        i
        for i in items
        if isinstance(i, Text) and i.text == label.din.check and i.font == "LabelMono-Bold"
    ]
    boxes = [i for i in items if isinstance(i, Box) and not i.fill]
    return k, boxes


@pytest.mark.parametrize("kind", list(LabelKind))
def test_the_check_character_is_drawn_inside_a_box(kind):
    k, boxes = _k_and_box(make_label(kind))
    left, _, right, _ = k.bbox()
    cap_top = k.baseline - CAP_HEIGHT_EM * k.size * PT

    assert any(
        b.x < left and b.x + b.w > right and b.y < cap_top and b.y + b.h > k.baseline for b in boxes
    )


def _overlaps(a: BBox, b: BBox) -> bool:
    return a[0] < b[2] - 0.05 and b[0] < a[2] - 0.05 and a[1] < b[3] - 0.05 and b[1] < a[3] - 0.05


@pytest.mark.parametrize("name", list(LABELS))
def test_nothing_overlaps_and_nothing_leaves_the_label(name):
    layout = layout_for(LABELS[name])
    # Outlines and bands are backgrounds: text sits inside them on purpose.
    solid = [i for i in layout.items if not isinstance(i, Box)]

    clashes = [(a, b) for a, b in combinations(solid, 2) if _overlaps(a.bbox(), b.bbox())]
    outside = [
        i
        for i in layout.items
        if i.bbox()[0] < 0
        or i.bbox()[1] < 0
        or i.bbox()[2] > layout.width
        or i.bbox()[3] > layout.height
    ]

    assert clashes == []
    assert outside == []


@pytest.mark.parametrize("name", list(LABELS))
def test_bar_codes_meet_the_isbt_print_dimensions(name):
    items = layout_for(LABELS[name]).items

    for symbol in [i for i in items if isinstance(i, Code128Item)]:
        assert symbol.module >= 0.25
        assert symbol.quiet >= CODE128_QUIET_MODULES * symbol.module
        assert symbol.height >= max(CODE128_MIN_HEIGHT, 0.15 * symbol.width)
    for matrix in [i for i in items if isinstance(i, DataMatrixItem)]:
        assert matrix.module >= 0.5
        assert matrix.quiet >= 2 * matrix.module


@pytest.mark.parametrize("name", [n for n in LABELS if "QC" not in n])
def test_text_under_a_linear_bar_code_is_at_most_2_mm_high(name):
    items = layout_for(LABELS[name]).items
    symbols = [i for i in items if isinstance(i, Code128Item)]
    under = [
        t
        for t in items
        if isinstance(t, Text)
        and t.font == "LabelMono"
        and any(abs(t.left - s.bars_left) < 0.01 for s in symbols)
    ]

    assert under
    assert all(CAP_HEIGHT_EM * t.size * PT <= 2.0 for t in under)


@pytest.mark.parametrize("kind", [LabelKind.FINAL, LabelKind.ISSUE])
def test_key_text_on_a_100_mm_label_is_at_least_8_points(kind):
    label = make_label(kind)
    items = [i for i in layout_for(label).items if isinstance(i, Text)]
    key = {
        "X9999 26 000123",
        "HPC, MARROW",
        "AHMADI, Fatemeh",
        "FOR AUTOLOGOUS USE ONLY",
        "2026-11-25 23:40 IRST",
        "MRN 123456 · DOB 1961-03-04",
        "10 ml",
    }

    sizes = {t.text: t.size for t in items if t.text in key}

    assert set(sizes) == key
    assert min(sizes.values()) >= 8


def test_the_same_label_renders_to_the_same_bytes():
    assert render_pdf(make_label()) == render_pdf(make_label())


def test_a_different_collection_time_changes_the_label():
    later = HARVEST_END.replace(minute=11)

    assert render_pdf(make_label(collection_at=later)) != render_pdf(make_label())
