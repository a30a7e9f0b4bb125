"""What a certificate of analysis says: frozen dataclasses the LIMS fills, and its hash.

The certificate travels with a released product: its identity as the final label carries
it, the specification version it was judged against and that version's approval, every
current QC result with its limit, method and verdict, and the release signature(s) with
their manifestation (printed name, date/time, meaning; 21 CFR 11.50).

`certificate_hash` is the SHA-256 of the canonical serialisation the batch record uses
(`labels.batch_record_model`), over everything but who printed it and when: the same
product content gives the same hash, so a certificate printed twice carries one ID.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from labels.batch_record_model import _canonical

# Bump when the serialisation changes, so an old hash is never compared with a new one.
CERTIFICATE_SCHEME: Final = "cell-lims certificate of analysis v1"

Verdict = Literal["PASS", "FAIL", "PENDING"]


def verdict_of(passed: bool | None) -> Verdict:
    """PASS within specification, FAIL out of it, PENDING while a culture grows."""
    if passed is None:
        return "PENDING"
    return "PASS" if passed else "FAIL"


@dataclass(frozen=True)
class CertificateResult:
    """One QC result. `result` and `limit` are paragraph markup (escaped), so a cell number
    keeps its superscript; `unit` is the registry's unit of the test."""

    test: str  # the lab's name, e.g. "Viability (7-AAD)"
    result: str  # markup, unit included, e.g. "92.0 %"
    unit: str
    limit: str  # markup, e.g. "≥ 70.0 %"
    method: str  # e.g. "7-AAD flow cytometry; instrument FC-01"
    verdict: Verdict


@dataclass(frozen=True)
class ReleaseSignature:
    """A signature of the release decision, as §11.50 wants it shown."""

    printed_name: str
    meaning: str  # "Released", "Re-released", "Approved exceptional release"
    signed_at: datetime  # aware
    justification: str = ""  # an exceptional release's reason, a re-release's note


@dataclass(frozen=True)
class Certificate:
    din_text: str  # eye-readable, e.g. "X9999 26 000001"
    check_character: str  # the ISBT 128 keyboard-entry check character, printed boxed
    din_barcode: str  # what the DIN bar code scans as, e.g. "=X99992600000100"
    product_code: str  # eye-readable, e.g. "D0006 1 00"
    product_description: str
    patient_name: str
    subject_id: str
    patient_identifiers: tuple[tuple[str, str], ...]  # as the label carries them
    collected_at: datetime | None
    expires_at: datetime | None
    time_zone: str  # the facility's IANA zone, e.g. "Asia/Tehran"
    processing_facility: str
    collection_facility: str
    protocol: str
    specification_version: str  # e.g. "CD133 v1"
    specification_approval: str  # e.g. "approved by Maryam QA 2026-11-01 09:00 UTC; ..."
    results: tuple[CertificateResult, ...]
    release: tuple[ReleaseSignature, ...]
    exceptional: bool  # released although not every criterion was met (FACT D11.1.2)
    placeholder_codes: bool = True  # the seed's product codes are not ICCBBA-assigned
    # Who printed it and when: outside the hash (the content is the product's).
    generated_at: datetime | None = None
    generated_by: str = ""


def canonical_bytes(certificate: Certificate) -> bytes:
    """Sorted-key UTF-8 JSON of the certificate without `generated_at` and `generated_by`."""
    content = _canonical(certificate, "certificate")
    assert isinstance(content, dict)
    del content["generated_at"]
    del content["generated_by"]
    document = {"scheme": CERTIFICATE_SCHEME, "certificate": content}
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def certificate_hash(certificate: Certificate) -> str:
    """SHA-256 (hex) of what the certificate says, not of when or by whom it was printed."""
    return hashlib.sha256(canonical_bytes(certificate)).hexdigest()
