"""Each print is told apart by scan: its serial travels in the 2-D code (local structure &s),
and the in-process markings (quarantine, not for infusion) print on the label itself."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from labels import DEFAULT_TEXTS, LabelKind, barcodes, render_pdf, render_zpl
from tests.unit.label_support import datamatrix_scan, decoded, make_label, rasterise, zpl_fields
from workflows.isbt128 import ScanError, encode_print_serial, parse_scan


def matrix_of(pdf: bytes) -> str:
    (page,) = rasterise(pdf, 300)
    (found,) = [text for text in decoded(page) if text.startswith("=+")]
    return found


def pdf_text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_final_and_the_issue_labels_square_codes_differ_when_decoded():
    final = make_label(LabelKind.FINAL, print_serial=2)
    issue = make_label(LabelKind.ISSUE, print_serial=3)

    final_read, issue_read = matrix_of(render_pdf(final)), matrix_of(render_pdf(issue))

    assert final_read != issue_read
    assert parse_scan(final_read).print_serial == 2
    assert parse_scan(issue_read).print_serial == 3


@pytest.mark.parametrize("kind", [LabelKind.COLLECTION, LabelKind.IN_PROCESS, LabelKind.FINAL])
def test_a_reprint_carries_its_own_serial_in_the_square_code_and_in_print(kind):
    first = render_pdf(make_label(kind, "marrow_bag" if kind == "collection" else "final_cd133",
                                  print_serial=1, expires_at=None
                                  if kind == "collection" else make_label().expires_at))
    again = render_pdf(make_label(kind, "marrow_bag" if kind == "collection" else "final_cd133",
                                  print_serial=7, reprint=True, expires_at=None
                                  if kind == "collection" else make_label().expires_at))

    assert parse_scan(matrix_of(first)).print_serial == 1
    assert parse_scan(matrix_of(again)).print_serial == 7
    assert "Print 1" in pdf_text(first) and "Print 7" in pdf_text(again)


def test_the_qc_tube_label_carries_the_serial_too():
    label = make_label(LabelKind.QC_SAMPLE, flags="07", print_serial=4, placeholder_codes=False)
    (page,) = rasterise(render_pdf(label), 600)

    (matrix,) = [text for text in decoded(page) if text.startswith("=+")]

    assert parse_scan(matrix).print_serial == 4


def test_the_zpl_square_code_carries_the_same_serial_as_the_pdf():
    label = make_label(LabelKind.FINAL, print_serial=12)
    (field,) = [f for f in zpl_fields(render_zpl(label)) if f.kind == "BX"]

    assert parse_scan(datamatrix_scan(field.data, "_")).print_serial == 12
    assert next(b.data for b in barcodes(label) if b.symbology == "datamatrix").endswith(
        encode_print_serial(12))


def test_the_linear_symbols_never_carry_the_serial():
    label = make_label(LabelKind.FINAL, print_serial=5)
    linear = [b.data for b in barcodes(label) if b.symbology == "code128"]

    assert linear and not any("&s" in data for data in linear)


@pytest.mark.parametrize("marking", [DEFAULT_TEXTS.quarantine, DEFAULT_TEXTS.not_for_infusion])
def test_an_in_process_label_prints_its_marking_in_pdf_and_zpl(marking):
    label = make_label(LabelKind.IN_PROCESS, "cd133_target", markings=(marking,),
                       print_serial=1)

    assert marking in pdf_text(render_pdf(label))
    assert marking in [f.data for f in zpl_fields(render_zpl(label))]
    (page,) = rasterise(render_pdf(label), 300)
    assert parse_scan(next(t for t in decoded(page) if t.startswith("=+"))).print_serial == 1


def test_a_reprinted_in_process_label_keeps_its_marking_beside_the_reprint_mark():
    label = make_label(LabelKind.IN_PROCESS, "mnc", reprint=True, print_serial=3,
                       markings=(DEFAULT_TEXTS.quarantine,))
    text = pdf_text(render_pdf(label))

    assert "QUARANTINE" in text and "REPRINT" in text and "Print 3" in text


def test_the_scan_says_whether_it_came_from_the_square_code():
    compound = "=+03000=X99992600012300=<D0006100" + encode_print_serial(9)

    assert parse_scan(compound).two_dimensional
    assert parse_scan("]d2" + compound).two_dimensional
    assert not parse_scan("]C0" + compound).two_dimensional  # the scanner says Code 128
    assert not parse_scan("=X99992600012300=<D0006100").two_dimensional
    assert not parse_scan("X999926000123").two_dimensional


@pytest.mark.parametrize("serial", [0, 1_000_000])
def test_a_print_serial_outside_six_digits_is_refused(serial):
    with pytest.raises(ValueError):
        encode_print_serial(serial)


def test_a_print_serial_with_letters_is_not_a_serial():
    with pytest.raises(ScanError):
        parse_scan("=+02000=X99992600012300&s00A001")
