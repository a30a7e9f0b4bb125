"""ISBT 128 grammar, check characters and scan parsing (vectors from docs standards.md §6)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from workflows.isbt128 import (
    Din,
    ProductCode,
    ScanError,
    ScanErrorCode,
    Structure,
    check_character,
    decode_datetime,
    encode_collection,
    encode_compound,
    encode_din,
    encode_expiry,
    encode_patient_id,
    encode_product_code,
    make_din,
    parse_din,
    parse_product_code,
    parse_scan,
    type3_flags,
)

# ST-001 Table 35; the weighted-sum method of Appendix A.1, written independently of stdnum.
TABLE_35 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"


def weighted_sum(din: str) -> int:
    return sum(TABLE_35.index(ch) * 2 ** (len(din) - i) for i, ch in enumerate(din))


def reference_checksum(din: str) -> int:
    return (38 - weighted_sum(din) % 37) % 37


def scan_error(text: str) -> ScanError:
    with pytest.raises(ScanError) as caught:
        parse_scan(text)
    return caught.value


# standards.md §6.1: DIN, K, MOD 37-2 checksum, Type 3 flag
DIN_VECTORS = [
    ("G123417654321", "A", 10, "70"),
    ("G123498654321", "H", 17, "77"),
    ("A999917123456", "9", 9, "69"),
    ("A999916123456", "Q", 26, "86"),
    ("A999921123456", "3", 3, "63"),
    ("W000009123456", "G", 16, "76"),
]
SUBSTITUTION_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# standards.md §6.3 prints the first line of ST-012's "Data Matrix symbol 1"; ST-012 continues
# it with the Single European Code (DS 038), which makes the five structures that aa=05 counts.
STANDARDS_6_3_COMPOUND = "=+05000=Z54991712345600=%T300=<T0416003&>0183652359"
ST012_SEC = "&,4PL001499Z549917123456A00T041600320181231"
ST012_COMPOUND = STANDARDS_6_3_COMPOUND + ST012_SEC


# --- check characters -------------------------------------------------------------------


@pytest.mark.parametrize(("din", "k", "checksum", "flags"), DIN_VECTORS)
def test_computes_the_published_check_character_and_type3_flag_of_each_din_vector(
    din: str, k: str, checksum: int, flags: str
) -> None:
    assert check_character(din) == k
    assert type3_flags(din) == flags
    assert reference_checksum(din) == checksum
    assert TABLE_35[checksum] == k


def test_reference_implementation_reproduces_the_published_worked_arithmetic() -> None:
    # JPAC Red Book Annex 2 and ST-001 Appendix A.1 print the weighted sums.
    assert weighted_sum("G123498654321") == 148354
    assert weighted_sum("G123498654321") % 37 == 21
    assert weighted_sum("G123417654321") == 146178
    assert weighted_sum("G123417654321") % 37 == 28


def test_every_single_substitution_of_the_worked_example_changes_the_check_character() -> None:
    din = "G123417654321"
    variants = [
        din[:i] + ch + din[i + 1 :]
        for i in range(len(din))
        for ch in SUBSTITUTION_ALPHABET
        if ch != din[i]
    ]
    assert len(variants) == 455
    for variant in variants:
        assert check_character(variant) != "A", variant
        assert check_character(variant) == TABLE_35[reference_checksum(variant)]


def test_every_adjacent_transposition_of_the_worked_example_changes_the_check_character() -> None:
    din = "G123417654321"
    variants = [din[:i] + din[i + 1] + din[i] + din[i + 2 :] for i in range(len(din) - 1)]
    variants = [variant for variant in variants if variant != din]
    assert len(variants) == 12
    for variant in variants:
        assert check_character(variant) != "A", variant


@pytest.mark.parametrize("payload", ["g123417654321", "G1234*7654321", "G12341765432 "])
def test_refuses_a_check_character_payload_with_lowercase_or_symbols(payload: str) -> None:
    with pytest.raises(ScanError) as caught:
        check_character(payload)
    assert caught.value.code is ScanErrorCode.BAD_CHARACTER


def test_refuses_a_check_character_payload_of_the_wrong_length() -> None:
    with pytest.raises(ScanError) as caught:
        check_character("G12341765432")
    assert caught.value.code is ScanErrorCode.TRUNCATED
    assert "expected 13" in str(caught.value)


# --- DIN ----------------------------------------------------------------------------------


def test_makes_a_din_from_facility_year_and_sequence() -> None:
    din = make_din("W1234", 2026, 123)
    assert din == Din("W1234", "26", "000123")
    assert din.text == str(din) == "W123426000123"
    assert din.eye_readable() == "W1234 26 000123"
    assert din.check == check_character("W123426000123")


def test_makes_a_din_from_a_two_digit_year_and_the_lowest_sequence() -> None:
    assert make_din("A9999", 7, 0).text == "A999907000000"


@pytest.mark.parametrize(
    ("facility", "year", "sequence", "fragment"),
    [
        ("O1234", 26, 1, "'O' at character 1"),
        ("01234", 26, 1, "'0' at character 1"),
        ("W12A4", 26, 1, "'A' at character 4"),
        ("w1234", 26, 1, "lowercase"),
        ("W123", 26, 1, "expected 5"),
        ("W1234", 100, 1, "year 100"),
        ("W1234", -1, 1, "year -1"),
        ("W1234", 26, 1_000_000, "sequence number 1000000"),
    ],
)
def test_refuses_to_make_a_din_from_invalid_parts(
    facility: str, year: int, sequence: int, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        make_din(facility, year, sequence)


def test_parses_a_keyboard_entered_din_with_or_without_its_check_character() -> None:
    assert parse_din("G123417654321") == Din("G1234", "17", "654321")
    assert parse_din("G123417654321A") == Din("G1234", "17", "654321")


@pytest.mark.parametrize(("din", "wrong"), [("G123417654321", "B"), ("G123498654321", "G")])
def test_rejects_a_keyboard_check_character_that_does_not_match_the_din(
    din: str, wrong: str
) -> None:
    with pytest.raises(ScanError) as caught:
        parse_din(din + wrong)
    assert caught.value.code is ScanErrorCode.BAD_CHECK_CHARACTER
    expected = check_character(din)
    assert str(caught.value) == (
        f"check character '{wrong}' does not match DIN {din} (expected '{expected}')"
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("O123417654321", ScanErrorCode.BAD_CHARACTER),
        ("0123417654321", ScanErrorCode.BAD_CHARACTER),
        ("G1234176543X1", ScanErrorCode.BAD_CHARACTER),
        ("G123417654321a", ScanErrorCode.BAD_CHARACTER),
        ("G12341765432", ScanErrorCode.TRUNCATED),
        ("G123417654321AB", ScanErrorCode.TRAILING_DATA),
        ("   ", ScanErrorCode.EMPTY),
    ],
)
def test_refuses_a_malformed_keyboard_entered_din(text: str, code: ScanErrorCode) -> None:
    with pytest.raises(ScanError) as caught:
        parse_din(text)
    assert caught.value.code is code


# --- flags --------------------------------------------------------------------------------


def test_accepts_a_type3_flag_that_matches_the_din() -> None:
    scan = parse_scan("=G12341765432170")
    assert scan.din == Din("G1234", "17", "654321")
    assert scan.flags == "70"


def test_rejects_a_type3_flag_that_does_not_match_the_din() -> None:
    error = scan_error("=G12341765432171")
    assert error.code is ScanErrorCode.BAD_CHECK_CHARACTER
    assert "Type 3 flag '71' does not match DIN G123417654321 (expected '70')" in str(error)
    assert "at character 1 of the scan" in str(error)


@pytest.mark.parametrize("flags", ["I0", "0O", "Q1", "Z2", "0-"])
def test_rejects_flag_characters_outside_the_flag_alphabet(flags: str) -> None:
    error = scan_error(f"=G123417654321{flags}")
    assert error.code is ScanErrorCode.BAD_FLAGS
    assert f"flag characters '{flags}'" in str(error)


def test_rejects_lowercase_flag_characters_as_a_bad_character() -> None:
    assert scan_error("=G123417654321a1").code is ScanErrorCode.BAD_CHARACTER


@pytest.mark.parametrize("flags", ["00", "01", "07", "12", "25", "97", "A1", "PY"])
def test_accepts_type1_type2_and_reserved_flags_that_are_not_a_check(flags: str) -> None:
    assert parse_scan(f"=G123417654321{flags}").flags == flags


@pytest.mark.parametrize(("din", "k", "checksum", "flags"), DIN_VECTORS)
def test_round_trips_each_din_vector_with_its_type3_flag(
    din: str, k: str, checksum: int, flags: str
) -> None:
    value = parse_din(din + k)
    encoded = encode_din(value, type3_flags(din))
    assert encoded == f"={din}{flags}"
    scan = parse_scan(encoded)
    assert (scan.din, scan.flags) == (value, flags)


def test_refuses_to_encode_a_din_with_a_wrong_type3_flag_or_bad_flags() -> None:
    din = parse_din("G123417654321")
    with pytest.raises(ScanError) as wrong_check:
        encode_din(din, "71")
    assert wrong_check.value.code is ScanErrorCode.BAD_CHECK_CHARACTER
    with pytest.raises(ScanError) as bad_flags:
        encode_din(din, "QQ")
    assert bad_flags.value.code is ScanErrorCode.BAD_FLAGS
    with pytest.raises(ScanError) as short_flags:
        encode_din(din, "0")
    assert short_flags.value.code is ScanErrorCode.TRUNCATED


@pytest.mark.parametrize("scan", ["=O12341765432100", "=012341765432100"])
def test_does_not_read_o_or_zero_after_the_equals_sign_as_a_din(scan: str) -> None:
    error = scan_error(scan)
    assert error.code is ScanErrorCode.UNKNOWN_DATA_IDENTIFIER
    assert "a DIN cannot begin with" in str(error)


# --- product code -------------------------------------------------------------------------


def test_parses_the_product_code_diagram_vector() -> None:
    code = parse_product_code("S12954A0")
    assert code == ProductCode(pdc="S1295", collection_type="4", division="A0")
    assert code.text == "S12954A0"
    assert parse_scan(encode_product_code(code)).product_code == code


def test_round_trips_a_local_autologous_product_code_with_a_subdivision() -> None:
    code = ProductCode("D0001", "1", "Ab")
    assert encode_product_code(code) == "=<D00011Ab"
    assert parse_scan("=<D00011Ab").product_code == code


@pytest.mark.parametrize(
    ("content", "position"),
    [("s12954A0", 1), ("1S2954A0", 1), ("S12954a0", 7), ("S12954AB", 8), ("S1295-A0", 6)],
)
def test_refuses_a_product_code_character_outside_its_alphabet(content: str, position: int) -> None:
    with pytest.raises(ScanError) as caught:
        parse_product_code(content)
    assert caught.value.code is ScanErrorCode.BAD_CHARACTER
    assert f"at character {position}" in str(caught.value)


def test_refuses_a_product_code_of_the_wrong_length() -> None:
    with pytest.raises(ScanError) as short:
        parse_product_code("S12954A")
    assert short.value.code is ScanErrorCode.TRUNCATED
    with pytest.raises(ScanError) as long:
        parse_product_code("S12954A00")
    assert long.value.code is ScanErrorCode.TRAILING_DATA


# --- dates --------------------------------------------------------------------------------

DATE_VECTORS = [
    ("0180292359", datetime(2018, 1, 29, 23, 59)),
    ("0183652359", datetime(2018, 12, 31, 23, 59)),
    ("0243662359", datetime(2024, 12, 31, 23, 59)),
    ("0240602359", datetime(2024, 2, 29, 23, 59)),
]


@pytest.mark.parametrize(("content", "when"), DATE_VECTORS)
def test_decodes_and_encodes_the_published_date_vectors(content: str, when: datetime) -> None:
    assert decode_datetime(content) == when
    assert encode_expiry(when) == "&>" + content
    assert encode_collection(when) == "&*" + content


def test_reads_the_st012_expiry_structure_as_the_last_minute_of_2018() -> None:
    assert parse_scan("&>0183652359").expiry == datetime(2018, 12, 31, 23, 59)


def test_reads_a_date_without_time_as_2359() -> None:
    assert decode_datetime("018029") == datetime(2018, 1, 29, 23, 59)
    assert parse_scan("=>018365").expiry == datetime(2018, 12, 31, 23, 59)
    assert parse_scan("=*026060").collection == datetime(2026, 3, 1, 23, 59)


def test_encodes_the_wall_clock_of_an_aware_datetime_without_converting_it() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert encode_expiry(datetime(2026, 3, 1, 14, 5, 59, tzinfo=eastern)) == "&>0260601405"


def test_round_trips_expiry_and_collection_to_the_minute() -> None:
    when = datetime(2026, 7, 4, 8, 30)
    scan = parse_scan(encode_collection(when) + encode_expiry(when + timedelta(hours=30)))
    assert scan.collection == when
    assert scan.expiry == datetime(2026, 7, 5, 14, 30)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("0183662359", "day 366 does not exist in 2018"),
        ("0180002359", "day 000 does not exist"),
        ("0180292400", "time 24:00 does not exist"),
        ("0180292360", "time 23:60 does not exist"),
    ],
)
def test_refuses_a_date_or_time_that_does_not_exist(content: str, fragment: str) -> None:
    with pytest.raises(ScanError) as caught:
        decode_datetime(content)
    assert caught.value.code is ScanErrorCode.BAD_DATE
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("01836", ScanErrorCode.TRUNCATED),
        ("01836523", ScanErrorCode.TRUNCATED),
        ("01836523590", ScanErrorCode.TRAILING_DATA),
        ("018365235X", ScanErrorCode.BAD_CHARACTER),
    ],
)
def test_refuses_a_date_of_the_wrong_shape(content: str, code: ScanErrorCode) -> None:
    with pytest.raises(ScanError) as caught:
        decode_datetime(content)
    assert caught.value.code is code


def test_refuses_to_encode_a_year_before_2000() -> None:
    with pytest.raises(ValueError, match="1999"):
        encode_expiry(datetime(1999, 12, 31, 23, 59))


# --- compound messages and concatenated reads ---------------------------------------------


def test_parses_the_published_st012_compound_message() -> None:
    scan = parse_scan(ST012_COMPOUND)
    assert scan.compound
    assert [s.ds for s in scan.structures] == ["023", "001", "002", "003", "005", "038"]
    assert scan.structures[0] == Structure("023", "=+", "05000")
    assert scan.structures[2] == Structure("002", "=%", "T300")
    assert scan.din == Din("Z5499", "17", "123456")
    assert scan.flags == "00"
    assert scan.product_code == ProductCode("T0416", "0", "03")
    assert scan.expiry == datetime(2018, 12, 31, 23, 59)
    assert scan.structures[5] == Structure("038", "&,4", ST012_SEC[3:])


def test_rejects_a_compound_header_that_announces_more_structures_than_follow() -> None:
    error = scan_error(STANDARDS_6_3_COMPOUND)
    assert error.code is ScanErrorCode.BAD_COMPOUND
    assert "announces 5 data structures but the scan ends after 4" in str(error)


def test_parses_the_standards_doc_compound_vector_once_its_count_is_four() -> None:
    scan = parse_scan("=+04" + STANDARDS_6_3_COMPOUND[4:])
    assert [s.ds for s in scan.structures] == ["023", "001", "002", "003", "005"]
    assert scan.din is not None and scan.din.text == "Z549917123456"
    assert scan.product_code is not None and scan.product_code.text == "T0416003"


def test_round_trips_a_compound_message_built_by_the_encoder() -> None:
    din = make_din("W1234", 2026, 123)
    product = ProductCode("S1295", "1", "00")
    expiry = datetime(2026, 3, 2, 12, 0)
    collection = datetime(2026, 3, 1, 9, 15)
    message = encode_compound(
        [
            encode_din(din),
            encode_product_code(product),
            encode_collection(collection),
            encode_expiry(expiry),
            encode_patient_id("TRIAL0042"),
        ]
    )
    assert message.startswith("=+05000=W12342600012300=<S1295100")
    scan = parse_scan(message)
    assert scan.compound
    assert (scan.din, scan.flags, scan.product_code) == (din, "00", product)
    assert (scan.collection, scan.expiry, scan.patient_id) == (collection, expiry, "TRIAL0042")


def test_reads_a_concatenated_din_and_product_code_read() -> None:
    scan = parse_scan("=G12341765432100=<S12954A0")
    assert not scan.compound
    assert [s.identifier for s in scan.structures] == ["=", "=<"]
    assert scan.din is not None and scan.din.text == "G123417654321"
    assert scan.product_code == ProductCode("S1295", "4", "A0")


def test_reports_a_din_cut_short_by_the_next_structure_in_a_concatenated_read() -> None:
    error = scan_error("=G123417654321=<S12954A0")
    assert error.code is ScanErrorCode.TRUNCATED
    assert "next data identifier at character 15" in str(error)


@pytest.mark.parametrize(
    ("scan", "fragment"),
    [
        ("=G12341765432100=G12341765432100", "the DIN appears twice"),
        ("=<S12954A0&>0183652359=<S12954A0", "the product code appears twice"),
        ("&>0183652359=>018365", "the expiration date appears twice"),
        ("=+02000=G12341765432100=G12341765432100", "the DIN appears twice"),
        ("=G12341765432100=+01000=<S12954A0", "may only begin the scan"),
        ("=+02000=+01000=<S12954A0", "another compound message header"),
        ("=+00000", "announces 00 data structures"),
        ("=+01000=G12341765432100=<S12954A0", "more data follows from character 24"),
        ("=+02000=G12341765432100X", "data structure 2 should begin at character 24"),
    ],
)
def test_rejects_an_inconsistent_compound_or_concatenated_scan(scan: str, fragment: str) -> None:
    error = scan_error(scan)
    assert error.code is ScanErrorCode.BAD_COMPOUND
    assert fragment in str(error)


def test_refuses_to_encode_a_compound_message_that_repeats_a_structure() -> None:
    din = encode_din(make_din("W1234", 26, 1))
    with pytest.raises(ScanError) as caught:
        encode_compound([din, din])
    assert caught.value.code is ScanErrorCode.BAD_COMPOUND


def test_refuses_to_encode_a_compound_message_from_something_that_is_not_a_structure() -> None:
    with pytest.raises(ScanError) as caught:
        encode_compound(["=G12341765432100", "S12954A0"])
    assert caught.value.code is ScanErrorCode.UNKNOWN_DATA_IDENTIFIER
    assert "structure 2 of 2" in str(caught.value)


def test_refuses_to_encode_an_empty_compound_message() -> None:
    with pytest.raises(ValueError, match="1–99"):
        encode_compound([])


# --- patient identification ---------------------------------------------------------------


def test_round_trips_a_patient_identification_number() -> None:
    encoded = encode_patient_id("Ab12345", location="01")
    assert encoded == "&#0107Ab12345"
    assert parse_scan(encoded).patient_id == "Ab12345"


@pytest.mark.parametrize(
    ("patient_id", "location", "error_type"),
    [
        ("AB-123", "00", ScanError),
        ("AB 123", "00", ScanError),
        ("", "00", ValueError),
        ("X" * 100, "00", ValueError),
        ("AB123", "0A", ScanError),
    ],
)
def test_refuses_to_encode_a_patient_id_with_punctuation_or_a_bad_length(
    patient_id: str, location: str, error_type: type[Exception]
) -> None:
    with pytest.raises(error_type):
        encode_patient_id(patient_id, location)


def test_rejects_a_patient_id_shorter_than_its_declared_length() -> None:
    error = scan_error("&#0010ABC")
    assert error.code is ScanErrorCode.TRUNCATED
    assert "expected 14" in str(error)


# --- scanner clean-up and keyboard entry --------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "=G12341765432170\r\n",
        "=G12341765432170\r",
        "=G12341765432170\n",
        "  =G12341765432170\t",
        "]C0=G12341765432170\r\n",
        "]d2=G12341765432170",
        "\r\n]C0=G12341765432170",
    ],
)
def test_strips_the_scanner_enter_suffix_and_symbology_prefix(raw: str) -> None:
    scan = parse_scan(raw)
    assert scan.raw == raw
    assert scan.din == Din("G1234", "17", "654321")
    assert scan.flags == "70"


def test_strips_the_data_matrix_prefix_from_a_compound_message() -> None:
    assert parse_scan("]d1" + ST012_COMPOUND + "\n").compound


def test_accepts_keyboard_entry_of_a_din_with_the_right_check_character() -> None:
    scan = parse_scan("G123417654321A\r\n")
    assert scan.din == Din("G1234", "17", "654321")
    assert (scan.structures, scan.flags, scan.compound) == ((), None, False)


def test_accepts_keyboard_entry_of_a_bare_din() -> None:
    assert parse_scan("A999921123456").din == Din("A9999", "21", "123456")


def test_rejects_keyboard_entry_of_a_din_with_the_wrong_check_character() -> None:
    error = scan_error("G123417654321B")
    assert error.code is ScanErrorCode.BAD_CHECK_CHARACTER
    assert str(error) == "DIN G1234 17 654321: check character B does not match, expected A"


# --- one realistic malformed scan per error code ------------------------------------------


@pytest.mark.parametrize(
    ("scan", "code", "fragment"),
    [
        ("", ScanErrorCode.EMPTY, "contains no data"),
        ("\r\n", ScanErrorCode.EMPTY, "contains no data"),
        ("]C0", ScanErrorCode.EMPTY, "contains no data"),
        ("hello", ScanErrorCode.UNKNOWN_DATA_IDENTIFIER, "'hello' does not begin"),
        ("=!12345", ScanErrorCode.UNKNOWN_DATA_IDENTIFIER, "'=!' at character 1"),
        ("&aLOCAL1", ScanErrorCode.UNKNOWN_DATA_IDENTIFIER, "nationally or locally defined"),
        ("=G12341765432100&$01", ScanErrorCode.UNKNOWN_DATA_IDENTIFIER, "'&$' at character 17"),
        ("=G1234176543", ScanErrorCode.TRUNCATED, "before the scan ends; expected 15"),
        ("&>01836523", ScanErrorCode.TRUNCATED, "expected 10"),
        ("=", ScanErrorCode.TRUNCATED, "ends right after the data identifier"),
        ("=<s12954A0", ScanErrorCode.BAD_CHARACTER, "lowercase is not allowed"),
        ("=g12341765432100", ScanErrorCode.BAD_CHARACTER, "lowercase is not allowed"),
        ("=G123417654321Q0", ScanErrorCode.BAD_FLAGS, "'Q' at flag position 1"),
        ("=G12341765432171", ScanErrorCode.BAD_CHECK_CHARACTER, "expected '70'"),
        ("G123417654321B", ScanErrorCode.BAD_CHECK_CHARACTER, "expected A"),
        ("&>0183662359", ScanErrorCode.BAD_DATE, "day 366 does not exist in 2018"),
        ("=G12341765432100X", ScanErrorCode.TRAILING_DATA, "'X' from character 17"),
        ("=<S12954A0 =G12341765432100", ScanErrorCode.TRAILING_DATA, "from character 11"),
        ("=G12341765432100=G12341765432100", ScanErrorCode.BAD_COMPOUND, "appears twice"),
    ],
)
def test_reports_each_malformed_scan_with_its_code_and_where_it_went_wrong(
    scan: str, code: ScanErrorCode, fragment: str
) -> None:
    error = scan_error(scan)
    assert error.code is code
    assert fragment in str(error)


def test_reads_other_fixed_length_structures_without_interpreting_them() -> None:
    scan = parse_scan("=)1XX00AB123&)00001234rZ")
    assert [(s.ds, s.content) for s in scan.structures] == [
        ("017", "1XX00AB123"),
        ("018", "00001234rZ"),
    ]


# --- error type and module boundaries -----------------------------------------------------


def test_scan_error_codes_are_lowercase_strings() -> None:
    assert all(code.value == code.value.lower() for code in ScanErrorCode)
    assert ScanErrorCode.BAD_FLAGS.value == "scan_bad_flags"


def test_scan_error_is_a_value_error_that_keeps_its_code_when_pickled() -> None:
    error = ScanError(ScanErrorCode.TRUNCATED, "DIN cut short")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.detail, str(copy)) == (error.code, error.detail, "DIN cut short")


def test_the_isbt128_modules_import_no_database_web_or_lims_code() -> None:
    probe = (
        "import sys, workflows.isbt128\n"
        "bad = sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'sqlmodel', 'sqlalchemy', 'fastapi', 'lims'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
