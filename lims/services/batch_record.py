"""Assemble a product's electronic batch record from the database; `labels` renders it."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session, col, select

import labels.batch_record as br
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import (
    AuditEvent,
    CoiEvent,
    Container,
    Equipment,
    Patient,
    PrintJob,
    Product,
    QcResult,
    ReagentLot,
    Signature,
    StepRecord,
    User,
)
from lims.services.batch_record_parts import chart_series, computed_lines, value_lines
from lims.services.checkpoints import checkpoint_for_print
from lims.services.common import parameters_of, product_by_din, utcnow
from lims.services.deviations import deviations_of
from lims.services.qc import current_results, final_volume
from lims.services.review import review_summary
from lims.services.signature_check import signature_state
from lims.services.specifications import specification_of
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.isbt128 import parse_din
from workflows.specifications import QC_TESTS, limit_text
from workflows.steps import STEPS


def batch_record(session: Session, din: str) -> br.BatchRecord:
    product = product_by_din(session, din)
    patient = session.get(Patient, product.patient_id)
    assert patient is not None and product.id is not None
    users = {u.id: u for u in session.exec(select(User))}
    spec, version = specification_of(session, product)
    summary = review_summary(session, product.din)
    parsed = parse_din(product.din)
    settings = get_settings()
    records = list(session.exec(select(StepRecord).where(StepRecord.product_id == product.id)
                                .order_by(col(StepRecord.id))))
    params = parameters_of(session, product.protocol_id)
    signatures = list(session.exec(select(Signature).where(
        Signature.product_id == product.id).order_by(col(Signature.id))))
    return br.BatchRecord(
        din_text=parsed.eye_readable(), check_character=parsed.check, arm=product.arm,
        product_description=_description(product.arm), subject_id=patient.subject_id,
        patient_name=patient.name,
        patient_identifiers=(("MRN", patient.mrn), ("DOB", patient.date_of_birth.isoformat())),
        protocol=settings.protocol_code, specification_version=version, state=product.state,
        disposition=_disposition(product, signatures), harvest_end=product.harvest_end,
        expires_at=product.expires_at, time_zone=settings.time_zone,
        facility=f"{settings.facility_name}, {settings.facility_address}",
        exceptions=tuple(br.ReviewException(e.kind, e.text) for e in summary.exceptions),
        steps=tuple(_step(session, r, users, params) for r in records),
        qc=_qc(session, product, users, spec, patient.weight_kg),
        deviations=tuple(br.DeviationLine(d.id or 0, d.step, d.classification, d.description,
                                          d.immediate_action, d.impact_assessment, d.status,
                                          d.disposition)
                         for d in deviations_of(session, product)),
        containers=_containers(session, product),
        signatures=tuple(_signature(session, s, users) for s in signatures),
        chart=chart_series(records, current_results(session, product), spec, params,
                           weight_kg=patient.weight_kg, volume_ml=final_volume(session, product)),
        coi_events=tuple(f"{e.at:%Y-%m-%d %H:%M} UTC {e.step}: {e.code} — {e.detail}"
                         for e in session.exec(select(CoiEvent).where(
                             CoiEvent.product_id == product.id))),
        generated_at=utcnow(),
        label_prints=_label_prints(session, product, users))


def batch_record_pdf(session: Session, din: str) -> bytes:
    """The PDF, after a signed audit checkpoint that every page names."""
    anchor = checkpoint_for_print(session, din=din)
    return br.render_batch_record(replace(batch_record(session, din), audit_checkpoint=anchor))


def _description(arm: str) -> str:
    if arm == "CD133":
        return "Autologous bone marrow CD133+ enriched cells (CliniMACS), for portal vein injection"
    return "Autologous bone marrow mononuclear cells (Ficoll), for portal vein injection"


def _disposition(product: Product, signatures: list[Signature]) -> str:
    decisive = [s for s in signatures if s.meaning in ("Released", "Rejected", "Re-released")]
    if not decisive:
        return product.state.replace("_", " ").upper()
    last = decisive[-1]
    return (f"{product.state.replace('_', ' ').upper()} — {last.meaning} by {last.printed_name}"
            f" {last.signed_at:%Y-%m-%d %H:%M} UTC")


def _name(users: dict[int | None, User], user_id: int | None) -> str:
    user = users.get(user_id)
    return f"{user.full_name} ({user.username})" if user else "-"


def _step(session: Session, record: StepRecord, users: dict[int | None, User],
          params: object) -> br.StepEntry:
    spec = STEPS[record.step]
    reagents = []
    for name in spec.reagent_fields:
        lot = record.values.get(name)
        row = session.exec(select(ReagentLot).where(ReagentLot.lot == str(lot))).first()
        if row:
            reagents.append(f"{row.reagent} lot {row.lot} (exp {row.expires_on.isoformat()})")
    equipment = []
    for name in spec.equipment_fields:
        item = session.exec(select(Equipment).where(
            Equipment.code == str(record.values.get(name)))).first()
        if item:
            equipment.append(f"{item.kind} {item.code} s/n {item.serial} "
                             f"(calibration due {item.calibration_due.isoformat()})")
    return br.StepEntry(step=record.step, label=spec.label, performed_at=record.performed_at,
                        operator=_name(users, record.operator_id),
                        witness=_name(users, record.witness_id) if record.witness_id else None,
                        values=value_lines(spec, record.values, get_settings().time_zone),
                        computed=computed_lines(record.step, record.computed, params),
                        findings=tuple(f"{f.get('action', '').upper()}: {f.get('message')}"
                                       for f in record.findings),
                        reagents=tuple(reagents), equipment=tuple(equipment))


def _qc(session: Session, product: Product, users: dict[int | None, User], spec: object,
        weight_kg: float) -> tuple[br.QcLine, ...]:
    from workflows.specifications import Specification

    assert isinstance(spec, Specification)
    volume = final_volume(session, product)
    rows = list(session.exec(select(QcResult).where(QcResult.product_id == product.id)
                             .order_by(col(QcResult.id))))
    lines = []
    for row in rows:
        if row.superseded:
            continue
        earlier = [r for r in rows if r.test == row.test and r.id != row.id and r.superseded]
        lines.append(br.QcLine(
            test=QC_TESTS[row.test].label, result=row.value, unit=row.unit,
            specification=limit_text(row.test, spec, weight_kg=weight_kg, volume_ml=volume),
            passed=row.passed, method=row.method or "-", analyst=_name(users, row.analyst_id),
            entered_at=row.entered_at, late=row.late,
            corrected_from=earlier[-1].value if earlier and row.reason else None,
            correction_reason=_correction(row, users)))
    return tuple(lines)


def _correction(row: QcResult, users: dict[int | None, User]) -> str | None:
    """Why a result was corrected and, for an out-of-specification one, who verified it."""
    if row.reason is None or not row.needs_verification:
        return row.reason
    if row.verified_at is None:
        return f"{row.reason} — AWAITING VERIFICATION (does not count for release)"
    return (f"{row.reason} — verified by {_name(users, row.verified_by_id)} "
            f"{row.verified_at:%Y-%m-%d %H:%M} UTC")


def _containers(session: Session, product: Product) -> tuple[br.ContainerLine, ...]:
    rows = list(session.exec(select(Container).where(Container.product_id == product.id)
                             .order_by(col(Container.id))))
    by_id = {c.id: c for c in rows}
    lines = []
    for c in rows:
        parent = by_id.get(c.parent_id)
        lines.append(br.ContainerLine(
            label=KIND_LABELS[ContainerKind(c.kind)],
            code=f"{c.product_code[:5]} {c.product_code[5]} {c.product_code[6:]}",
            flags=c.flags,
            parent=KIND_LABELS[ContainerKind(parent.kind)] if parent else None,
            volume_ml=c.volume_ml, status=c.status))
    return tuple(lines)


def _label_prints(session: Session, product: Product,
                  users: dict[int | None, User]) -> tuple[br.LabelPrintLine, ...]:
    """Every print of the product's labels, with the scan-back that verified it."""
    kinds = {c.id: c.kind for c in session.exec(select(Container).where(
        Container.product_id == product.id))}
    # verify_label records which print job a scan-back verified (reason "print job N, ...").
    scanned = {(event.reason or "").split(",")[0]: event.at for event in session.exec(
        select(AuditEvent).where(AuditEvent.action == AuditAction.LABEL_VERIFIED,
                                 col(AuditEvent.entity_id).startswith(f"{product.din}/"))
        .order_by(col(AuditEvent.seq)))}
    jobs = session.exec(select(PrintJob).where(PrintJob.product_id == product.id)
                        .order_by(col(PrintJob.id)))
    return tuple(br.LabelPrintLine(
        container=KIND_LABELS[ContainerKind(kinds[job.container_id])], kind=job.label_kind,
        printed_at=job.printed_at, printed_by=_name(users, job.printed_by_id),
        output=f"{job.format.upper()}, {job.printer or 'local'}",
        reprint_reason=job.reason if job.reprint else None,
        scanned_back_at=scanned.get(f"print job {job.id}")) for job in jobs)


def _signature(session: Session, signature: Signature,
               users: dict[int | None, User]) -> br.Signature:
    user = users.get(signature.user_id)
    state = signature_state(session, signature)
    record = f"{signature.record_type} {signature.record_id}"
    if state != "valid":
        record += f" — {state.upper()}"
    return br.Signature(printed_name=signature.printed_name,
                        username=user.username if user else "-", meaning=signature.meaning,
                        signed_at=signature.signed_at, record=record,
                        record_hash=signature.record_hash)
