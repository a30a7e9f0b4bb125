"""Chain of identity: which container each step handles, and the check of a scanned label.

A scan is accepted only when its DIN check is valid and the DIN, the patient, the
container (product code + flags) and the container's stage are exactly those the
step expects. The checks run in that order so the message names the most
serious mismatch first (another patient's bag before a wrong stage).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from workflows.characters import name_odd_characters
from workflows.errors import ErrorCode, IdentityMismatch
from workflows.isbt128 import (
    Scan,
    ScanError,
    encode_compound,
    encode_din,
    encode_print_serial,
    encode_product_code,
    parse_din,
    parse_product_code,
    parse_scan,
    read_din,
)
from workflows.product import Arm, Trigger


class ContainerKind(StrEnum):
    MARROW_BAG = "marrow_bag"  # collection bag filled in the OR
    RBC_REDUCED = "rbc_reduced"  # leukocyte-rich fraction after sedimentation
    MNC = "mnc"  # Ficoll mononuclear cells
    CD133_TARGET = "cd133_target"  # CliniMACS positive fraction
    CD133_NEGATIVE = "cd133_negative"  # CliniMACS negative fraction, kept for accountability
    FINAL_PRODUCT = "final_product"  # syringe or bag for injection
    QC_SAMPLE = "qc_sample"  # tube drawn from the final product for QC
    RETENTION_SAMPLE = "retention_sample"  # drawn at formulation, kept in storage


KIND_LABELS: Mapping[ContainerKind, str] = {
    ContainerKind.MARROW_BAG: "marrow collection bag",
    ContainerKind.RBC_REDUCED: "RBC-reduced bag",
    ContainerKind.MNC: "MNC container",
    ContainerKind.CD133_TARGET: "CD133+ target fraction",
    ContainerKind.CD133_NEGATIVE: "CD133 negative fraction",
    ContainerKind.FINAL_PRODUCT: "final product",
    ContainerKind.QC_SAMPLE: "QC sample tube",
    ContainerKind.RETENTION_SAMPLE: "retention sample",
}

def container_words(kind: str | None) -> str:
    """A container kind as people read it: "cd133_target" -> "CD133+ target fraction"."""
    try:
        return KIND_LABELS[ContainerKind(str(kind))]
    except ValueError:
        return str(kind or "—").replace("_", " ")


K = ContainerKind
_INPUT: Mapping[str, ContainerKind] = {
    Trigger.HARVEST: K.MARROW_BAG,
    Trigger.RECEIVE: K.MARROW_BAG,
    Trigger.SEDIMENT: K.MARROW_BAG,
    Trigger.ISOLATE_MNC: K.RBC_REDUCED,
    Trigger.ENRICH: K.MNC,
    Trigger.ISSUE: K.FINAL_PRODUCT,
    Trigger.ADMINISTER: K.FINAL_PRODUCT,
}

# Containers that come to exist at each step; the input is consumed by these steps.
STEP_OUTPUTS: Mapping[str, tuple[ContainerKind, ...]] = {
    Trigger.SEDIMENT: (K.RBC_REDUCED,),
    Trigger.ISOLATE_MNC: (K.MNC,),
    Trigger.ENRICH: (K.CD133_TARGET, K.CD133_NEGATIVE),
    Trigger.FORMULATE: (K.FINAL_PRODUCT,),
}

# QC sample tubes carry the final product's code with ISBT flags: 07 test tube,
# 10 bacterial testing, then locally defined (Type 2) flags 21.. for more tubes.
QC_SAMPLE_FLAGS = ("07", "10", *(str(n) for n in range(21, 60)))


# Steps where the patient's wristband is scanned beside the container's label, both naming
# the same patient: the harvest (wristband against the collection bag) and administration.
WRISTBAND_STEPS = frozenset({Trigger.HARVEST.value, Trigger.ADMINISTER.value})


def input_kind(step: str, arm: str) -> ContainerKind | None:
    """The container a technician scans to perform `step` (None: the step handles none)."""
    if step == Trigger.FORMULATE:
        return K.CD133_TARGET if arm == Arm.CD133 else K.MNC
    return _INPUT.get(step)


def product_code_key(kind: ContainerKind | str, arm: str) -> str:
    """Key of a container kind in the protocol's product-code table (final codes differ by arm)."""
    if kind in (K.FINAL_PRODUCT, K.QC_SAMPLE, K.RETENTION_SAMPLE):
        return "final_cd133" if arm == Arm.CD133 else "final_bm_mnc"
    return str(kind)


@dataclass(frozen=True)
class ExpectedContainer:
    din: str
    subject_id: str
    kind: ContainerKind
    product_code: str
    flags: str = "00"


@dataclass(frozen=True)
class DinOwner:
    din: str
    subject_id: str


def check_container_scan(
    raw: str,
    expected: ExpectedContainer,
    *,
    owner_of: Callable[[str], DinOwner | None],
    kind_of: Callable[[str, str], ContainerKind | None],
) -> Scan:
    """Return the parsed scan if it is exactly the expected container, else raise.

    `owner_of(din)` names the patient a DIN belongs to; `kind_of(product_code, flags)`
    names the stage of a container of this product with that code.
    """
    want = f"{KIND_LABELS[expected.kind]} of DIN {expected.din}"
    scan = _parse(raw, want)
    if scan.din is None:
        raise _mismatch(ErrorCode.COI_BAD_SCAN, "the scan carries no DIN", raw, want)
    if scan.din.text != expected.din:
        owner = owner_of(scan.din.text)
        if owner is None:
            raise _mismatch(ErrorCode.COI_UNKNOWN_DIN,
                            f"DIN {scan.din.text} is not known to this laboratory", raw, want)
        if owner.subject_id != expected.subject_id:
            raise _mismatch(ErrorCode.COI_WRONG_PATIENT,
                            f"WRONG PATIENT: this container belongs to subject {owner.subject_id}, "
                            f"not {expected.subject_id}", raw, want)
        raise _mismatch(ErrorCode.COI_WRONG_DIN,
                        f"DIN {scan.din.text} is another harvest of subject {owner.subject_id}; "
                        f"this step expects DIN {expected.din}", raw, want)
    if scan.product_code is None:
        raise _mismatch(ErrorCode.COI_CONTAINER_REQUIRED,
                        "the scan identifies the donation but not the container: scan the "
                        "container's 2-D code (DIN + product code)", raw, want)
    flags = scan.flags if scan.flags is not None and not _is_type3(scan.flags) else "00"
    if scan.product_code.text != expected.product_code or flags != expected.flags:
        kind = kind_of(scan.product_code.text, flags)
        # The product code names the stage; the same code with other flags is another
        # container of the same stage (a QC sample tube beside the final product).
        same_stage = scan.product_code.text == expected.product_code
        if kind is not None and kind != expected.kind and not same_stage:
            raise _mismatch(ErrorCode.COI_WRONG_STAGE,
                            f"this is the {KIND_LABELS[kind]}; this step needs the "
                            f"{KIND_LABELS[expected.kind]}", raw, want)
        if kind is not None and kind != expected.kind:
            raise _mismatch(ErrorCode.COI_WRONG_CONTAINER,
                            f"this is a {KIND_LABELS[kind]}, not the "
                            f"{KIND_LABELS[expected.kind]}", raw, want)
        raise _mismatch(ErrorCode.COI_WRONG_CONTAINER,
                        f"container {scan.product_code.text}/{flags} is not the expected "
                        f"{KIND_LABELS[expected.kind]} ({expected.product_code}/{expected.flags})",
                        raw, want)
    return scan


def check_wristband(raw: str, *, expected_patient_id: str, subject_id: str) -> None:
    """Bedside check: the wristband must carry this patient's identification number."""
    want = f"wristband of subject {subject_id}"
    typed = _not_a_wristband_code(raw, expected_patient_id)
    if typed is not None:
        raise _mismatch(ErrorCode.COI_BAD_SCAN, typed, raw, want)
    scan = _parse(raw, want)
    if scan.patient_id is None:
        what = (f"a product label (DIN {scan.din.text})" if scan.din is not None
                else "another label's code")
        raise _mismatch(ErrorCode.COI_BAD_SCAN, f"this is {what}, not the patient's "
                        f"wristband: {SCAN_THE_WRISTBAND}", raw, want)
    if scan.patient_id != expected_patient_id:
        raise _mismatch(ErrorCode.COI_WRONG_PATIENT,
                        "WRONG PATIENT: the wristband does not belong to the patient this "
                        "product was made for", raw, want)


SCAN_THE_WRISTBAND = "scan the barcode on the patient's wristband"


def _not_a_wristband_code(raw: str, mrn: str) -> str | None:
    """Why `raw` is not a wristband barcode at all (typed text: an MRN, a DIN, a name), in
    the words of what it looks like; None when it reads like a barcode (ISBT 128 '&#')."""
    text = raw.strip()
    if not text or text[0] in "=&]":  # a data identifier, or a scanner's AIM prefix
        return None
    odd = name_odd_characters(text)
    if odd is not None:
        return f"the wristband entry has {odd}: {SCAN_THE_WRISTBAND}"
    compact = text.replace(" ", "").replace("-", "")
    if compact.upper() == mrn.replace(" ", "").replace("-", "").upper():
        return (f"this reads like the patient's MRN typed in, not the wristband's barcode: "
                f"{SCAN_THE_WRISTBAND} (a typed number does not prove who is in the bed)")
    try:
        din = read_din(text)
    except ScanError:
        pass
    else:
        return (f"this reads like a DIN ({din.eye_readable()}), a product's number, not the "
                f"patient's wristband: {SCAN_THE_WRISTBAND}")
    looks = "an MRN or another record number" if compact.isdigit() else "typed text"
    return f"this reads like {looks}, not the patient's wristband barcode: {SCAN_THE_WRISTBAND}"


def _parse(raw: str, want: str) -> Scan:
    try:
        return parse_scan(raw)
    except ScanError as error:
        raise _mismatch(ErrorCode.COI_BAD_SCAN, f"unreadable scan: {error}", raw, want) from error


def _is_type3(flags: str) -> bool:
    return flags.isdigit() and 60 <= int(flags) <= 96


def _mismatch(code: ErrorCode, detail: str, raw: str, want: str) -> IdentityMismatch:
    return IdentityMismatch(code, detail, scanned=raw, expected=want)


# Pages show each container's code at every load (the product page: one per container);
# parsing and re-encoding it, check characters and all, came to a millisecond a page.
@lru_cache(maxsize=4096)
def container_code(din: str, product_code: str, flags: str = "00",
                   print_serial: int | None = None) -> str:
    """The compound message that identifies a container (what its 2-D code carries), with
    the print serial of the label it wears when there is one."""
    structures = [encode_din(parse_din(din), flags),
                  encode_product_code(parse_product_code(product_code))]
    if print_serial is not None:
        structures.append(encode_print_serial(print_serial))
    return encode_compound(structures)
