"""QC results against the specification, label reconciliation and signatures of the batch
record, in the lab's words: printed names, registry units, the specification's version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from sqlmodel import Session, col, select

import labels.batch_record as br
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Container, PrintJob, Product, QcResult, Signature, StepRecord
from lims.services.batch_record_parts import moment, number_markup
from lims.services.batch_record_story import Names, full_name
from lims.services.qc import final_volume
from lims.services.signature_check import signature_state
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.registry import QC, entry, qc_limit_text
from workflows.specifications import Specification
from workflows.steps import STEPS
from workflows.words import LABEL_KINDS


def _result(test: str, value: str) -> str:
    """A stored result in the test's registry unit and format; text results as they are."""
    found = entry(QC, test)
    if found.kind != "number":
        return escape(value)
    try:
        return number_markup(float(value), found.unit)
    except ValueError:
        return escape(value)


def _method(row: QcResult) -> str:
    parts = [row.method or "method not recorded"]
    if row.instrument:
        parts.append(f"instrument {row.instrument}")
    if row.sample_drawn_at is not None:
        drawn = f"sample drawn {row.sample_drawn_at:%Y-%m-%d %H:%M} UTC"
        if row.sample_volume_ml is not None:
            drawn += f", {number_markup(row.sample_volume_ml, 'ml')}"
        parts.append(drawn)
    return "; ".join(parts)


def qc_lines(session: Session, product: Product, users: Names, spec: Specification,
             version: str, weight_kg: float) -> tuple[br.QcLine, ...]:
    volume = final_volume(session, product)
    rows = list(session.exec(select(QcResult).where(QcResult.product_id == product.id)
                             .order_by(col(QcResult.id))))
    lines = []
    for row in rows:
        if row.superseded:
            continue
        earlier = [r for r in rows if r.test == row.test and r.id != row.id and r.superseded]
        found = entry(QC, row.test)
        limit = qc_limit_text(row.test, spec, weight_kg=weight_kg, volume_ml=volume, style="pdf")
        lines.append(br.QcLine(
            test=found.label, result=_result(row.test, row.value), unit=found.unit,
            specification=limit, passed=row.passed, method=_method(row),
            analyst=full_name(users, row.analyst_id), entered_at=row.entered_at, late=row.late,
            corrected_from=(_result(row.test, earlier[-1].value)
                            if earlier and row.reason else None),
            correction_reason=_correction(row, users),
            source=f"specification {version}{_basis(row.test, spec, weight_kg, volume)}"))
    return tuple(lines)


def _basis(test: str, spec: Specification, weight_kg: float, volume_ml: float | None) -> str:
    """How the endotoxin limit was worked out for this patient and product."""
    if test != "endotoxin":
        return ""
    if spec.endotoxin_basis == "per_kg" and volume_ml:
        return (f": {spec.endotoxin_k_eu_per_kg:g} EU/kg × {weight_kg:g} kg body weight ÷ "
                f"{volume_ml:g} ml product")
    return ": fixed limit per ml"


def _correction(row: QcResult, users: Names) -> str | None:
    """Why a result was corrected and, for an out-of-specification one, who verified it."""
    if row.reason is None or not row.needs_verification:
        return row.reason
    if row.verified_at is None:
        return f"{row.reason} — AWAITING VERIFICATION (does not count for release)"
    return (f"{row.reason} — verified by {full_name(users, row.verified_by_id)} "
            f"{row.verified_at:%Y-%m-%d %H:%M} UTC")


@dataclass(frozen=True)
class Scan:
    at: datetime  # when the label was scanned back (the verification's own time)
    user_id: int | None


def label_scans(session: Session, product: Product) -> dict[int, Scan]:
    """The scan-back of each print job, by job id: verify_label records which job it
    verified (reason "print job N, ...") and when (the new `label_verified_at`)."""
    scans = {}
    for event in session.exec(select(AuditEvent).where(
            AuditEvent.action == AuditAction.LABEL_VERIFIED, AuditEvent.entity == "container",
            col(AuditEvent.entity_id).startswith(f"{product.din}/")).order_by(col(AuditEvent.seq))):
        job = (event.reason or "").split(",")[0].removeprefix("print job ")
        if job.isdigit():
            scans[int(job)] = Scan(moment(event.new_value) or event.at, event.user_id)
    return scans


def label_prints(session: Session, product: Product, users: Names) -> tuple[br.LabelPrintLine, ...]:
    """Every print of the product's labels, with the scan-back that verified it."""
    kinds = {c.id: c.kind for c in session.exec(select(Container).where(
        Container.product_id == product.id))}
    scans = label_scans(session, product)
    jobs = session.exec(select(PrintJob).where(PrintJob.product_id == product.id)
                        .order_by(col(PrintJob.id)))
    return tuple(br.LabelPrintLine(
        container=KIND_LABELS[ContainerKind(kinds[job.container_id])],
        kind=LABEL_KINDS.get(job.label_kind, job.label_kind),
        printed_at=job.printed_at, printed_by=full_name(users, job.printed_by_id),
        output=f"{job.format.upper()}, {job.printer or 'local'}",
        reprint_reason=job.reason if job.reprint else None,
        scanned_back_at=scans[job.id].at if job.id in scans else None) for job in jobs)


def _signed_record(signature: Signature, records: list[StepRecord]) -> str:
    """What was signed, in words: "Step record 3 (RBC sedimentation)", "Product X9999…"."""
    kind, ident = signature.record_type, signature.record_id
    if kind == "step_record":
        record = next((r for r in records if str(r.id) == ident), None)
        if record is None or record.step not in STEPS:
            return f"Step record {ident}"
        later = ", superseded by a correction" if record.superseded else ""
        return f"Step record {ident} ({STEPS[record.step].label}{later})"
    words = {"product": "Product", "qc_result": "QC result", "deviation": "Deviation",
             "alert": "Alert"}
    return f"{words.get(kind, kind.replace('_', ' ').capitalize())} {ident}"


def signature_line(session: Session, signature: Signature,
                   records: list[StepRecord]) -> br.Signature:
    state = signature_state(session, signature)
    record = _signed_record(signature, records)
    if state != "valid":
        record += f" — {state.upper()}"
    return br.Signature(printed_name=signature.printed_name, meaning=signature.meaning,
                        signed_at=signature.signed_at, record=record,
                        record_hash=signature.record_hash,
                        justification=signature.justification or "")
