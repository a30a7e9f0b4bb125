"""Shared helpers for the label tests: a label factory, a rasteriser and a ZPL reader."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pypdfium2
import zxingcpp
from PIL import Image

from labels import DEFAULT_TEXTS, Label, LabelKind
from workflows.isbt128 import Din, ProductCode

HARVEST_END = datetime(2026, 11, 25, 8, 10, tzinfo=UTC)
EXPIRY = datetime(2026, 11, 25, 20, 10, tzinfo=UTC)

# Placeholder 'D' product codes of seed/demo.toml: not ICCBBA-assigned.
PRODUCTS = {
    "marrow_bag": (ProductCode("D0001", "1", "00"), "HPC, MARROW", "Marrow bag"),
    "mnc": (ProductCode("D0003", "1", "00"), "MNC, MARROW | Ficoll", "MNC"),
    "cd133_target": (
        ProductCode("D0004", "1", "00"),
        "HPC, MARROW | CD133 enriched",
        "CD133+ target",
    ),
    "final_cd133": (
        ProductCode("D0006", "1", "00"),
        "HPC, MARROW | CD133 enriched",
        "Final syringe",
    ),
    "final_bm_mnc": (
        ProductCode("D0007", "1", "00"),
        "MNC, MARROW | Ficoll density gradient",
        "Final syringe",
    ),
}


def make_label(
    kind: LabelKind = LabelKind.FINAL,
    product: str = "final_cd133",
    sequence: int = 123,
    **overrides: object,
) -> Label:
    """A label for subject NCT00713934-017 (FIN X9999 is fictitious); overrides replace fields."""
    code, description, container = PRODUCTS[product]
    label = Label(
        kind=kind,
        din=Din("X9999", "26", f"{sequence:06d}"),
        product_code=code,
        product_description=description,
        time_zone="Asia/Tehran",
        patient_name="AHMADI, Fatemeh",
        patient_identifiers=(("MRN", "123456"), ("DOB", "1961-03-04")),
        subject_id="NCT00713934-017",
        processing_facility=("Cell Therapy Laboratory (demo)", "1 Example Street, Tehran"),
        collection_facility="Operating Theatre 2, Example University Hospital",
        container_label=container,
        collection_at=HARVEST_END,
        expires_at=EXPIRY,
        volume_ml=10.0,
        dose_text="4.20 × 10⁶ viable CD133+ cells (0.0600 × 10⁶ cells/kg)",
        statements=DEFAULT_TEXTS.final_statements(not_evaluated=True),
        placeholder_codes=True,
    )
    return replace(label, **overrides)  # type: ignore[arg-type]


def rasterise(pdf: bytes, dpi: int = 300) -> list[Image.Image]:
    """Every page as a greyscale image at `dpi`."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()


def decoded(image: Image.Image) -> Counter[str]:
    """Texts of every Code 128 and Data Matrix symbol zxing-cpp finds."""
    formats = zxingcpp.barcode_formats_from_str("Code128,DataMatrix")
    return Counter(b.text for b in zxingcpp.read_barcodes(image, formats=formats))


# --- a reader for the ZPL we write: enough of ZPL II to check field data --------------------


@dataclass(frozen=True)
class ZplField:
    commands: tuple[str, ...]  # e.g. ("FO", "BY", "BC", "FH"), in order
    params: dict[str, str]  # last parameters seen for each command
    data: str  # ^FD content after ^FH hex decoding (bytes decoded as UTF-8)

    @property
    def kind(self) -> str:
        for command in self.commands:
            if command in ("BC", "BX", "GB", "A0", "FX", "GF"):
                return command
        return "?"


_COMMAND = re.compile(r"\^([A-Z0-9@]{2})")


def zpl_fields(zpl: str) -> list[ZplField]:
    """Split a format into fields (each ends with ^FS) and decode ^FH hex escapes."""
    body = zpl.strip()
    assert body.startswith("^XA") and body.endswith("^XZ"), "format must be ^XA … ^XZ"
    assert "~" not in body, "no control commands (or raw tildes) inside a label format"
    fields: list[ZplField] = []
    commands: list[str] = []
    params: dict[str, str] = {}
    pos = 0
    while pos < len(body):
        if body[pos].isspace():  # newlines between commands are ignored by the printer
            pos += 1
            continue
        match = _COMMAND.match(body, pos)
        assert match, f"expected a command at {body[pos : pos + 20]!r}"
        name = match.group(1)
        pos = match.end()
        if name == "FD" or name == "FX":
            end = body.index("^FS", pos)
            raw = body[pos:end]
            assert "^" not in raw
            data = _unhex(raw) if "FH" in commands and name == "FD" else raw
            fields.append(ZplField(tuple([*commands, name]), dict(params), data))
            commands, params = [], {}
            pos = end + 3
            continue
        if name == "FS":  # a field without data, e.g. a ^GB box
            fields.append(ZplField(tuple(commands), dict(params), ""))
            commands, params = [], {}
            continue
        nxt = body.find("^", pos)
        nxt = len(body) if nxt < 0 else nxt
        params[name] = body[pos:nxt].strip()
        if name not in ("XA", "XZ", "CI", "PW", "LL", "LH", "PQ"):
            commands.append(name)
        pos = nxt
    return fields


def _unhex(raw: str) -> str:
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == "_":
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.extend(raw[i].encode("ascii"))
            i += 1
    return out.decode("utf-8")


_B_INVOCATIONS = {"0": ">", "<": "^", "=": "~"}


def code128_scan(field: str) -> str:
    """What a scanner reads from `^BC` mode-N field data (ZPL invocation codes applied)."""
    starts = {">9": "A", ">:": "B", ">;": "C"}
    subset = starts.get(field[:2], "B")
    i = 2 if field[:2] in starts else 0
    out: list[str] = []
    while i < len(field):
        if field[i] == ">":
            code = field[i + 1]
            i += 2
            if code in _B_INVOCATIONS and subset != "C":
                out.append(_B_INVOCATIONS[code])
            elif code == "5":
                subset = "C"
            elif code == "6":
                subset = "B"
            else:
                raise AssertionError(f"unexpected invocation >{code}")
        elif subset == "C":
            pair = field[i : i + 2]
            assert len(pair) == 2 and pair.isdigit(), f"subset C needs digit pairs: {field!r}"
            out.append(pair)
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def code128_symbols(field: str) -> int:
    """Number of Code 128 symbol characters (start and check included, stop excluded)."""
    count, i = 2, 0  # start + check
    subset = "B"
    if field[:2] in (">9", ">:", ">;"):
        subset = {">9": "A", ">:": "B", ">;": "C"}[field[:2]]
        i = 2
    while i < len(field):
        if field[i] == ">":
            code = field[i + 1]
            subset = {"5": "C", "6": "B"}.get(code, subset)
            i += 2
        else:
            i += 2 if subset == "C" else 1
        count += 1
    return count


def datamatrix_scan(field: str, escape: str) -> str:
    """What a scanner reads from `^BX` quality-200 data with escape character `escape`."""
    out: list[str] = []
    i = 0
    while i < len(field):
        if field[i] == escape:
            assert field[i + 1] == escape, f"unexpected escape sequence in {field!r}"
            out.append(escape)
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)
