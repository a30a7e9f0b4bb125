"""A DIN typed by a person or named in a URL is read whole: nothing is cut off."""

from __future__ import annotations

import pytest

from workflows.isbt128 import Din, ScanError, ScanErrorCode, check_character, read_din

DIN = "X999926000003"
K = check_character(DIN)
WRONG = "A" if K != "A" else "B"


@pytest.mark.parametrize("text", [
    DIN, DIN + K, f"X9999 26 000003 {K}", "X9999 26 000003", f"x9999 26 000003 {K.lower()}",
    f"  {DIN}{K}\n",
])
def test_the_din_its_check_character_and_the_eye_readable_form_name_the_same_din(
        text: str) -> None:
    assert read_din(text) == Din("X9999", "26", "000003")


def test_a_wrong_check_character_is_refused_naming_the_expected_one() -> None:
    with pytest.raises(ScanError) as caught:
        read_din(f"X9999 26 000003 {WRONG}")
    assert caught.value.code is ScanErrorCode.BAD_CHECK_CHARACTER
    assert str(caught.value) == (
        f"DIN X9999 26 000003: check character {WRONG} does not match, expected {K}")


@pytest.mark.parametrize(("text", "code", "count"), [
    (DIN + K + "JUNKJU", ScanErrorCode.TRAILING_DATA, 20),
    (DIN + K + "1", ScanErrorCode.TRAILING_DATA, 15),
    (DIN[:12], ScanErrorCode.TRUNCATED, 12),
])
def test_a_din_with_junk_after_it_or_cut_short_is_refused_by_its_length(
        text: str, code: ScanErrorCode, count: int) -> None:
    with pytest.raises(ScanError) as caught:
        read_din(text)
    assert caught.value.code is code
    assert str(caught.value) == (
        f"a DIN has 13 characters (plus its check character); this has {count}")


def test_a_very_long_entry_is_refused_without_echoing_it() -> None:
    with pytest.raises(ScanError) as caught:
        read_din("X" * 100_000)
    assert len(str(caught.value)) < 100


@pytest.mark.parametrize(("text", "code"), [
    ("", ScanErrorCode.EMPTY),
    ("X9999260000O3", ScanErrorCode.BAD_CHARACTER),  # letter O for a zero in the sequence
    ("X9999\t26000003", ScanErrorCode.BAD_CHARACTER),
])
def test_a_malformed_din_is_refused_with_its_code(text: str, code: ScanErrorCode) -> None:
    with pytest.raises(ScanError) as caught:
        read_din(text)
    assert caught.value.code is code
