"""Performing a process step: scan, data, witness, guards, new state, audit, one commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from lims.audit import PendingEvent, append, content_hash
from lims.config import get_settings
from lims.models import Container, Product, StepRecord, User
from lims.services import step_store as store
from lims.services.common import aware, require_trigger_role
from lims.services.identity import check_scan, record_mismatch
from lims.services.label_content import current_label_kind, last_printed_kind
from lims.services.materials import expired_reagents, uncalibrated_equipment
from lims.services.signatures import add_signature
from lims.services.witness import confirm_witness
from workflows.errors import (
    Conflict,
    DomainError,
    ErrorCode,
    IdentityMismatch,
    InvalidInput,
    NotFound,
)
from workflows.identity import (
    KIND_LABELS,
    QC_SAMPLE_FLAGS,
    STEP_OUTPUTS,
    ContainerKind,
    check_wristband,
    input_kind,
    product_code_key,
)
from workflows.product import ProductFacts, Trigger, fire, guards_for, requires_witness
from workflows.steps import STEPS, StepContext, StepDataError, StepOutcome, evaluate_step

PROCESS_STEPS = frozenset({Trigger.HARVEST, Trigger.RECEIVE, Trigger.SEDIMENT,
                           Trigger.ISOLATE_MNC, Trigger.ENRICH, Trigger.FORMULATE,
                           Trigger.ISSUE, Trigger.ADMINISTER})
# Outputs take their volume from these fields (the negative fraction from its own).
_VOLUME_FIELD = {Trigger.HARVEST: "volume_ml", Trigger.SEDIMENT: "volume_out_ml",
                 Trigger.ISOLATE_MNC: "volume_ml", Trigger.ENRICH: "target_volume_ml",
                 Trigger.FORMULATE: "final_volume_ml"}
_KIND_VOLUME_FIELD = {ContainerKind.CD133_NEGATIVE: "negative_volume_ml"}


@dataclass(frozen=True)
class StepResult:
    product: Product
    record: StepRecord
    warnings: tuple[str, ...]
    new_containers: tuple[Container, ...]


class StepDataInvalid(DomainError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(ErrorCode.STEP_DATA_INVALID,
                         "; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def perform_step(session: Session, *, actor: User, din: str, step: str, scan: str | None,
                 values: Mapping[str, object], witness: str | None = None,
                 witness_password: str | None = None, wristband: str | None = None,
                 expected_version: int | None = None, now: datetime | None = None) -> StepResult:
    """Perform `step` on the product `din` after checking identity, data and guards."""
    trigger = _process_trigger(step)
    require_trigger_role(actor, trigger)
    now = aware(now)
    conn = session.connection()
    ctx = store.load_context(conn, din.strip().upper()[:13])
    if ctx is None:
        raise NotFound(f"no product with DIN {din}")
    product = ctx.product
    assert product.id is not None
    if expected_version is not None and product.version != expected_version:
        raise Conflict(f"product {product.din} was changed by someone else "
                       f"(now {product.state}); reload it")
    if not guards_for(trigger, product.state):
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"'{trigger}' is not possible while the product is {product.state}")
    # The arm is a fact no scan or data can change: a step of the other arm is refused as
    # such before the container lookup or the step rules would refuse it for another reason.
    fire(trigger, ProductFacts(state=product.state, arm=product.arm, now=now,
                               identity_confirmed=True, step_data_valid=True,
                               reagents_in_date=True, equipment_in_calibration=True,
                               witness_confirmed=True))
    witness_user = _witness(session, trigger, actor, witness, witness_password)
    in_use = store.containers_in_use(conn, product.id)
    source = _confirm_identity(session, trigger, ctx, in_use, actor, scan, wristband, now)
    outcome = _evaluate(conn, trigger, ctx, values)
    today = now.astimezone(ZoneInfo(get_settings().time_zone)).date()
    reagent_problems = expired_reagents(session, STEPS[trigger], outcome.values, today)
    equipment_problems = uncalibrated_equipment(session, STEPS[trigger], outcome.values, today)
    facts = ProductFacts(state=product.state, arm=product.arm, now=now,
                         expires_at=product.expires_at, identity_confirmed=True,
                         step_data_valid=not outcome.refused,
                         reagents_in_date=not reagent_problems,
                         equipment_in_calibration=not equipment_problems,
                         witness_confirmed=(witness_user is not None
                                            or not requires_witness(trigger)))
    new_state = fire(trigger, facts, explain={
        "reagents_in_date": "; ".join(reagent_problems),
        "equipment_in_calibration": "; ".join(equipment_problems),
        "step_data_valid": "; ".join(f.message for f in outcome.refusals),
    })
    return _write(session, trigger=trigger, ctx=ctx, actor=actor, witness=witness_user,
                  source=source, outcome=outcome, new_state=new_state.value, now=now)


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


def _confirm_identity(session: Session, trigger: Trigger, ctx: store.StepContextRow,
                      in_use: list[Container], actor: User, scan: str | None,
                      wristband: str | None, now: datetime) -> Container | None:
    product = ctx.product
    kind = input_kind(trigger, product.arm)
    if kind is None:
        return None
    container = next((c for c in in_use if c.kind == kind.value), None)
    if container is None:
        raise DomainError(ErrorCode.COI_CONTAINER_REQUIRED,
                          f"product {product.din} has no {kind.value} in use")
    if not scan or not scan.strip():
        raise DomainError(ErrorCode.IDENTITY_NOT_CONFIRMED,
                          "scan the container's label to confirm its identity")
    try:
        check_scan(session, product=product, subject_id=ctx.subject_id, container=container,
                   raw=scan)
        if trigger == Trigger.ADMINISTER:
            check_wristband(wristband or "", expected_patient_id=ctx.mrn,
                            subject_id=ctx.subject_id)
    except IdentityMismatch as error:
        record_mismatch(session, error=error, product=product, step=trigger.value, actor=actor,
                        at=now)
        raise
    problem = label_problem(session, ctx, container, kind)
    if problem is not None:
        raise DomainError(ErrorCode.LABEL_NOT_VERIFIED, problem)
    return container


def label_problem(session: Session, ctx: store.StepContextRow, container: Container,
                  kind: ContainerKind) -> str | None:
    """Why the container's label is not yet an identity a step may use, or None.

    Print-then-scan (lims.services.labels): a label counts once scanned back. The final
    product changes label with its stage: after QA release it must wear the final label,
    after issue the issue label, each printed and scanned back in its turn.
    """
    if not get_settings().require_label_scan_back:
        return None
    what = KIND_LABELS[kind]
    if container.label_verified_at is None:
        return f"print and scan back the label of the {what} before using it"
    if kind is not ContainerKind.FINAL_PRODUCT or container.id is None:
        return None
    due = current_label_kind(kind, ctx.product.state, ctx.params)
    if last_printed_kind(session, container.id) != due:
        return (f"the {what} still wears its earlier label: print its {due.value} label and "
                f"scan it back before using it")
    return None


def _evaluate(conn: Any, trigger: Trigger, ctx: store.StepContextRow,
              values: Mapping[str, object]) -> StepOutcome:
    product = ctx.product
    assert product.id is not None
    context = StepContext(arm=product.arm, weight_kg=ctx.weight_kg,
                          harvest_end=product.harvest_end,
                          previous=store.previous_results(conn, product.id))
    try:
        return evaluate_step(trigger.value, values, params=ctx.params, context=context)
    except StepDataError as error:
        raise StepDataInvalid(dict(error.errors)) from error


def _write(session: Session, *, trigger: Trigger, ctx: store.StepContextRow, actor: User,
           witness: User | None, source: Container | None, outcome: StepOutcome,
           new_state: str, now: datetime) -> StepResult:
    product = ctx.product
    assert product.id is not None and actor.id is not None
    conn = session.connection()
    old_state = product.state
    changes: dict[str, Any] = {"state": new_state, "version": product.version + 1,
                               "updated_at": now}
    if trigger == Trigger.HARVEST:
        harvest_end = store.as_datetime(outcome.values["harvest_end"])
        changes["harvest_end"] = harvest_end
        changes["expires_at"] = harvest_end + timedelta(
            hours=ctx.params.expiry_hours_after_harvest_end)
    if not store.move_product(conn, product.id, product.version, changes):
        session.rollback()
        raise Conflict(f"product {product.din} was changed by someone else; reload it")
    record = _record(trigger, product, actor, witness, source, outcome, now)
    record.id = store.insert_record(conn, record.model_dump(exclude={"id"}))
    created = _containers(conn, trigger, ctx, actor, source, outcome, now)
    events = [
        PendingEvent("state_changed", "product", product.din, "state", old_state, new_state,
                     reason=trigger.value),
        PendingEvent("step_recorded", "step_record", str(record.id), trigger.value, None,
                     record.content_hash),
        *(PendingEvent("limit_warning", "product", product.din, f.field, None, f.message)
          for f in outcome.warnings),
        *(PendingEvent("container_created", "container",
                       f"{product.din}/{c.product_code}/{c.flags}", "kind", None, c.kind)
          for c in created),
    ]
    append(session, events, user_id=actor.id, username=actor.username)
    if witness is not None:
        # The witness re-entered their password on this screen: an electronic signature.
        add_signature(session, signer=witness, meaning="Witnessed", product_id=product.id,
                      record_type="step_record", record_id=str(record.id),
                      content=step_content(record), at=now)
    session.commit()
    for key, value in changes.items():
        setattr(product, key, value)
    return StepResult(product=product, record=record,
                      warnings=tuple(f.message for f in outcome.warnings),
                      new_containers=tuple(created))


def _record(trigger: Trigger, product: Product, actor: User, witness: User | None,
            source: Container | None, outcome: StepOutcome, now: datetime) -> StepRecord:
    assert product.id is not None and actor.id is not None
    values = {k: (v.isoformat() if isinstance(v, datetime) else v)
              for k, v in outcome.values.items()}
    findings = [{"field": f.field, "code": f.code, "message": f.message, "action": f.action,
                 "value": f.value, "limit": f.limit} for f in outcome.findings]
    record = StepRecord(product_id=product.id, step=trigger.value,
                        container_id=source.id if source else None, values=values,
                        computed=dict(outcome.computed), findings=findings,
                        operator_id=actor.id, witness_id=witness.id if witness else None,
                        performed_at=now, content_hash="")
    record.content_hash = content_hash(step_content(record))
    return record


def step_content(record: StepRecord) -> dict[str, Any]:
    """What a step record's hash (and its witness's signature) covers."""
    return {"step": record.step, "values": record.values, "computed": record.computed,
            "findings": record.findings}


def _containers(conn: Any, trigger: Trigger, ctx: store.StepContextRow, actor: User,
                source: Container | None, outcome: StepOutcome,
                now: datetime) -> list[Container]:
    product = ctx.product
    assert product.id is not None and actor.id is not None
    volume = _number(outcome.values.get(_VOLUME_FIELD.get(trigger, "")))
    if trigger == Trigger.HARVEST and source is not None and source.id is not None:
        store.set_container(conn, source.id, volume_ml=volume)
    created = [Container(product_id=product.id, parent_id=source.id if source else None,
                         kind=kind.value, created_at=now, created_by_id=actor.id,
                         product_code=ctx.product_codes[product_code_key(kind, product.arm)],
                         volume_ml=_number(outcome.values.get(_KIND_VOLUME_FIELD.get(kind, "")))
                         or volume)
               for kind in STEP_OUTPUTS.get(trigger, ())]
    _insert(conn, created)
    if trigger == Trigger.FORMULATE:
        samples = _qc_samples(ctx, actor, outcome, now, parent=created[0].id)
        _insert(conn, samples)
        created += samples
    if source is not None and source.id is not None and (
            created or trigger == Trigger.ADMINISTER):
        status = "administered" if trigger == Trigger.ADMINISTER else "consumed"
        store.set_container(conn, source.id, status=status)
    return created


def _insert(conn: Any, containers: list[Container]) -> None:
    ids = store.insert_containers(conn, [c.model_dump(exclude={"id"}) for c in containers])
    for container, new_id in zip(containers, ids, strict=True):
        container.id = new_id


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _qc_samples(ctx: store.StepContextRow, actor: User, outcome: StepOutcome, now: datetime,
                parent: int | None) -> list[Container]:
    product = ctx.product
    assert product.id is not None and actor.id is not None
    count = outcome.values.get("qc_samples", 0)
    count = count if isinstance(count, int) else 0
    if count > len(QC_SAMPLE_FLAGS):
        raise InvalidInput(f"at most {len(QC_SAMPLE_FLAGS)} QC samples per product")
    code = ctx.product_codes[product_code_key(ContainerKind.QC_SAMPLE, product.arm)]
    return [Container(product_id=product.id, parent_id=parent,
                      kind=ContainerKind.QC_SAMPLE.value, product_code=code,
                      flags=QC_SAMPLE_FLAGS[i], created_at=now, created_by_id=actor.id)
            for i in range(count)]
