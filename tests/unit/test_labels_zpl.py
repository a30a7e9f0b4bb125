"""ZPL labels: well-formed formats whose bar-code fields encode exactly the ISBT strings."""

from __future__ import annotations

import random
import re

import pytest

from labels import LabelKind, barcodes, render_zpl
from labels.barcode import code128_size
from labels.layout import Text
from labels.layouts import layout_for
from labels.zpl import NOT_IN_FONT_0, code128_field, datamatrix_field, field_hex
from tests.unit.label_support import (
    code128_scan,
    code128_symbols,
    datamatrix_scan,
    make_label,
    zpl_fields,
)

KINDS = [
    make_label(LabelKind.COLLECTION, "marrow_bag", flags="12", expires_at=None),
    make_label(LabelKind.IN_PROCESS, "cd133_target"),
    make_label(LabelKind.QC_SAMPLE, flags="07"),
    make_label(LabelKind.FINAL),
    make_label(LabelKind.FINAL, "final_bm_mnc", reprint=True),
    make_label(LabelKind.ISSUE),
]


def _scanned(zpl: str) -> list[tuple[str, str]]:
    found = []
    for field in zpl_fields(zpl):
        if field.kind == "BC":
            assert field.params["BC"] == "N,{},N,N,N,N".format(field.params["BC"].split(",")[1])
            found.append(("code128", code128_scan(field.data)))
        elif field.kind == "BX":
            escape = field.params["BX"].split(",")[6]
            assert field.params["BX"].split(",")[2] == "200"  # ECC 200
            found.append(("datamatrix", datamatrix_scan(field.data, escape)))
    return found


@pytest.mark.parametrize("dpi", [203, 300])
@pytest.mark.parametrize("label", KINDS, ids=lambda label: label.kind.value)
def test_every_bar_code_field_decodes_to_the_intended_isbt_string(label, dpi):
    zpl = render_zpl(label, dpi=dpi)

    assert sorted(_scanned(zpl)) == sorted((b.symbology, b.data) for b in barcodes(label))


@pytest.mark.parametrize("label", KINDS, ids=lambda label: label.kind.value)
def test_a_format_is_one_utf8_label_of_the_labels_size(label):
    zpl = render_zpl(label, dpi=300)
    dots_per_mm = 300 / 25.4

    assert zpl.startswith("^XA\n^CI28\n") and zpl.rstrip().endswith("^XZ")
    assert zpl.count("^XA") == zpl.count("^XZ") == 1
    assert zpl.isascii()  # everything else went through ^FH hex escapes
    match = re.search(r"\^PW(\d+)", zpl)
    assert match
    width = int(match.group(1))
    assert width == round((50 if label.kind is LabelKind.QC_SAMPLE else 100) * dots_per_mm)


def test_every_field_data_is_hex_escaped():
    zpl = render_zpl(make_label(), dpi=300)

    fields = [f for f in zpl_fields(zpl) if f.commands[-1] == "FD"]

    assert fields and all("FH" in f.commands for f in fields)


def test_text_survives_escaping_including_carets_tildes_underscores_and_unicode():
    label = make_label(patient_name="O'NEIL_^~ Zoë", dose_text="4 × 10 – ≥ 95 %")

    texts = [f.data for f in zpl_fields(render_zpl(label)) if f.kind == "A0"]

    assert "O'NEIL_^~ Zoë" in texts
    assert any("4 × 10 – ≥ 95 %" in t for t in texts)


def _bitmap(field) -> list[str]:
    """The rows of a ^GFA graphic as strings of '#' (ink) and '.'."""
    _, total, _, per_row, data = field.params["GF"].split(",")
    bits = bin(int(data, 16))[2:].zfill(int(total) * 8)
    width = int(per_row) * 8
    return [bits[i:i + width].replace("1", "#").replace("0", ".")
            for i in range(0, len(bits), width)]


@pytest.mark.parametrize("dpi", [203, 300])
def test_a_dose_in_millions_is_drawn_with_its_superscript_not_left_to_printer_font_0(dpi):
    # given: the final label's dose "4.20 × 10⁶ viable CD133+ cells (0.0600 × 10⁶ cells/kg)";
    # Zebra font 0 has no superscript 6, so the printer would show "10" and a blank
    label = make_label(LabelKind.FINAL)
    lines = [i for i in layout_for(label).items if isinstance(i, Text) and "10⁶" in i.text]

    # when
    fields = zpl_fields(render_zpl(label, dpi=dpi))

    # then: no font-0 text holds a superscript; each dose line is a graphic as wide as its text
    assert not any(NOT_IN_FONT_0.search(f.data) for f in fields if f.kind == "A0")
    graphics = [f for f in fields if f.kind == "GF"]
    assert lines and len(graphics) == len(lines)
    for line, graphic in zip(lines, graphics, strict=True):
        rows = _bitmap(graphic)
        inked = [i for row in rows for i, dot in enumerate(row) if dot == "#"]
        width_mm = (max(inked) - min(inked) + 1) / (dpi / 25.4)
        assert width_mm == pytest.approx(line.width, rel=0.06)
        x, _ = graphic.params["FO"].split(",")
        assert int(x) == pytest.approx(line.left * dpi / 25.4, abs=3)
    # the superscript reaches above the cap height of the digits beside it
    rows = _bitmap(graphics[0])
    assert any("#" in row for row in rows[:2])


def test_a_greater_than_sign_in_code_128_data_is_sent_as_an_invocation_code():
    assert code128_field("&>0263292340") == ">:&>0>50263292340"
    assert code128_scan(">:&>0>50263292340") == "&>0263292340"


def test_digit_runs_switch_to_subset_c():
    assert code128_field("=X99992600012300") == ">:=X>599992600012300"
    assert code128_field("=<D0006100") == ">:=<D0>5006100"


def test_code_128_invocation_round_trips_for_any_printable_ascii():
    rng = random.Random(128)
    alphabet = "0123456789=<>&*+^~_ ABCZ%#"
    for _ in range(2000):
        data = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))
        assert code128_scan(code128_field(data)) == data, data


@pytest.mark.parametrize("label", KINDS, ids=lambda label: label.kind.value)
def test_zpl_code_128_is_never_longer_than_the_space_the_layout_reserved(label):
    for barcode in barcodes(label):
        if barcode.symbology != "code128":
            continue
        modules = 11 * code128_symbols(code128_field(barcode.data)) + 13
        reserved = code128_size(barcode.data)

        assert modules * 0.254 <= reserved.bars_width + 1e-6


def test_data_matrix_escape_characters_in_data_are_doubled():
    assert datamatrix_field("=+02000_x") == "=+02000__x"
    assert datamatrix_scan(datamatrix_field("a_b__c"), "_") == "a_b__c"


def test_field_hex_leaves_plain_text_and_escapes_the_rest():
    assert field_hex("X9999 26 000123") == "X9999 26 000123"
    assert field_hex("^~_°") == "_5E_7E_5F_C2_B0"


def test_an_unsupported_resolution_is_refused():
    with pytest.raises(ValueError, match="dpi"):
        render_zpl(make_label(), dpi=150)
