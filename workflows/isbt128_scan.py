"""Reading ISBT 128 scans: single structures, concatenated Code 128 reads, compound messages
(DS 023) and keyboard-entered DINs. Import the public names from `workflows.isbt128`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from workflows.isbt128_core import (
    DIGITS,
    FIN_FIRST,
    LOWER,
    UPPER,
    Din,
    ProductCode,
    ScanError,
    ScanErrorCode,
    characters,
    check_chars,
    check_flags,
    decode_datetime,
    parse_product_code,
    read_din,
    refuse_odd_characters,
    show,
)


@dataclass(frozen=True)
class Structure:
    """One data structure as read: number (e.g. "003"), identifier (e.g. "=<") and content.

    For the DIN (DS 001) the identifier is "=" and the content is the 13-character DIN plus
    the two flag characters, because ST-001 makes the DIN's first character part of both.
    """

    ds: str
    identifier: str
    content: str


@dataclass(frozen=True)
class Scan:
    """A validated scan. `structures` is empty for a keyboard-entered DIN (no identifier)."""

    raw: str
    structures: tuple[Structure, ...]
    din: Din | None
    flags: str | None
    product_code: ProductCode | None
    expiry: datetime | None
    collection: datetime | None
    patient_id: str | None
    compound: bool
    print_serial: int | None = None  # the label's print serial (local structure &s)
    symbology: str | None = None  # AIM symbology identifier the scanner sent, e.g. "]d2"

    @property
    def two_dimensional(self) -> bool:
        """Read from a 2-D (Data Matrix) code: a compound message, not from a linear symbol.

        A scanner that sends its AIM identifier says so itself ("]d" Data Matrix, "]C"
        Code 128); otherwise the compound message header is the mark of the 2-D code.
        """
        if self.symbology is not None and self.symbology[1] != "d":
            return False
        return self.compound


PRINT_SERIAL_DI = "&s"


@dataclass(frozen=True)
class _Spec:
    ds: str
    name: str
    length: int  # content length; 0 = variable (DS 025 carries its own length)
    alphabet: str
    description: str


_UD, _ULD = (UPPER + DIGITS, "A–Z or 0–9"), (UPPER + LOWER + DIGITS, "a letter or digit")
_D = (DIGITS, "a digit")


def _spec(ds: str, name: str, length: int, alphabet: tuple[str, str] = _UD) -> _Spec:
    return _Spec(ds, name, length, *alphabet)


# Lengths and alphabets from the element tables of ST-001 v6.2.2 §2.4 (and ST-012 for DS 038).
# Structures with repeating segments (029, 030) and retired ones are deliberately left out.
_DIN = _spec("001", "DIN", 15)
_SPECS: Mapping[str, _Spec] = {
    "=%": _spec("002", "blood groups", 4, _ULD),
    "=<": _spec("003", "product code", 8, _ULD),
    "=>": _spec("004", "expiration date", 6, _D),
    "&>": _spec("005", "expiration date and time", 10, _D),
    "=*": _spec("006", "collection date", 6, _D),
    "&*": _spec("007", "collection date and time", 10, _D),
    "=}": _spec("008", "production date", 6, _D),
    "&}": _spec("009", "production date and time", 10, _D),
    "&(": _spec("010", "special testing: general", 5),
    "=\\": _spec("012", "red cell antigens (general)", 18, _D),
    "&\\": _spec("013", "red cell antigens (Finnish)", 18, _D),
    "&{": _spec("014", "platelet HLA and specific antigens", 18, _D),
    "=)": _spec("017", "container manufacturer and catalog number", 10, _ULD),
    "&)": _spec("018", "container lot number", 10, _ULD),
    "=;": _spec("019", "donor identification number", 21),
    "='": _spec("020", "staff member identification number", 11),
    "=-": _spec("021", "manufacturer and catalog number", 10, _ULD),
    "&-": _spec("022", "lot number", 10, _ULD),
    "=+": _spec("023", "compound message header", 5, _D),
    "=#": _spec("024", "patient date of birth", 10, _D),
    "&#": _spec("025", "patient identification number", 0, _ULD),
    "=]": _spec("026", "expiration month and year", 6, _D),
    '&"': _spec("027", "infection marker", 18, _D),
    "=$": _spec("028", "product consignment", 16),
    "=(": _spec("031", "flexible date and time", 16, _D),
    "=,": _spec("032", "product divisions", 6),
    "&+": _spec("033", "processing facility information code", 11),
    "=/": _spec("034", "processor product identification code", 16),
    "&,1": _spec("035", "MPHO lot number", 18),
    "&,2": _spec("036", "MPHO supplemental identification number", 18),
    "&,4": _spec("038", "Single European Code", 40, _ULD),
    "&/": _spec("040", "chain of identity identifier", 15),
    # ST-001 §2.5.1 reserves '&' + a-z for nationally or locally defined structures. This
    # laboratory defines one: the serial of the label print, so each printed label (and so
    # each label generation of a container) is told apart by scan. Read here, nowhere else.
    PRINT_SERIAL_DI: _spec("L01", "label print serial (locally defined)", 6, _D),
}
_NAMES = {spec.ds: spec.name for spec in (_DIN, *_SPECS.values())}
_NOT_READ = {
    "={": "data structure 011, retired",
    "=[": "data structure 015, retired",
    '="': "data structure 016, retired",
    "&$": "data structure 029, dimensions",
    "&%": "data structure 030, red cell antigens with test history",
    "&,3": "data structure 037, retired",
    "&:": "data structure 039, donor registration identifier",
    "&;": "a nationally defined donor identification number",
    "&!": "a nationally defined confidential unit exclusion status",
}
# Structures that carry the same fact; one scan holding both is contradictory.
_SAME_FACT = {
    "004": "expiration date",
    "005": "expiration date",
    "006": "collection date",
    "007": "collection date",
}
_SYMBOLOGY_ID = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_KEYBOARD_ENTRY = re.compile(r"[0-9A-Za-z]+\*?")


def _quote(text: str) -> str:
    return f"'{text}'" if text.isprintable() and "'" not in text else repr(text)


def _identify(body: str, pos: int) -> tuple[str, _Spec]:
    """The data identifier starting at `pos` and what it introduces."""
    if pos + 1 >= len(body):
        raise ScanError(
            ScanErrorCode.TRUNCATED,
            f"the scan ends right after the data identifier character '{body[pos]}' "
            f"at character {pos + 1}",
        )
    first, second = body[pos], body[pos + 1]
    if first == "=" and second.upper() in FIN_FIRST:
        return "=", _DIN  # lowercase is let through here so the DIN check can name it
    identifier = body[pos : pos + 3] if body.startswith("&,", pos) else body[pos : pos + 2]
    if identifier in _SPECS:
        return identifier, _SPECS[identifier]
    where = f"data identifier {_quote(identifier)} at character {pos + 1}"
    if identifier in _NOT_READ:
        detail = f"{where} ({_NOT_READ[identifier]}) is not read by this system"
    elif first == "&" and second in LOWER:
        detail = f"{where} is a nationally or locally defined structure (&a–&z), not read here"
    elif first == "=" and second in "0Oo":
        detail = f"unknown {where}: a DIN cannot begin with {show(second)}"
    else:
        detail = f"unknown {where}"
    raise ScanError(ScanErrorCode.UNKNOWN_DATA_IDENTIFIER, detail)


def _content_length(body: str, start: int, spec: _Spec, pos: int) -> int:
    """Fixed length, or for DS 025 the 4-character `aall` header plus `ll` characters."""
    if spec.length:
        return spec.length
    header = body[start : start + 4]
    _refuse_cut(header, spec, pos, start, 4)
    check_chars(f"{spec.name} header", header, (_D,) * 4)
    if header[2:] == "00":
        raise ScanError(
            ScanErrorCode.TRUNCATED,
            f"{spec.name} at character {pos + 1} declares an empty number (length 00)",
        )
    return 4 + int(header[2:])


def _refuse_cut(content: str, spec: _Spec, pos: int, start: int, length: int) -> None:
    """Refuse content that stops early, naming where the next structure or the scan began."""
    expected = f"{length} (13-character DIN + 2 flag characters)" if spec is _DIN else str(length)
    # No content alphabet contains '=' or '&', so one inside the slice is the next structure.
    cut = next((i for i, ch in enumerate(content) if ch in "=&"), None)
    if cut is not None:
        raise ScanError(
            ScanErrorCode.TRUNCATED,
            f"{spec.name} at character {pos + 1} has {characters(cut)} of content before "
            f"the next data identifier at character {start + cut + 1}; expected {expected}",
        )
    if len(content) < length:
        raise ScanError(
            ScanErrorCode.TRUNCATED,
            f"{spec.name} at character {pos + 1} has {characters(len(content))} of content "
            f"before the scan ends; expected {expected}",
        )


def _validate(structure: Structure, spec: _Spec) -> None:
    content = structure.content
    if spec is _DIN:
        din = Din(content[:5], content[5:7], content[7:13])
        check_flags(din, content[13:])
        return
    if spec.ds == "003":
        parse_product_code(content)
        return
    rules = ((spec.alphabet, spec.description),) * len(content)
    if spec.ds == "002":  # only the ABO/RhD pair may use lowercase (ST-001 §2.4.2)
        rules = rules[:2] + (_UD,) * 2
    check_chars(spec.name, content, rules)
    if spec.ds in {"004", "005", "006", "007", "008", "009"}:
        decode_datetime(content)
    elif spec.ds == "023" and content[:2] == "00":
        raise ScanError(
            ScanErrorCode.BAD_COMPOUND,
            f"compound message header '=+{content}' announces 00 data structures",
        )


def _read_at(body: str, pos: int) -> tuple[Structure, int]:
    """Read and validate the structure at `pos`; return it and the position after it."""
    identifier, spec = _identify(body, pos)
    start = pos + (1 if spec is _DIN else len(identifier))
    length = _content_length(body, start, spec, pos)
    content = body[start : start + length]
    _refuse_cut(content, spec, pos, start, length)
    structure = Structure(spec.ds, identifier, content)
    try:
        _validate(structure, spec)
    except ScanError as error:
        raise ScanError(
            error.code,
            f"{error.detail}, in the {spec.name} {_quote(body[pos : start + length])} "
            f"at character {pos + 1} of the scan",
        ) from error
    return structure, start + length


def parse_structure(text: str) -> Structure:
    """Read exactly one data structure (no scanner clean-up); used to validate encoder input."""
    if not text:
        raise ScanError(ScanErrorCode.EMPTY, "the data structure is empty")
    if text[0] not in "=&":
        raise ScanError(
            ScanErrorCode.UNKNOWN_DATA_IDENTIFIER,
            f"{_quote(text)} does not begin with a data identifier ('=' or '&')",
        )
    structure, end = _read_at(text, 0)
    if end < len(text):
        raise ScanError(
            ScanErrorCode.TRAILING_DATA,
            f"unexpected {_quote(text[end:])} from character {end + 1} after the "
            f"{_NAMES[structure.ds]} {_quote(text[:end])}",
        )
    return structure


def _split_concatenated(body: str) -> list[tuple[int, Structure]]:
    located: list[tuple[int, Structure]] = []
    pos = 0
    while pos < len(body):
        if body[pos] not in "=&":
            previous = _NAMES[located[-1][1].ds]
            raise ScanError(
                ScanErrorCode.TRAILING_DATA,
                f"unexpected {_quote(body[pos:])} from character {pos + 1} after the {previous}; "
                f"the scan must end there or continue with a data identifier ('=' or '&')",
            )
        structure, end = _read_at(body, pos)
        if structure.ds == "023":
            raise ScanError(
                ScanErrorCode.BAD_COMPOUND,
                f"compound message header {_quote(body[pos:end])} at character {pos + 1}: "
                f"a compound message header may only begin the scan",
            )
        located.append((pos, structure))
        pos = end
    return located


def _split_compound(body: str) -> list[tuple[int, Structure]]:
    header, pos = _read_at(body, 0)
    announced = int(header.content[:2])
    intro = f"compound message header '=+{header.content}' announces {announced} data structures"
    located = [(0, header)]
    for number in range(1, announced + 1):
        if pos >= len(body):
            raise ScanError(
                ScanErrorCode.BAD_COMPOUND,
                f"{intro} but the scan ends after {number - 1} (at character {pos})",
            )
        if body[pos] not in "=&":
            raise ScanError(
                ScanErrorCode.BAD_COMPOUND,
                f"{intro}; data structure {number} should begin at character {pos + 1} "
                f"with '=' or '&' but begins with {show(body[pos])}",
            )
        structure, end = _read_at(body, pos)
        if structure.ds == "023":
            raise ScanError(
                ScanErrorCode.BAD_COMPOUND,
                f"{intro}; data structure {number} at character {pos + 1} is another "
                f"compound message header",
            )
        located.append((pos, structure))
        pos = end
    if pos < len(body):
        code = ScanErrorCode.BAD_COMPOUND if body[pos] in "=&" else ScanErrorCode.TRAILING_DATA
        raise ScanError(
            code,
            f"{intro} but more data follows from character {pos + 1}: {_quote(body[pos:])}",
        )
    return located


def _refuse_repeats(located: list[tuple[int, Structure]]) -> None:
    seen: dict[str, tuple[int, Structure]] = {}
    for pos, structure in located:
        fact = _SAME_FACT.get(structure.ds, _NAMES[structure.ds])
        if fact in seen:
            first_pos, first = seen[fact]
            raise ScanError(
                ScanErrorCode.BAD_COMPOUND,
                f"the {fact} appears twice in one scan: data structure {first.ds} at character "
                f"{first_pos + 1} and data structure {structure.ds} at character {pos + 1}",
            )
        seen[fact] = (pos, structure)


def _keyboard_entry(raw: str, body: str) -> Scan:
    # Letters and digits, spaces allowed: a DIN typed from the label text, with or without
    # its K, as printed ("X9999 26 000003 T") or in lower case; read whole by read_din.
    compact = body.replace(" ", "")
    if _KEYBOARD_ENTRY.fullmatch(compact) and (len(compact) in (13, 14)
                                               or (compact == compact.upper()
                                                   and not compact.isdigit())):
        return Scan(raw, (), read_din(body), None, None, None, None, None, compound=False)
    raise ScanError(
        ScanErrorCode.UNKNOWN_DATA_IDENTIFIER,
        f"scan {_quote(body)} does not begin with an ISBT 128 data identifier ('=' or '&') "
        f"and is not a keyboard-entered DIN (13 characters, or 14 with the check character)"
        f"{_looks_like(compact)}",
    )


def _looks_like(compact: str) -> str:
    """What a typed entry that is no DIN seems to be, so the person knows what to do."""
    if compact.isdigit():
        return (f": {len(compact)} digits read like a record number (an MRN?), not a "
                "label's code; scan the label's barcode")
    return ""


def _date(found: Mapping[str, Structure], with_time: str, date_only: str) -> datetime | None:
    structure = found.get(with_time) or found.get(date_only)
    return decode_datetime(structure.content) if structure else None


def parse_scan(text: str) -> Scan:
    """Validate and interpret one scanner read or keyboard entry; raises ScanError."""
    body = text.strip()  # keyboard-wedge scanners append Enter (CR and/or LF)
    prefix = _SYMBOLOGY_ID.match(body)  # AIM symbology identifier, e.g. "]C0" or "]d2"
    if prefix:
        body = body[prefix.end() :]
    symbology = prefix.group() if prefix else None
    if not body:
        raise ScanError(ScanErrorCode.EMPTY, f"the scan {text!r} contains no data")
    # Before anything quotes the scan back: a look-alike ('=Х' with a Cyrillic Х) would
    # otherwise be reported as something it only appears to be.
    refuse_odd_characters("the scan", body)
    if body[0] not in "=&":
        return _keyboard_entry(text, body)
    located = _split_compound(body) if body.startswith("=+") else _split_concatenated(body)
    _refuse_repeats(located)
    found = {structure.ds: structure for _, structure in located}
    din = flags = None
    if "001" in found:
        content = found["001"].content
        din, flags = Din(content[:5], content[5:7], content[7:13]), content[13:]
    product = found.get("003")
    patient = found.get("025")
    serial = found.get("L01")
    return Scan(
        raw=text,
        structures=tuple(structure for _, structure in located),
        din=din,
        flags=flags,
        product_code=parse_product_code(product.content) if product else None,
        expiry=_date(found, "005", "004"),
        collection=_date(found, "007", "006"),
        patient_id=patient.content[4:] if patient else None,
        compound=located[0][1].ds == "023",
        print_serial=int(serial.content) if serial else None,
        symbology=symbology,
    )
