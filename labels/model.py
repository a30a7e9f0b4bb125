"""What a label says: a frozen description, independent of how it is printed.

A `Label` is built by the LIMS from the product record; the renderers (`pdf`,
`zpl`) turn it into ink. Which elements a label carries depends on its kind
(standards.md §7 and ISBT 128 ST-001 §7.3): `elements_for` is the single place
that decides it, so the PDF, the ZPL and `barcodes` always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workflows.isbt128 import (
    Din,
    ProductCode,
    encode_collection,
    encode_compound,
    encode_din,
    encode_expiry,
    encode_print_serial,
    encode_product_code,
)


class LabelKind(StrEnum):
    COLLECTION = "collection"  # partial label on the marrow bag, printed before the harvest
    HARVEST = "harvest"  # the collection label again once the harvest is recorded, its facts in
    IN_PROCESS = "in_process"  # each intermediate container in the lab
    QC_SAMPLE = "qc_sample"  # small partial label on a QC tube or vial
    FINAL = "final"  # the product ready for release
    ISSUE = "issue"  # final content plus the custody hand-off block


class Element(StrEnum):
    """Label elements; numbers refer to the rows of standards.md §7."""

    DIN_BARCODE = "din_barcode"  # row 1
    DIN_TEXT = "din_text"  # row 2: eye-readable DIN, Type 1/2 flags, boxed K
    PRODUCT_CODE_BARCODE = "product_code_barcode"  # rows 3-5
    PRODUCT_CODE_TEXT = "product_code_text"  # rows 3-5
    PRODUCT_DESCRIPTION = "product_description"  # row 3
    CONTAINER = "container"
    AUTOLOGOUS = "autologous"  # row 7
    STATEMENTS = "statements"  # rows 8, 9, 17, 19, 20 (caller's choice)
    EXPIRY = "expiry"  # row 10
    COLLECTION = "collection"  # row 11
    PATIENT_NAME = "patient_name"  # row 12
    PATIENT_IDENTIFIERS = "patient_identifiers"  # row 12
    SUBJECT_ID = "subject_id"
    PROCESSING_FACILITY = "processing_facility"  # row 13
    COLLECTION_FACILITY = "collection_facility"  # row 14
    STORAGE = "storage"  # rows 15, 18
    VOLUME = "volume"  # row 16
    DOSE = "dose"  # row 16
    ANTICOAGULANT = "anticoagulant"  # row 16: collection label, blank until the harvest
    DATA_MATRIX = "data_matrix"  # row 1/3/10 in one 2-D symbol for the bench scanner
    ISSUE_BLOCK = "issue_block"  # custody hand-off


_COLLECTION: Final = frozenset(
    {
        Element.DIN_BARCODE,
        Element.DIN_TEXT,
        Element.PRODUCT_CODE_BARCODE,
        Element.PRODUCT_CODE_TEXT,
        Element.PRODUCT_DESCRIPTION,
        Element.VOLUME,
        Element.ANTICOAGULANT,
        Element.COLLECTION,
        Element.PATIENT_NAME,
        Element.PATIENT_IDENTIFIERS,
        Element.AUTOLOGOUS,
        Element.DATA_MATRIX,
    }
)
_IN_PROCESS: Final = frozenset(
    {
        Element.DIN_BARCODE,
        Element.DIN_TEXT,
        Element.PRODUCT_CODE_BARCODE,
        Element.PRODUCT_CODE_TEXT,
        Element.PRODUCT_DESCRIPTION,
        Element.CONTAINER,
        Element.EXPIRY,
        Element.PATIENT_NAME,
        Element.PATIENT_IDENTIFIERS,
        Element.AUTOLOGOUS,
        Element.DATA_MATRIX,
    }
)
# ISBT 128 §7.3.1: a label too small for every code keeps the DIN bar code and
# the text of DIN, product code and division; the 2-D symbol adds the product
# code electronically. Only the trial subject ID identifies the patient here.
_QC_SAMPLE: Final = frozenset(
    {
        Element.DIN_BARCODE,
        Element.DIN_TEXT,
        Element.PRODUCT_CODE_TEXT,
        Element.CONTAINER,
        Element.SUBJECT_ID,
        Element.DATA_MATRIX,
    }
)
_FINAL: Final = frozenset(
    _IN_PROCESS
    | {
        Element.COLLECTION,
        Element.SUBJECT_ID,
        Element.STATEMENTS,
        Element.PROCESSING_FACILITY,
        Element.COLLECTION_FACILITY,
        Element.STORAGE,
        Element.VOLUME,
        Element.DOSE,
    }
)
_ELEMENTS: Final = {
    LabelKind.COLLECTION: _COLLECTION,
    LabelKind.HARVEST: _COLLECTION,
    LabelKind.IN_PROCESS: _IN_PROCESS,
    LabelKind.QC_SAMPLE: _QC_SAMPLE,
    LabelKind.FINAL: _FINAL,
    LabelKind.ISSUE: frozenset(_FINAL | {Element.ISSUE_BLOCK}),
}


def elements_for(kind: LabelKind) -> frozenset[str]:
    """The elements a label of this kind carries (values of `Element`)."""
    return _ELEMENTS[LabelKind(kind)]


@dataclass(frozen=True)
class LabelTexts:
    """Statement wordings; a facility configures them (standards.md §1.8: unverified)."""

    autologous: str = "FOR AUTOLOGOUS USE ONLY"
    not_evaluated: str = "NOT EVALUATED FOR INFECTIOUS SUBSTANCES"
    investigational: str = (
        "Caution: New Drug – Limited by Federal (or United States) law to investigational use"
    )
    storage: str = "Store at 2–8 °C. Do not irradiate. Do not use leukoreduction filters."
    identify_recipient: str = "Properly identify intended recipient and product."
    # Markings across an in-process label: the final container before QA release, and the
    # CD133-negative fraction, which is kept for accountability and never given.
    quarantine: str = "QUARANTINE – NOT RELEASED FOR USE"
    not_for_infusion: str = "NOT FOR INFUSION"
    # 21 CFR 1271.90(c)(3)-(4) and the 1271.3(h) legend [UNVERIFIED wording, standards.md §3.4].
    advise_patient: str = "WARNING: Advise patient of communicable disease risks"
    reactive_results: str = "WARNING: Reactive test results for"
    biohazard: str = "BIOHAZARD"
    # Printed after the storage range the protocol sets (labels.statements.storage_statement).
    handling: str = "Do not irradiate. Do not use leukoreduction filters."
    # What a blinded trial's final label calls the product: the same words for both arms.
    blinded_description: str = "BONE MARROW CELLS | investigational product"

    def final_statements(
        self, *, not_evaluated: bool, investigational: bool = True
    ) -> tuple[str, ...]:
        """The conditional statements for a final label, in print order."""
        chosen: list[str] = []
        if not_evaluated:
            chosen.append(self.not_evaluated)
        if investigational:
            chosen.append(self.investigational)
        chosen.append(self.identify_recipient)
        return tuple(chosen)


DEFAULT_TEXTS: Final = LabelTexts()

# Fixed marks: they are about the label itself, not regulated product statements.
REPRINT_MARK: Final = "REPRINT"
PLACEHOLDER_NOTE: Final = "PLACEHOLDER PRODUCT CODE – not ICCBBA-assigned"
ISSUED_MARK: Final = "ISSUED"


@dataclass(frozen=True)
class IssueRecord:
    """The custody hand-off printed on an issue label; `None` fields print as blanks."""

    issued_at: datetime | None = None
    issued_by: str | None = None
    destination: str | None = None
    transport: str | None = None


@dataclass(frozen=True)
class Label:
    kind: LabelKind
    din: Din
    product_code: ProductCode
    product_description: str  # "HPC, MARROW | CD133 enriched": class | attributes
    time_zone: str  # IANA name of the facility's zone, e.g. "Asia/Tehran"
    patient_name: str
    patient_identifiers: tuple[tuple[str, str], ...]  # (("MRN", "123456"), ("DOB", ...))
    subject_id: str
    processing_facility: tuple[str, ...]  # name, then address lines
    collection_facility: str
    container_label: str  # "Marrow bag", "MNC", "CD133+ target"
    flags: str = "00"  # "07"/"10" QC tubes, "12" affixed partial label
    collection_at: datetime | None = None
    expires_at: datetime | None = None
    autologous_statement: str = DEFAULT_TEXTS.autologous
    storage_temperature: str = DEFAULT_TEXTS.storage
    volume_ml: float | None = None
    anticoagulant: str | None = None  # "heparin, 20 ml"; None prints a blank to fill in
    dose_text: str | None = None
    statements: tuple[str, ...] = ()
    # Printed in a black band under the autologous one (quarantine, not for infusion).
    markings: tuple[str, ...] = ()
    # Which print of this container's label this is; carried in the 2-D code (local
    # structure &s) and printed beside it, so a superseded label is told apart by scan.
    print_serial: int | None = None
    reprint: bool = False
    placeholder_codes: bool = False
    issue: IssueRecord | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LabelKind(self.kind))
        if len(self.flags) != 2 or not self.flags.isalnum():
            raise ValueError(f"flags must be two characters, got {self.flags!r}")
        encode_din(self.din, self.flags)  # refuses flags outside ST-001, or a wrong Type 3
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc
        for name in ("collection_at", "expires_at"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.issue and self.issue.issued_at and self.issue.issued_at.utcoffset() is None:
            raise ValueError("issue.issued_at must be timezone-aware")

    @property
    def elements(self) -> frozenset[str]:
        return elements_for(self.kind)

    @property
    def din_data(self) -> str:
        """The DIN bar-code string: "=" + DIN + flags."""
        return encode_din(self.din, self.flags)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def shows(self, element: Element) -> bool:
        """Whether this label prints `element` (its kind carries it and the data is there)."""
        if element not in self.elements:
            return False
        present = {
            Element.EXPIRY: self.expires_at is not None,
            Element.COLLECTION: self.collection_at is not None,
            Element.VOLUME: self.volume_ml is not None,
            Element.DOSE: self.dose_text is not None,
            Element.STATEMENTS: bool(self.statements),
        }
        return present.get(element, True)


@dataclass(frozen=True)
class Barcode:
    symbology: Literal["code128", "datamatrix"]
    data: str  # exactly what a scanner returns
    caption: str


def print_serial_text(label: Label) -> str:
    """How the print serial reads on the label ("Print 3"): the label to keep or remove."""
    return f"Print {label.print_serial}"


def _local(label: Label, moment: datetime) -> datetime:
    # ISBT dates are the facility's local date and time, as printed beside them.
    return moment.astimezone(label.zone)


def structures(label: Label) -> tuple[str, ...]:
    """The ISBT 128 data structures in the label's Data Matrix, in order."""
    found = [label.din_data, encode_product_code(label.product_code)]
    if label.shows(Element.EXPIRY) and label.expires_at is not None:
        found.append(encode_expiry(_local(label, label.expires_at)))
    if label.shows(Element.COLLECTION) and label.collection_at is not None:
        found.append(encode_collection(_local(label, label.collection_at)))
    if label.print_serial is not None:
        found.append(encode_print_serial(label.print_serial))
    return tuple(found)


def barcodes(label: Label) -> tuple[Barcode, ...]:
    """Every symbol printed on the label, with the exact string it must scan as."""
    found = [Barcode("code128", label.din_data, "DIN")]
    if label.shows(Element.PRODUCT_CODE_BARCODE):
        found.append(Barcode("code128", encode_product_code(label.product_code), "Product code"))
    if label.shows(Element.EXPIRY) and label.expires_at is not None:
        found.append(Barcode("code128", encode_expiry(_local(label, label.expires_at)), "Expiry"))
    if label.shows(Element.DATA_MATRIX):
        found.append(Barcode("datamatrix", encode_compound(structures(label)), "Compound"))
    return tuple(found)
