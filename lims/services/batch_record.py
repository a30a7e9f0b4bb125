"""Assemble a product's electronic batch record from the database; `labels` renders it.

People are printed by their full names, values named and united by the one registry
(workflows.registry), every judged value with its limit, verdict and the limit's source.
A superseded step record (replaced by a correction) is not a step: its values appear in
the corrections table, old → new, with the reason, who and when.
"""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session, col, select

import labels.batch_record as br
from lims.config import get_settings
from lims.models import (
    CoiEvent,
    Container,
    Equipment,
    Patient,
    Product,
    ReagentLot,
    Signature,
    StepRecord,
    User,
)
from lims.services.batch_record_custody import custody
from lims.services.batch_record_limits import step_bounds
from lims.services.batch_record_parts import (
    EXPIRY_MOMENTS,
    Context,
    chart_series,
    computed_lines,
    moment,
    value_lines,
)
from lims.services.batch_record_qc import label_prints, qc_lines, signature_line
from lims.services.batch_record_story import (
    corrections,
    first_record,
    full_name,
    state_changes,
    state_words,
)
from lims.services.certificate import certificate_lines
from lims.services.checkpoints import checkpoint_for_print
from lims.services.common import parameters_of, product_by_din, utcnow
from lims.services.deviations import deviations_of
from lims.services.qc import current_results, final_volume
from lims.services.qc_sample import dose_weight_kg
from lims.services.review import review_summary
from lims.services.review_acknowledgements import acknowledgements_of
from lims.services.specifications import specification_of
from lims.services.storage import storage_lines
from lims.services.temperature_excursions import excursion_lines
from workflows.identity import KIND_LABELS, ContainerKind
from workflows.isbt128 import parse_din
from workflows.protocol import ProtocolParameters
from workflows.steps import STEPS
from workflows.words import CONTAINER_STATUS


def batch_record(session: Session, din: str) -> br.BatchRecord:
    product = product_by_din(session, din)
    patient = session.get(Patient, product.patient_id)
    assert patient is not None and product.id is not None
    users: dict[int | None, User] = {u.id: u for u in session.exec(select(User))}
    spec, version = specification_of(session, product)
    summary = review_summary(session, product.din)
    parsed = parse_din(product.din)
    settings = get_settings()
    # Every record, superseded ones too: the corrections table shows what each replaced.
    every = list(session.exec(select(StepRecord).where(StepRecord.product_id == product.id)
                              .order_by(col(StepRecord.id))))
    by_id: dict[int | None, StepRecord] = {r.id: r for r in every}
    # The current records (a superseded one is no step), in the order the steps were first
    # performed: a correction is a newer row of an earlier step.
    records = sorted((r for r in every if not r.superseded),
                     key=lambda r: first_record(r, by_id).id or 0)
    params = parameters_of(session, product.protocol_id)
    signatures = list(session.exec(select(Signature).where(
        Signature.product_id == product.id).order_by(col(Signature.id))))
    context = Context(zone=settings.time_zone,
                      people={u.username: u.full_name for u in users.values()},
                      expires_at=product.expires_at, protocol=settings.protocol_code)
    steps = tuple(_step(session, r, first_record(r, by_id), users, params, product.arm, context)
                  for r in records)
    return br.BatchRecord(
        din_text=parsed.eye_readable(), check_character=parsed.check, arm=product.arm,
        product_description=_description(product.arm), subject_id=patient.subject_id,
        patient_name=patient.name,
        patient_identifiers=(("MRN", patient.mrn), ("DOB", patient.date_of_birth.isoformat())),
        protocol=settings.protocol_code, specification_version=version,
        state=state_words(product.state), disposition=_disposition(product, signatures),
        harvest_end=product.harvest_end, expires_at=product.expires_at,
        time_zone=settings.time_zone,
        facility=f"{settings.facility_name}, {settings.facility_address}",
        exceptions=tuple(br.ReviewException(e.kind, e.text) for e in summary.exceptions),
        steps=steps,
        qc=qc_lines(session, product, users, spec, version, dose_weight_kg(session, product)),
        deviations=tuple(br.DeviationLine(d.id or 0, d.step, d.classification, d.description,
                                          d.immediate_action, d.impact_assessment, d.status,
                                          d.disposition)
                         for d in deviations_of(session, product)),
        containers=_containers(session, product),
        signatures=tuple(signature_line(session, s, every) for s in signatures),
        chart=chart_series(records, current_results(session, product), spec, params,
                           weight_kg=dose_weight_kg(session, product),
                           volume_ml=final_volume(session, product)),
        coi_events=tuple(f"{e.at:%Y-%m-%d %H:%M} UTC {_step_label(e.step)}: {e.detail}"
                         f" (scanned by {full_name(users, e.user_id)})"
                         for e in session.exec(select(CoiEvent).where(
                             CoiEvent.product_id == product.id).order_by(col(CoiEvent.id)))),
        generated_at=utcnow(),
        label_prints=label_prints(session, product, users),
        state_changes=state_changes(session, product, users),
        custody=custody(session, product, records, users),
        corrections=corrections(every, users, context),
        expiry_checks=_expiry_checks(product, records),
        acknowledgements=tuple(br.AcknowledgementLine(a.kind, a.text, a.comment,
                                                      a.printed_name, a.acknowledged_at)
                               for a in acknowledgements_of(session, product)),
        certificates=certificate_lines(session, product, users),
        storage=storage_lines(session, product),
        excursions=excursion_lines(session, product))


def batch_record_pdf(session: Session, din: str) -> bytes:
    """The PDF, after a signed audit checkpoint that every page names."""
    anchor = checkpoint_for_print(session, din=din)
    return br.render_batch_record(replace(batch_record(session, din), audit_checkpoint=anchor))


def _description(arm: str) -> str:
    if arm == "CD133":
        return "Autologous bone marrow CD133+ enriched cells (CliniMACS), for portal vein injection"
    return "Autologous bone marrow mononuclear cells (Ficoll), for portal vein injection"


def _step_label(step: str) -> str:
    spec = STEPS.get(step)
    return spec.label if spec else step.replace("_", " ")


def _disposition(product: Product, signatures: list[Signature]) -> str:
    state = state_words(product.state).upper()
    decisive = [s for s in signatures
                if s.meaning in ("Released", "Rejected", "Re-released", "Discarded")]
    if not decisive:
        return state
    last = decisive[-1]
    why = f": {last.justification}" if last.justification else ""
    return (f"{state} — {last.meaning} by {last.printed_name} "
            f"{last.signed_at:%Y-%m-%d %H:%M} UTC{why}")


def _expiry_checks(product: Product, records: list[StepRecord]) -> tuple[br.ExpiryCheck, ...]:
    """The expiry against the moment of issue and of the infusion's start."""
    if product.expires_at is None:
        return ()
    checks = []
    for record in records:
        field, what = EXPIRY_MOMENTS.get(record.step, ("", ""))
        when = moment(record.values.get(field)) if field else None
        if when is not None:
            checks.append(br.ExpiryCheck(what, when, product.expires_at,
                                         when <= product.expires_at))
    return tuple(checks)


def _step(session: Session, record: StepRecord, first: StepRecord, users: dict[int | None, User],
          params: ProtocolParameters, arm: str, context: Context) -> br.StepEntry:
    """The current record's values; who performed the step, witnessed it and when come from
    the record it started as (a correction's own operator and time are the corrector's)."""
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
    bounds = step_bounds(record.step, arm, {**record.values, **record.computed}, params,
                         context.protocol)
    corrected = (f"{full_name(users, record.operator_id)} {record.performed_at:%Y-%m-%d %H:%M} UTC"
                 if record is not first else "")
    return br.StepEntry(step=record.step, label=spec.label, performed_at=first.performed_at,
                        operator=full_name(users, first.operator_id),
                        witness=full_name(users, first.witness_id) if first.witness_id else None,
                        corrected=corrected,
                        values=value_lines(spec, record.values, bounds, context),
                        computed=computed_lines(spec, record.computed, bounds),
                        findings=tuple(f"{_ACTION_WORDS.get(str(f.get('action')), 'FINDING')}: "
                                       f"{f.get('message')}" for f in record.findings),
                        reagents=tuple(reagents), equipment=tuple(equipment))


_ACTION_WORDS = {"warn": "WARNING", "refuse": "REFUSED"}


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
            volume_ml=c.volume_ml, status=CONTAINER_STATUS.get(c.status, c.status)))
    return tuple(lines)
