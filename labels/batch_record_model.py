"""What an electronic batch record says: frozen dataclasses the LIMS fills, and its hash.

The LIMS assembles a `BatchRecord` from the database; `labels.batch_record`
renders it. Nothing here knows about the database: every field is plain text,
numbers and timezone-aware datetimes, already in the lab's words and units.

`content_hash` is the SHA-256 of a canonical JSON serialisation of everything
in the record except `generated_at`, so two printouts of the same record carry
the same hash and any changed value changes it. Datetimes are serialised as UTC
instants; a naive datetime is refused because its instant is unknown.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

# Bump when the serialisation changes, so an old hash is never compared with a new one.
HASH_SCHEME: Final = "cell-lims batch record v3"


@dataclass(frozen=True)
class Signature:
    """One electronic signature as §11.50 wants it shown: name, date/time, meaning."""

    printed_name: str
    meaning: str  # "Performed", "Witnessed", "Released", "Administered", "Discarded", ...
    signed_at: datetime  # aware
    record: str  # what was signed, e.g. "Product X999926000001" or "Deviation 3"
    record_hash: str  # hash of the signed record content (§11.70 linking)
    justification: str = ""  # the reason signed with it (discard, exceptional release)


@dataclass(frozen=True)
class ValueLine:
    """One value of a step (a typed field or a computed figure), judged where a limit applies.

    `value` and `limit` are reportlab paragraph markup, already escaped, so a cell number
    keeps its real superscript ("4,000 × 10<super>6</super> cells"); `unit` is the
    registry's unit for `name` (workflows.steps), kept apart so a reader (and a test) can
    see which unit the value is in without parsing the text.
    """

    name: str  # the field or figure, e.g. "temperature_c"
    label: str  # the lab's name, e.g. "Temperature on receipt"
    value: str  # markup, unit included, e.g. "19.5 °C"
    unit: str  # "" for text, times, yes/no
    limit: str = ""  # markup, e.g. "2.0–25.0 °C"; "" when the protocol sets none
    passed: bool | None = None  # None: not judged (no limit)
    source: str = ""  # where the limit comes from, e.g. "protocol NCT00713934"
    verdict: str = ""  # the words for the verdict when not within/out ("in date", "EXPIRED")


@dataclass(frozen=True)
class StepEntry:
    """One process step as performed (its current record): data, figures and findings."""

    step: str  # trigger name, e.g. "sediment"
    label: str  # the lab's name, e.g. "RBC sedimentation"
    performed_at: datetime
    operator: str  # printed full name
    witness: str | None
    values: tuple[ValueLine, ...]
    computed: tuple[ValueLine, ...]
    findings: tuple[str, ...]  # warnings and refusals, as text
    reagents: tuple[str, ...]  # e.g. "Ficoll-Paque PREMIUM lot 10298765 (exp 2027-03-31)"
    equipment: tuple[str, ...]  # e.g. "Centrifuge CF-02 (Rotanta 460R)"
    # Who corrected the values since, and when, e.g. "Leila Supervisor 2026-11-25 14:03 UTC"
    # ("" when never corrected); the old → new values are in the corrections table.
    corrected: str = ""


@dataclass(frozen=True)
class CorrectionLine:
    """One value of a step record changed by a correction: old → new, why, who, when."""

    step: str  # the step's label
    field: str  # the field's label
    old: str  # markup, as the value was printed before
    new: str  # markup
    reason: str
    corrected_by: str  # printed full name
    corrected_at: datetime


@dataclass(frozen=True)
class StateChange:
    """A change of the product's state: a step, a decision (hold, resume, discard, release
    suspension, re-release, rejection, expiry) with its reason, who and when."""

    at: datetime
    event: str  # e.g. "Put on hold", "RBC sedimentation"
    old_state: str  # the lab's words, e.g. "formulated, awaiting QC"
    new_state: str
    by: str  # printed full name
    reason: str  # "" for a processing step (its data is the step)
    decision: bool  # a hold, resume, discard, ... rather than a processing step


@dataclass(frozen=True)
class CustodyLine:
    """Who had a container, from when until when, and what they did with it."""

    container: str  # e.g. "marrow collection bag D0001 1 00"
    event: str  # e.g. "Collected in OR-3 (bone-marrow harvest)"
    start: datetime
    end: datetime | None  # None: still held (or the end of its story)
    by: str  # printed full names, e.g. "Sara Technician; witness Dr. Ali Physician"


@dataclass(frozen=True)
class ExpiryCheck:
    """The product's expiry against a moment it had to be in date (issue, infusion)."""

    what: str  # "Issued", "Infusion started"
    at: datetime
    expires_at: datetime
    in_date: bool


@dataclass(frozen=True)
class QcLine:
    """One release test result against its specification.

    `result`, `specification` and `corrected_from` are paragraph markup (escaped), so a
    cell number keeps its superscript; `unit` is the registry's unit of the test.
    """

    test: str
    result: str  # markup, unit included, e.g. "4.46 × 10<super>6</super> cells"
    unit: str
    specification: str  # markup
    passed: bool | None  # None while pending
    method: str
    analyst: str
    entered_at: datetime
    late: bool
    corrected_from: str | None
    correction_reason: str | None
    source: str = ""  # e.g. "specification CD133 v1"


@dataclass(frozen=True)
class DeviationLine:
    number: int
    step: str
    classification: str
    description: str
    immediate_action: str
    impact: str
    status: str
    disposition: str | None


@dataclass(frozen=True)
class ContainerLine:
    """A container derived from the harvest; `parent` is the parent's `label`."""

    label: str
    code: str  # product code and division, e.g. "D0006 1 00"
    flags: str
    parent: str | None
    volume_ml: float | None
    status: str


@dataclass(frozen=True)
class LabelPrintLine:
    """One label print: label reconciliation shows every label that came out of a printer."""

    container: str  # the container's name, e.g. "final product"
    kind: str  # collection, in_process, qc_sample, final, issue
    printed_at: datetime
    printed_by: str
    output: str  # format and printer, e.g. "ZPL, zebra-1"
    reprint_reason: str | None  # None for a first print
    scanned_back_at: datetime | None  # when that label was verified by scanning it


@dataclass(frozen=True)
class CertificateLine:
    """A certificate of analysis generated for the product: when, by whom, its ID."""

    generated_at: datetime
    generated_by: str  # printed full name
    content_hash: str  # the certificate's ID (labels.certificate_model.certificate_hash)
    specification: str  # the version it states, e.g. "CD133 v1"


@dataclass(frozen=True)
class StorageLine:
    """One stay of a container in a storage position (issue 16): scanned in, and out with
    the reason (testing, discard, return) or still there."""

    container: str  # e.g. "retention sample D0006 21"
    where: str  # "Site › Room › Freezer › Rack › Box › A1"
    stored_at: datetime
    stored_by: str
    removed_at: datetime | None
    removed_by: str | None
    reason: str | None
    note: str = ""


@dataclass(frozen=True)
class ExcursionLine:
    """A temperature excursion where a container of the product was stored (issue 16)."""

    where: str  # "Site › Room › Fridge (FRIDGE-1)"
    what: str  # "outside 2 to 8 °C from … to …, readings 9.5 to 11 °C"
    started_at: datetime
    acknowledged: str  # QA's name and comment, or "" while not acknowledged


@dataclass(frozen=True)
class ChartSeries:
    """One key value of this product against its specification limits."""

    name: str
    value: float
    unit: str
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ReviewException:
    """Something QA must look at first: out of spec, deviation, correction, late, override."""

    kind: str
    text: str


@dataclass(frozen=True)
class AcknowledgementLine:
    """QA acknowledged one exception of the review before deciding: with its comment, the
    reviewer's printed name and the time (covered by the release signature)."""

    kind: str
    text: str
    comment: str
    printed_name: str
    acknowledged_at: datetime


@dataclass(frozen=True)
class BatchRecord:
    din_text: str  # eye-readable, e.g. "X9999 26 000001"
    check_character: str
    arm: str
    product_description: str
    subject_id: str
    patient_name: str
    patient_identifiers: tuple[tuple[str, str], ...]
    protocol: str
    specification_version: str
    state: str
    disposition: str  # e.g. "RELEASED by Maryam QA Reviewer 2026-11-25 14:03 UTC"
    harvest_end: datetime | None
    expires_at: datetime | None
    time_zone: str
    facility: str
    exceptions: tuple[ReviewException, ...]
    steps: tuple[StepEntry, ...]
    qc: tuple[QcLine, ...]
    deviations: tuple[DeviationLine, ...]
    containers: tuple[ContainerLine, ...]
    signatures: tuple[Signature, ...]
    chart: tuple[ChartSeries, ...]
    coi_events: tuple[str, ...]
    generated_at: datetime
    label_prints: tuple[LabelPrintLine, ...] = ()
    state_changes: tuple[StateChange, ...] = ()
    custody: tuple[CustodyLine, ...] = ()
    corrections: tuple[CorrectionLine, ...] = ()
    expiry_checks: tuple[ExpiryCheck, ...] = ()
    acknowledgements: tuple[AcknowledgementLine, ...] = ()
    certificates: tuple[CertificateLine, ...] = ()  # certificates of analysis generated
    storage: tuple[StorageLine, ...] = ()  # where its containers were kept (issue 16)
    excursions: tuple[ExcursionLine, ...] = ()  # temperature excursions while stored
    # The signed audit checkpoint written just before printing (its number, sequence and
    # Merkle tree head), repeated on every page; like generated_at, outside the hash.
    audit_checkpoint: str = ""


def _canonical(value: object, where: str) -> object:
    """A JSON-able form of `value` that depends only on its content."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "type": type(value).__name__,
            **{
                f.name: _canonical(getattr(value, f.name), f"{where}.{f.name}")
                for f in dataclasses.fields(value)
            },
        }
    if isinstance(value, tuple | list):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"{where}: {value.isoformat()} has no time zone")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float):
        return repr(value)  # exact and locale-free; json's own float text may vary
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"{where}: cannot serialise {type(value).__name__}")


def canonical_bytes(record: BatchRecord) -> bytes:
    """The bytes `content_hash` digests: sorted-key UTF-8 JSON without `generated_at` and
    `audit_checkpoint` (when and against what trail it was printed, not what it says)."""
    content = _canonical(record, "record")
    assert isinstance(content, dict)
    del content["generated_at"]
    del content["audit_checkpoint"]
    document = {"scheme": HASH_SCHEME, "record": content}
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def content_hash(record: BatchRecord) -> str:
    """SHA-256 (hex) of everything in the record except when it was generated."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()
