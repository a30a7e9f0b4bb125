"""ISBT 128 primitives: error codes, the DIN and its check characters, product codes, dates.

Pure standard library + python-stdnum. The public names are re-exported by
`workflows.isbt128`; import them from there.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from stdnum.iso7064 import mod_37_2

from workflows.characters import describe, name_odd_characters

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
# ST-001 Table 35 uses the full A–Z (I and O included) for MOD 37-2, unlike the FIN alphabet.
MOD37_INPUT = DIGITS + UPPER
MOD37_CHECK = MOD37_INPUT + "*"
# "O" is excluded from FIN letters and "0" from the first FIN character so that the DIN's
# first character can never be confused with another data identifier (ST-001 §2.4.1).
FIN_FIRST = UPPER.replace("O", "") + DIGITS[1:]
FIN_MIDDLE = UPPER.replace("O", "") + DIGITS
FLAG_CHARS = DIGITS + "ABCDEFGH" + "JKLMN" + "P" + "RSTUVWXY"

_FIN_RULES: tuple[tuple[str, str], ...] = (
    (FIN_FIRST, "A–N, P–Z or 1–9 (first FIN character)"),
    (FIN_MIDDLE, "A–N, P–Z or 0–9 (FIN)"),
    (FIN_MIDDLE, "A–N, P–Z or 0–9 (FIN)"),
    (DIGITS, "a digit (FIN)"),
    (DIGITS, "a digit (FIN)"),
)
_DIN_RULES = (
    _FIN_RULES + ((DIGITS, "a digit (year)"),) * 2 + ((DIGITS, "a digit (sequence number)"),) * 6
)
_PRODUCT_RULES: tuple[tuple[str, str], ...] = (
    (UPPER, "A–Z (first character of the product description code)"),
    *((UPPER + DIGITS, "A–Z or 0–9 (product description code)"),) * 4,
    (UPPER + LOWER + DIGITS, "a letter or digit (collection type)"),
    (UPPER + DIGITS, "A–Z or 0–9 (first division character)"),
    (LOWER + DIGITS, "a–z or 0–9 (second division character)"),
)


class ScanErrorCode(StrEnum):
    """Why a scan, keyboard entry or value was refused; shown to users and stored in audits."""

    EMPTY = "scan_empty"  # nothing but whitespace or a scanner prefix was read
    UNKNOWN_DATA_IDENTIFIER = "scan_unknown_data_identifier"  # not an ISBT 128 structure we read
    TRUNCATED = "scan_truncated"  # fewer characters than the structure needs
    BAD_CHARACTER = "scan_bad_character"  # a character outside the element's alphabet
    BAD_FLAGS = "scan_bad_flags"  # DIN flag characters outside the flag alphabet
    BAD_CHECK_CHARACTER = "scan_bad_check_character"  # keyboard K or Type 3 flag disagrees
    BAD_DATE = "scan_bad_date"  # a date or time that does not exist
    TRAILING_DATA = "scan_trailing_data"  # characters left over after the last structure
    BAD_COMPOUND = "scan_bad_compound"  # compound/concatenated message is inconsistent


class ScanError(ValueError):
    """A coded, human-readable refusal. `str()` is the detail, ready to show to the operator."""

    def __init__(self, code: ScanErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

    def __reduce__(self) -> tuple[type[ScanError], tuple[ScanErrorCode, str]]:
        # The default ValueError pickling would call __init__(detail) and lose the code.
        return (ScanError, (self.code, self.detail))


def show(ch: str) -> str:
    """Quote one character so that spaces, control characters and look-alikes of other
    scripts are visible in messages (named as in workflows.characters)."""
    return describe(ch)


def refuse_odd_characters(what: str, text: str) -> None:
    """Refuse `text` if it has characters no label carries (other scripts' look-alikes,
    full-width forms, control characters), naming each with its position."""
    named = name_odd_characters(text)
    if named is not None:
        raise ScanError(
            ScanErrorCode.BAD_CHARACTER,
            f"{what} has {named}: labels carry only Latin letters, digits and ISBT 128 "
            "symbols; check the keyboard layout or the scanner's settings and try again",
        )


def characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


def check_length(what: str, text: str, expected: int, wanted: str = "") -> None:
    """Refuse `text` unless it has exactly `expected` characters (`wanted` rephrases it)."""
    wanted = wanted or str(expected)
    if len(text) < expected:
        raise ScanError(
            ScanErrorCode.TRUNCATED,
            f"{what} {text!r} has {characters(len(text))}; expected {wanted}",
        )
    if len(text) > expected:
        raise ScanError(
            ScanErrorCode.TRAILING_DATA,
            f"{what} {text!r} has {characters(len(text))}; expected {wanted}: "
            f"unexpected {text[expected:]!r} from character {expected + 1}",
        )


def check_chars(what: str, text: str, rules: Sequence[tuple[str, str]], first: int = 1) -> None:
    """Refuse the first character of `text` that is outside its position's alphabet.

    `rules[i]` is (allowed characters, description) for position i; `first` numbers the
    positions in messages so that they match what the operator sees on the label.
    """
    for index, (ch, (allowed, description)) in enumerate(zip(text, rules, strict=False)):
        if ch in allowed:
            continue
        hint = "; lowercase is not allowed here" if ch.upper() in allowed else ""
        raise ScanError(
            ScanErrorCode.BAD_CHARACTER,
            f"{what} {text!r} has {show(ch)} at character {index + first}, "
            f"which must be {description}{hint}",
        )


def _checksum(din: str) -> int:
    """The ISO/IEC 7064 MOD 37-2 checksum (0–36) of a 13-character DIN."""
    check_length("DIN", din, 13)
    check_chars("DIN", din, ((MOD37_INPUT, "A–Z or 0–9 (MOD 37-2 input)"),) * 13)
    return MOD37_CHECK.index(mod_37_2.calc_check_digit(din))


def check_character(din: str) -> str:
    """Keyboard-entry check character K (ST-001 Appendix A) printed boxed after the DIN."""
    return MOD37_CHECK[_checksum(din)]


def type3_flags(din: str) -> str:
    """Type 3 flag characters "60".."96": 60 + the MOD 37-2 checksum (ST-001 A.2)."""
    return f"{60 + _checksum(din)}"


@dataclass(frozen=True)
class Din:
    """A 13-character Donation Identification Number; validated on construction."""

    facility: str
    year: str
    sequence: str

    def __post_init__(self) -> None:
        check_length("FIN", self.facility, 5)
        check_length("DIN year", self.year, 2)
        check_length("DIN sequence number", self.sequence, 6)
        check_chars("DIN", self.text, _DIN_RULES)

    @property
    def text(self) -> str:
        return self.facility + self.year + self.sequence

    @property
    def check(self) -> str:
        return check_character(self.text)

    def eye_readable(self) -> str:
        """Grouped as FIN yy nnnnnn; K is left out because renderers print it in a box."""
        return f"{self.facility} {self.year} {self.sequence}"

    def __str__(self) -> str:
        return self.text


def make_din(facility: str, year: int, sequence: int) -> Din:
    """Build a DIN from configuration values; raises ValueError with the reason."""
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError(f"DIN year must be an integer, got {year!r}")
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise ValueError(f"DIN sequence number must be an integer, got {sequence!r}")
    if 1000 <= year <= 9999:
        year %= 100
    elif not 0 <= year <= 99:
        raise ValueError(f"DIN year {year} must be 0–99 or a four-digit year")
    if not 0 <= sequence <= 999_999:
        raise ValueError(f"DIN sequence number {sequence} must be between 0 and 999999")
    check_length("FIN", facility, 5)
    check_chars("FIN", facility, _FIN_RULES)
    return Din(facility, f"{year:02d}", f"{sequence:06d}")


def parse_din(text: str) -> Din:
    """Parse keyboard entry: the 13-character DIN, optionally followed by its check character."""
    entry = text.strip()
    if not entry:
        raise ScanError(ScanErrorCode.EMPTY, "no DIN was entered")
    refuse_odd_characters("the DIN", entry)
    check_length("DIN", entry, 14 if len(entry) > 13 else 13, "13, or 14 with the check character")
    din = Din(entry[:5], entry[5:7], entry[7:13])
    if len(entry) == 14:
        check_chars("DIN entry", entry[13], ((MOD37_CHECK, "0–9, A–Z or '*'"),), first=14)
        if entry[13] != din.check:
            raise ScanError(
                ScanErrorCode.BAD_CHECK_CHARACTER,
                f"check character '{entry[13]}' does not match DIN {din.text} "
                f"(expected '{din.check}')",
            )
    return din


def read_din(text: str) -> Din:
    """A DIN as a person types it or a URL names it, validated whole; raises ScanError.

    Accepts the 13-character DIN, the DIN followed by its check character (14), and the
    eye-readable form as the label prints it (`X9999 26 000003 T`, spaces between the
    groups, upper or lower case). Nothing is cut off: a wrong check character or anything
    after it is refused, so a DIN with junk after it never names a product.
    """
    entry = text.strip()
    if not entry:
        raise ScanError(ScanErrorCode.EMPTY, "no DIN was entered")
    refuse_odd_characters("the DIN", entry)
    compact = entry.replace(" ", "").upper()
    if len(compact) not in (13, 14):
        code = ScanErrorCode.TRUNCATED if len(compact) < 13 else ScanErrorCode.TRAILING_DATA
        raise ScanError(code, "a DIN has 13 characters (plus its check character); "
                              f"this has {len(compact)}")
    din = Din(compact[:5], compact[5:7], compact[7:13])
    if len(compact) == 14 and compact[13] != din.check:
        given = show(compact[13]) if compact[13] not in MOD37_CHECK else compact[13]
        raise ScanError(
            ScanErrorCode.BAD_CHECK_CHARACTER,
            f"DIN {din.eye_readable()}: check character {given} does not match, "
            f"expected {din.check}",
        )
    return din


def check_flags(din: Din, flags: str) -> None:
    """Refuse flag characters outside the ST-001 alphabet or a Type 3 flag that disagrees."""
    check_length(f"DIN {din.text} flag characters", flags, 2)
    for index, ch in enumerate(flags):
        if ch in FLAG_CHARS:
            continue
        if ch in LOWER:
            raise ScanError(
                ScanErrorCode.BAD_CHARACTER,
                f"flag characters {flags!r} of DIN {din.text} have lowercase {show(ch)} at "
                f"flag position {index + 1}; flags use 0–9, A–H, J–N, P, R–Y",
            )
        raise ScanError(
            ScanErrorCode.BAD_FLAGS,
            f"flag characters {flags!r} of DIN {din.text} have {show(ch)} at flag position "
            f"{index + 1}, which is not a flag character (0–9, A–H, J–N, P, R–Y)",
        )
    if flags.isdigit() and 60 <= int(flags) <= 96 and flags != type3_flags(din.text):
        raise ScanError(
            ScanErrorCode.BAD_CHECK_CHARACTER,
            f"Type 3 flag '{flags}' does not match DIN {din.text} "
            f"(expected '{type3_flags(din.text)}')",
        )


@dataclass(frozen=True)
class ProductCode:
    """Product Code content `αooootds` (DS 003); validated on construction."""

    pdc: str
    collection_type: str
    division: str

    def __post_init__(self) -> None:
        check_length("product description code", self.pdc, 5)
        check_length("collection type", self.collection_type, 1)
        check_length("division code", self.division, 2)
        check_chars("product code", self.text, _PRODUCT_RULES)

    @property
    def text(self) -> str:
        return self.pdc + self.collection_type + self.division


def parse_product_code(text: str) -> ProductCode:
    """Parse the 8-character product code content (without its `=<` data identifier)."""
    check_length("product code", text, 8)
    return ProductCode(text[:5], text[5], text[6:])


def decode_datetime(content: str) -> datetime:
    """Decode `cyyjjjhhmm` (or `cyyjjj`, read as 23:59) into a naive local datetime.

    The century digit counts centuries from 2000 (ST-001 examples show c=0 for 2018).
    """
    wanted = "10 (cyyjjjhhmm) or 6 (cyyjjj)"
    check_length("date", content, 6 if len(content) <= 6 else 10, wanted)
    check_chars("date", content, ((DIGITS, "a digit"),) * len(content))
    year = 2000 + 100 * int(content[0]) + int(content[1:3])
    day = int(content[3:6])
    hour, minute = (int(content[6:8]), int(content[8:10])) if len(content) == 10 else (23, 59)
    days_in_year = 366 if calendar.isleap(year) else 365
    if not 1 <= day <= days_in_year:
        leap = "a leap year" if days_in_year == 366 else "not a leap year"
        raise ScanError(
            ScanErrorCode.BAD_DATE,
            f"date {content!r}: day {day:03d} does not exist in {year} "
            f"({leap}; days run 001–{days_in_year})",
        )
    if hour > 23 or minute > 59:
        raise ScanError(
            ScanErrorCode.BAD_DATE,
            f"date {content!r}: time {hour:02d}:{minute:02d} does not exist "
            f"(hours run 00–23, minutes 00–59)",
        )
    return datetime(year, 1, 1, hour, minute) + timedelta(days=day - 1)


def encode_datetime(when: datetime) -> str:
    """`cyyjjjhhmm` of the wall-clock fields of `when`, as given (no time-zone conversion)."""
    if not 2000 <= when.year <= 2999:
        raise ValueError(f"year {when.year} cannot be encoded; ISBT 128 dates cover 2000–2999")
    century, year = divmod(when.year - 2000, 100)
    day = when.timetuple().tm_yday
    return f"{century}{year:02d}{day:03d}{when.hour:02d}{when.minute:02d}"
