"""Performing a process step: scan, data, witness, guards, new state, audit, one commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, select

from lims.audit import PendingEvent, append, content_hash
from lims.config import get_settings
from lims.models import Container, Patient, Product, Protocol, StepRecord, User
from lims.services.common import (aware, patient_of, product_by_din, require_trigger_role)
from lims.services.identity import check_scan, record_mismatch
from lims.services.materials import expired_reagents, uncalibrated_equipment
from lims.services.witness import confirm_witness
from workflows.errors import Conflict, DomainError, ErrorCode, IdentityMismatch, InvalidInput
from workflows.identity import (QC_SAMPLE_FLAGS, STEP_OUTPUTS, ContainerKind, check_wristband,
                                input_kind, product_code_key)
from workflows.product import ProductFacts, Trigger, fire, guards_for, requires_witness
from workflows.protocol import ProtocolParameters
from workflows.steps import STEPS, StepContext, StepDataError, StepOutcome, evaluate_step

PROCESS_STEPS = frozenset({Trigger.HARVEST, Trigger.RECEIVE, Trigger.SEDIMENT,
                           Trigger.ISOLATE_MNC, Trigger.ENRICH, Trigger.FORMULATE,
                           Trigger.ISSUE, Trigger.ADMINISTER})


@dataclass(frozen=True)
class StepResult:
    product: Product
    record: StepRecord
    warnings: tuple[str, ...]
    new_containers: tuple[Container, ...]


def perform_step(session: Session, *, actor: User, din: str, step: str, scan: str | None,
                 values: Mapping[str, object], witness: str | None = None,
                 witness_password: str | None = None, wristband: str | None = None,
                 expected_version: int | None = None, now: datetime | None = None) -> StepResult:
    """Perform `step` on the product `din` after checking identity, data and guards."""
    trigger = _process_trigger(step)
    require_trigger_role(actor, trigger)
    now = aware(now)
    product = product_by_din(session, din)
    if expected_version is not None and product.version != expected_version:
        raise Conflict(f"product {product.din} was changed by someone else "
                       f"(now {product.state}); reload it")
    if not guards_for(trigger, product.state):
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"'{trigger}' is not possible while the product is {product.state}")
    patient = patient_of(session, product)
    protocol = session.get(Protocol, product.protocol_id)
    assert protocol is not None
    params = ProtocolParameters.from_mapping(protocol.parameters)
    witness_user = _witness(session, trigger, actor, witness, witness_password)
    source = _confirm_identity(session, trigger, product, patient, actor, scan, wristband, now)
    outcome = _evaluate(session, trigger, product, patient, values, params)
    today = now.astimezone(ZoneInfo(get_settings().time_zone)).date()
    spec = STEPS[trigger]
    reagent_problems = expired_reagents(session, spec, outcome.values, today)
    equipment_problems = uncalibrated_equipment(session, spec, outcome.values, today)
    facts = ProductFacts(state=product.state, arm=product.arm, now=now,
                         expires_at=product.expires_at, identity_confirmed=True,
                         step_data_valid=not outcome.refused,
                         reagents_in_date=not reagent_problems,
                         equipment_in_calibration=not equipment_problems,
                         witness_confirmed=witness_user is not None or not requires_witness(trigger))
    new_state = fire(trigger, facts, explain={
        "reagents_in_date": "; ".join(reagent_problems),
        "equipment_in_calibration": "; ".join(equipment_problems),
        "step_data_valid": "; ".join(f.message for f in outcome.refusals),
    })
    return _write(session, trigger=trigger, product=product, patient=patient, protocol=protocol,
                  params=params, actor=actor, witness=witness_user, source=source,
                  outcome=outcome, new_state=new_state.value, now=now)


def _process_trigger(step: str) -> Trigger:
    try:
        trigger = Trigger(step)
    except ValueError:
        raise InvalidInput(f"unknown step {step!r}") from None
    if trigger not in PROCESS_STEPS:
        raise InvalidInput(f"{step!r} is not a processing step")
    return trigger


def _witness(session: Session, trigger: Trigger, actor: User, witness: str | None,
             password: str | None) -> User | None:
    if not requires_witness(trigger):
        return None
    return confirm_witness(session, actor=actor, witness=witness, password=password)


def _confirm_identity(session: Session, trigger: Trigger, product: Product, patient: Patient,
                      actor: User, scan: str | None, wristband: str | None,
                      now: datetime) -> Container | None:
    kind = input_kind(trigger, product.arm)
    if kind is None:
        return None
    container = session.exec(select(Container).where(
        Container.product_id == product.id, Container.kind == kind.value,
        Container.status == "in_use")).first()
    if container is None:
        raise DomainError(ErrorCode.COI_CONTAINER_REQUIRED,
                          f"product {product.din} has no {kind.value} in use")
    if not scan or not scan.strip():
        raise DomainError(ErrorCode.IDENTITY_NOT_CONFIRMED,
                          "scan the container's label to confirm its identity")
    try:
        check_scan(session, product=product, patient=patient, container=container, raw=scan)
        if trigger == Trigger.ADMINISTER:
            check_wristband(wristband or "", expected_patient_id=patient.mrn,
                            subject_id=patient.subject_id)
    except IdentityMismatch as error:
        record_mismatch(session, error=error, product=product, step=trigger.value, actor=actor,
                        at=now)
        raise
    return container


def _evaluate(session: Session, trigger: Trigger, product: Product, patient: Patient,
              values: Mapping[str, object], params: ProtocolParameters) -> StepOutcome:
    previous: dict[str, Mapping[str, float]] = {}
    for record in session.exec(select(StepRecord).where(StepRecord.product_id == product.id)):
        previous[record.step] = record.computed
    context = StepContext(arm=product.arm, weight_kg=patient.weight_kg,
                          harvest_end=product.harvest_end, previous=previous)
    try:
        return evaluate_step(trigger.value, values, params=params, context=context)
    except StepDataError as error:
        raise StepDataInvalid(dict(error.errors)) from error


class StepDataInvalid(DomainError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(ErrorCode.STEP_DATA_INVALID,
                         "; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _write(session: Session, *, trigger: Trigger, product: Product, patient: Patient,
           protocol: Protocol, params: ProtocolParameters, actor: User, witness: User | None,
           source: Container | None, outcome: StepOutcome, new_state: str,
           now: datetime) -> StepResult:
    assert product.id is not None and actor.id is not None
    old_state, old_version = product.state, product.version
    changes: dict[str, Any] = {"state": new_state, "version": old_version + 1, "updated_at": now}
    if trigger == Trigger.HARVEST:
        harvest_end = outcome.values["harvest_end"]
        assert isinstance(harvest_end, datetime)
        changes["harvest_end"] = harvest_end
        changes["expires_at"] = harvest_end + timedelta(hours=params.expiry_hours_after_harvest_end)
    moved = session.execute(update(Product).where(
        Product.id == product.id, Product.version == old_version).values(**changes))  # type: ignore[arg-type]
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict(f"product {product.din} was changed by someone else; reload it")
    values = {k: (v.isoformat() if isinstance(v, datetime) else v)
              for k, v in outcome.values.items()}
    findings = [{"field": f.field, "code": f.code, "message": f.message, "action": f.action,
                 "value": f.value, "limit": f.limit} for f in outcome.findings]
    content = {"step": trigger.value, "values": values, "computed": dict(outcome.computed),
               "findings": findings}
    record = StepRecord(product_id=product.id, step=trigger.value,
                        container_id=source.id if source else None, values=values,
                        computed=dict(outcome.computed), findings=findings,
                        operator_id=actor.id, witness_id=witness.id if witness else None,
                        performed_at=now, content_hash=content_hash(content))
    session.add(record)
    created = _containers(session, trigger, product, protocol, actor, source, outcome, now)
    session.flush()
    events = [
        PendingEvent("state_changed", "product", product.din, "state", old_state, new_state,
                     reason=trigger.value),
        PendingEvent("step_recorded", "step_record", str(record.id), trigger.value, None,
                     record.content_hash),
        *(PendingEvent("limit_warning", "product", product.din, f.field, None, f.message)
          for f in outcome.warnings),
        *(PendingEvent("container_created", "container", f"{product.din}/{c.product_code}/"
                       f"{c.flags}", "kind", None, c.kind) for c in created),
    ]
    if witness is not None:
        events.append(PendingEvent("witnessed", "step_record", str(record.id), "witness", None,
                                   witness.username))
    append(session, events, user_id=actor.id, username=actor.username)
    session.commit()
    session.refresh(product)
    return StepResult(product=product, record=record,
                      warnings=tuple(f.message for f in outcome.warnings),
                      new_containers=tuple(created))


def _containers(session: Session, trigger: Trigger, product: Product, protocol: Protocol,
                actor: User, source: Container | None, outcome: StepOutcome,
                now: datetime) -> list[Container]:
    assert product.id is not None and actor.id is not None
    created: list[Container] = []
    volume = outcome.values.get(_VOLUME_FIELD.get(trigger, ""), None)
    if trigger == Trigger.HARVEST and source is not None:
        source.volume_ml = float(volume) if isinstance(volume, int | float) else None
        session.add(source)
    for kind in STEP_OUTPUTS.get(trigger, ()):
        code = protocol.product_codes[product_code_key(kind, product.arm)]
        kind_volume = outcome.values.get(f"{kind.value.split('_')[-1]}_volume_ml", volume)
        created.append(Container(product_id=product.id, parent_id=source.id if source else None,
                                 kind=kind.value, product_code=code, created_at=now,
                                 volume_ml=float(kind_volume)
                                 if isinstance(kind_volume, int | float) else None,
                                 created_by_id=actor.id))
    if trigger == Trigger.FORMULATE:
        created += _qc_samples(product, protocol, actor, outcome, now)
    if source is not None and (created or trigger == Trigger.ADMINISTER):
        source.status = "administered" if trigger == Trigger.ADMINISTER else "consumed"
        session.add(source)
    for container in created:
        session.add(container)
    session.flush()
    final = next((c for c in created if c.kind == ContainerKind.FINAL_PRODUCT), None)
    for sample in created:
        if sample.kind == ContainerKind.QC_SAMPLE and final is not None:
            sample.parent_id = final.id
    return created


_VOLUME_FIELD = {Trigger.HARVEST: "volume_ml", Trigger.SEDIMENT: "volume_out_ml",
                 Trigger.ISOLATE_MNC: "volume_ml", Trigger.ENRICH: "target_volume_ml",
                 Trigger.FORMULATE: "final_volume_ml"}


def _qc_samples(product: Product, protocol: Protocol, actor: User, outcome: StepOutcome,
                now: datetime) -> list[Container]:
    assert product.id is not None and actor.id is not None
    count = outcome.values.get("qc_samples", 0)
    count = count if isinstance(count, int) else 0
    if count > len(QC_SAMPLE_FLAGS):
        raise InvalidInput(f"at most {len(QC_SAMPLE_FLAGS)} QC samples per product")
    code = protocol.product_codes[product_code_key(ContainerKind.QC_SAMPLE, product.arm)]
    return [Container(product_id=product.id, kind=ContainerKind.QC_SAMPLE.value,
                      product_code=code, flags=QC_SAMPLE_FLAGS[i], created_at=now,
                      created_by_id=actor.id) for i in range(count)]
