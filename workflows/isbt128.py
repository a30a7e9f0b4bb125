"""ISBT 128 (ST-001 v6.2.2) for the LIMS: DIN, check characters, encoders and the scan parser.

This is the public module; the work is split across `isbt128_core` (DIN, product code, dates)
and `isbt128_scan` (reading scans). Everything raises `ScanError`, a `ValueError` carrying a
`ScanErrorCode`, except where a number or count is out of range (`make_din` year/sequence,
years outside 2000–2999, patient ID length, structure count), which raises a plain
`ValueError`. Pure Python: no database, web framework or `lims` imports.

Only the algorithms and grammar live here. Product description codes and the facility's FIN
are licensed ICCBBA data and must come from configuration, never from this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from workflows.isbt128_core import (
    DIGITS,
    Din,
    ProductCode,
    ScanError,
    ScanErrorCode,
    check_character,
    check_chars,
    check_flags,
    check_length,
    decode_datetime,
    encode_datetime,
    make_din,
    parse_din,
    parse_product_code,
    read_din,
    type3_flags,
)
from workflows.isbt128_scan import PRINT_SERIAL_DI, Scan, Structure, parse_scan, parse_structure

__all__ = [
    "PRINT_SERIAL_DI",
    "Din",
    "ProductCode",
    "Scan",
    "ScanError",
    "ScanErrorCode",
    "Structure",
    "check_character",
    "decode_datetime",
    "encode_collection",
    "encode_compound",
    "encode_din",
    "encode_expiry",
    "encode_patient_id",
    "encode_print_serial",
    "encode_product_code",
    "make_din",
    "parse_din",
    "parse_product_code",
    "parse_scan",
    "parse_structure",
    "read_din",
    "type3_flags",
]


def encode_din(din: Din, flags: str = "00") -> str:
    """DS 001 `=αppppyynnnnnnff`. Flags 60–96 must be the DIN's Type 3 check (see type3_flags)."""
    check_flags(din, flags)
    return "=" + din.text + flags


def encode_product_code(code: ProductCode) -> str:
    """DS 003 `=<αooootds`; the ProductCode was validated when it was built."""
    return "=<" + code.text


def encode_expiry(when: datetime) -> str:
    """DS 005 `&>cyyjjjhhmm` from the wall-clock fields of `when` (seconds are dropped).

    Callers convert to the facility's time zone first: the structure has no zone, and
    converting here would silently move the expiry printed beside it.
    """
    return "&>" + encode_datetime(when)


def encode_collection(when: datetime) -> str:
    """DS 007 `&*cyyjjjhhmm` from the wall-clock fields of `when` (see encode_expiry)."""
    return "&*" + encode_datetime(when)


def encode_print_serial(serial: int) -> str:
    """The laboratory's local structure `&snnnnnn`: which print of a container's label this is.

    ST-001 §2.5.1 reserves '&' followed by a lowercase letter for national or local use;
    another site's reader ignores or refuses it, which is right: it means nothing there.
    """
    if not 1 <= serial <= 999_999:
        raise ValueError(f"a label print serial is 1–999999, not {serial}")
    return f"{PRINT_SERIAL_DI}{serial:06d}"


def encode_patient_id(patient_id: str, location: str = "00") -> str:
    """DS 025 `&#aallxx…`: location code, 2-digit length, then letters and digits only."""
    if not 1 <= len(patient_id) <= 99:
        raise ValueError(
            f"patient identification number must have 1–99 characters, has {len(patient_id)}"
        )
    check_length("patient location code", location, 2)
    structure = f"&#{location}{len(patient_id):02d}{patient_id}"
    parse_structure(structure)
    return structure


def encode_compound(structures: Sequence[str], reference: str = "000") -> str:
    """DS 023 `=+aabbb` followed by the complete structures (each with its identifier).

    `reference` is an ICCBBA RT017 message number, or "000" for the undefined sequence that
    ICCBBA now encourages; this module cannot check an RT017 order, so it only checks syntax.
    """
    if isinstance(structures, str):
        raise TypeError("encode_compound takes a sequence of structures, not one string")
    if not 1 <= len(structures) <= 99:
        raise ValueError(f"a compound message holds 1–99 data structures, not {len(structures)}")
    check_length("compound message reference", reference, 3)
    check_chars("compound message reference", reference, ((DIGITS, "a digit"),) * 3)
    for number, text in enumerate(structures, start=1):
        try:
            structure = parse_structure(text)
        except ScanError as error:
            raise ScanError(
                error.code, f"structure {number} of {len(structures)}: {error.detail}"
            ) from error
        if structure.ds == "023":
            raise ScanError(
                ScanErrorCode.BAD_COMPOUND,
                f"structure {number} of {len(structures)} is itself a compound message header",
            )
    message = f"=+{len(structures):02d}{reference}" + "".join(structures)
    parse_scan(message)  # the reader's own rules (e.g. no repeated structure) must accept it
    return message
