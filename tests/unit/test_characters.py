"""Characters no label carries are named the same way everywhere: look-alikes of other
scripts, full-width forms and control characters, with their positions; a refused scan is
stored escaped and bounded."""

from __future__ import annotations

import pytest

from workflows.characters import describe, escaped, for_the_record, name_odd_characters
from workflows.errors import ErrorCode, IdentityMismatch
from workflows.identity import check_wristband
from workflows.isbt128 import ScanError, ScanErrorCode, parse_scan, read_din


@pytest.mark.parametrize(("char", "words"), [
    ("А", "Cyrillic capital letter A ‘А’ (U+0410, looks like A)"),
    ("Х", "Cyrillic capital letter Ha ‘Х’ (U+0425, looks like X)"),
    ("о", "Cyrillic small letter o ‘о’ (U+043E, looks like o)"),
    ("３", "full-width digit three ‘３’ (U+FF13, looks like 3)"),
    ("\x00", "a NUL control character (U+0000)"),
    ("\t", "a TAB control character (U+0009)"),
    ("\u200b", "zero width space (U+200B)"),
    ("\u00a0", "no-break space (U+00A0)"),
    ("É", "Latin capital letter E with acute ‘É’ (U+00C9)"),
    (" ", "a space"),
    ("x", "'x'"),
])
def test_each_character_is_named_in_words(char, words):
    assert describe(char) == words


def test_odd_characters_are_named_with_their_positions():
    assert name_odd_characters("АB３4\x00") == (
        "Cyrillic capital letter A ‘А’ (U+0410, looks like A) at position 1; "
        "full-width digit three ‘３’ (U+FF13, looks like 3) at position 3; "
        "a NUL control character (U+0000) at position 5")
    assert name_odd_characters("X9999 26 000003 T") is None


def test_only_the_first_three_are_named_and_the_rest_counted():
    assert name_odd_characters("\x00" * 10).endswith("; and 7 more")


def test_a_look_alike_in_a_scan_is_named_not_read_as_an_unknown_identifier():
    with pytest.raises(ScanError) as refused:
        parse_scan("=Х999926000003T0")

    assert refused.value.code == ScanErrorCode.BAD_CHARACTER
    assert str(refused.value).startswith(
        "the scan has Cyrillic capital letter Ha ‘Х’ (U+0425, looks like X) at position 2")
    assert "data identifier" not in str(refused.value)


def test_a_full_width_digit_in_a_typed_din_is_named():
    with pytest.raises(ScanError) as refused:
        read_din("X9999 26 ００0003 T")

    assert "full-width digit zero ‘０’ (U+FF10, looks like 0) at position 10" in str(
        refused.value)


@pytest.mark.parametrize("typed", ["X9999 26 000003 T", "x9999 26 000003 t", "x999926000003",
                                   "X999926000003T", "  X9999 26 000003  "])
def test_the_din_as_printed_or_in_lower_case_is_read_by_the_scan_parser(typed):
    assert parse_scan(typed).din.text == "X999926000003"


def test_the_scan_parser_says_a_number_reads_like_a_record_number():
    with pytest.raises(ScanError) as refused:
        parse_scan("7001001")

    assert "read like a record number (an MRN?)" in str(refused.value)


@pytest.mark.parametrize(("typed", "says"), [
    ("7001001", "this reads like the patient's MRN typed in, not the wristband's barcode"),
    ("7009999", "this reads like an MRN or another record number, not the patient's wristband"),
    ("X999926000003", "this reads like a DIN (X9999 26 000003), a product's number"),
    ("Ali Rezaei", "this reads like typed text, not the patient's wristband barcode"),
    ("7ОО1001", "the wristband entry has Cyrillic capital letter O ‘О’"),
])
def test_what_is_not_a_wristband_barcode_is_told_for_what_it_looks_like(typed, says):
    with pytest.raises(IdentityMismatch) as refused:
        check_wristband(typed, expected_patient_id="7001001", subject_id="RYN-001")

    assert refused.value.code == ErrorCode.COI_BAD_SCAN
    assert refused.value.detail.startswith(says)
    assert "DIN has" not in refused.value.detail
    assert "scan the barcode on the patient's wristband" in refused.value.detail


def test_a_product_label_at_the_wristband_is_named_as_such():
    with pytest.raises(IdentityMismatch) as refused:
        check_wristband("=X99992600000300", expected_patient_id="7001001", subject_id="RYN-001")

    assert refused.value.detail.startswith("this is a product label (DIN X999926000003), not "
                                           "the patient's wristband")


def test_escaping_makes_every_odd_character_visible_and_keeps_backslashes_apart():
    assert escaped("a\x00b\\cА") == "a\\x00b\\\\c\\u0410"


def test_plain_text_that_fits_is_stored_as_it_is():
    assert for_the_record("=+03000=X99992600000300") == "=+03000=X99992600000300"


def test_a_long_or_odd_scan_is_stored_bounded_with_its_length_and_no_half_escape():
    stored = for_the_record("A" + "\x00" * 5000, limit=500)

    assert len(stored) <= 500
    assert stored.endswith("… [5001 characters, escaped]")
    assert stored[:-len("… [5001 characters, escaped]")].endswith("\\x00")
