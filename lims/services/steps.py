"""Performing a process step: the dry-run check (step_check), then the witness, the new
state, the records, the audit and one commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from lims.audit import PendingEvent, append, content_hash
from lims.audit_actions import AuditAction
from lims.models import Container, Product, StepRecord, User
from lims.prepared import new, row_of
from lims.services import step_store as store
from lims.services.balance import carried_events, stage_recovery_deviations
from lims.services.common import aware, require_trigger_role, utcnow
from lims.services.follow_up import administration_day, schedule_follow_up
from lims.services.signatures import add_signature
from lims.services.step_check import (
    StepCheck,
    StepDataInvalid,
    _check,
    _load,
    _process_trigger,
    _raise_refusal,
    check_step,
    label_problem,
)
from lims.services.submissions import Submission, stage_saved
from lims.services.witness import PHYSICIAN_SIGNED_STEPS, confirm_physician, confirm_witness
from workflows.balance import put_out
from workflows.calculations import product_expiry
from workflows.errors import Conflict, InvalidInput
from workflows.fields import Quantity
from workflows.identity import (
    QC_SAMPLE_FLAGS,
    STEP_OUTPUTS,
    WRISTBAND_STEPS,
    ContainerKind,
    product_code_key,
)
from workflows.product import (
    ProductFacts,
    Trigger,
    fire,
    guards_for,
    not_possible,
    requires_witness,
)
from workflows.steps import STEPS, StepOutcome
from workflows.words import action_words, state_words

__all__ = ["StepCheck", "StepDataInvalid", "StepResult", "check_step", "label_problem",
           "perform_step", "step_content"]



@dataclass(frozen=True)
class StepResult:
    product: Product
    record: StepRecord
    warnings: tuple[str, ...]
    new_containers: tuple[Container, ...]


def perform_step(session: Session, *, actor: User, din: str, step: str, scan: str | None,
                 values: Mapping[str, object], witness: str | None = None,
                 witness_password: str | None = None, wristband: str | None = None,
                 expected_version: int | None = None, now: datetime | None = None,
                 physician: str | None = None,
                 physician_password: str | None = None,
                 submission: Submission | None = None) -> StepResult:
    """Perform `step` on the product `din` after checking identity, data and guards.

    At the bedside the administering physician (the operator) signs with `physician` and
    `physician_password` as well, beside the witness. A `submission` (the form's check that
    this save confirms) is marked saved in the same transaction, so a second press of Save
    is recognised (lims.services.submissions)."""
    trigger = _process_trigger(step)
    require_trigger_role(actor, trigger)
    now = aware(now)
    ctx = _load(session, din)
    product = ctx.product
    assert product.id is not None
    if expected_version is not None and product.version != expected_version:
        raise Conflict(f"product {product.din} was changed by someone else "
                       f"(now at \"{state_words(product.state)}\"); reload it")
    if not guards_for(trigger, product.state):
        raise not_possible(trigger, product.state, product.held_from)
    # The arm is a fact no scan or data can change: a step of the other arm is refused as
    # such before the container lookup or the step rules would refuse it for another reason.
    fire(trigger, ProductFacts(state=product.state, arm=product.arm, now=now,
                               identity_confirmed=True, step_data_valid=True,
                               reagents_in_date=True, equipment_in_calibration=True,
                               witness_confirmed=True))
    witness_user = _witness(session, trigger, actor, witness, witness_password)
    signer = (confirm_physician(session, actor=actor, physician=physician,
                                password=physician_password)
              if trigger in PHYSICIAN_SIGNED_STEPS else None)
    # A save needs the wristband where the step takes one: "" is checked (and refused).
    check = _check(session, trigger, ctx, actor=actor, scan=scan, values=values, now=now,
                   wristband=(wristband or "") if trigger in WRISTBAND_STEPS else None)
    _raise_refusal(check)
    assert check.outcome is not None and check.facts is not None
    new_state = fire(trigger, replace(check.facts, witness_confirmed=(
        witness_user is not None or not requires_witness(trigger))), explain=check.explain)
    return _write(session, trigger=trigger, ctx=ctx, actor=actor, witness=witness_user,
                  source=check.container, outcome=check.outcome, new_state=new_state.value,
                  now=now, physician=signer, submission=submission)


def _witness(session: Session, trigger: Trigger, actor: User, witness: str | None,
             password: str | None) -> User | None:
    if not requires_witness(trigger):
        if witness or password:
            # Never dropped in silence: the sender believes someone witnessed this step.
            raise InvalidInput(f"{action_words(trigger.value)} needs no witness: send no "
                               "witness, and nothing is recorded as witnessed")
        return None
    return confirm_witness(session, actor=actor, witness=witness, password=password)


def _write(session: Session, *, trigger: Trigger, ctx: store.StepContextRow, actor: User,
           witness: User | None, source: Container | None, outcome: StepOutcome,
           new_state: str, now: datetime, physician: User | None = None,
           submission: Submission | None = None) -> StepResult:
    product = ctx.product
    assert product.id is not None and actor.id is not None
    conn = session.connection()
    old_state = product.state
    changes: dict[str, Any] = {"state": new_state, "version": product.version + 1,
                               "updated_at": now}
    if trigger == Trigger.HARVEST:
        harvest_end = store.as_datetime(outcome.values["harvest_end"])
        changes["harvest_end"] = harvest_end
        changes["expires_at"] = product_expiry(
            harvest_end, ctx.params.expiry_hours_after_harvest_end,
            latest_harvest_end=utcnow() + timedelta(minutes=ctx.params.clock_skew_minutes))
    if not store.move_product(conn, product.id, product.version, changes):
        session.rollback()
        raise Conflict(f"product {product.din} was changed by someone else; reload it")
    record = _record(trigger, product, actor, witness, source, outcome, now)
    record.id = store.insert_record(conn, row_of(record))
    created = _containers(conn, trigger, ctx, actor, source, outcome, now)
    events = [
        PendingEvent(AuditAction.STATE_CHANGED, "product", product.din, "state", old_state,
                     new_state, reason=trigger.value),
        PendingEvent(AuditAction.STEP_RECORDED, "step_record", str(record.id), trigger.value, None,
                     record.content_hash),
        *(PendingEvent(AuditAction.LIMIT_WARNING, "product", product.din, f.field, None, f.message)
          for f in outcome.warnings),
        *(PendingEvent(AuditAction.CONTAINER_CREATED, "container",
                       f"{product.din}/{c.product_code}/{c.flags}", "kind", None, c.kind)
          for c in created),
        *carried_events(record, outcome),
    ]
    if submission is not None:
        stage_saved(session, user_id=actor.id, page=submission.page, token=submission.token,
                    at=now)
    # The audit head's lock, which every writer waits for, is taken as late as possible:
    # what the step staged is written first, so it is held only until the commit.
    session.flush()
    append(session, events, user_id=actor.id, username=actor.username)
    stage_recovery_deviations(session, product=product, step=trigger.value, outcome=outcome,
                              actor=actor, now=now)
    if trigger == Trigger.ADMINISTER:  # its follow-up visits, in the same transaction
        schedule_follow_up(session, product=product,
                           administered_on=administration_day(outcome.values),
                           user_id=actor.id, username=actor.username, now=now)
    if witness is not None:
        # The witness re-entered their password on this screen: an electronic signature.
        add_signature(session, signer=witness, meaning="Witnessed", product_id=product.id,
                      record_type="step_record", record_id=str(record.id),
                      content=step_content(record), at=now)
    if physician is not None:  # the administering physician's own signature at the bedside
        add_signature(session, signer=physician, meaning="Administered", product_id=product.id,
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
    # new(): the model's defaults without its constructor's cost (lims.prepared)
    record = new(StepRecord, product_id=product.id, step=trigger.value,
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
    spec = STEPS[trigger]  # the registry says which value is each container's volume
    if trigger == Trigger.HARVEST and source is not None and source.id is not None:
        store.set_container(conn, source.id, volume_ml=put_out(
            spec, outcome.values, ContainerKind.MARROW_BAG, Quantity.VOLUME))
    created = [new(Container, product_id=product.id, parent_id=source.id if source else None,
                   kind=kind.value, created_at=now, created_by_id=actor.id,
                   product_code=ctx.product_codes[product_code_key(kind, product.arm)],
                   volume_ml=put_out(spec, outcome.values, kind, Quantity.VOLUME))
               for kind in STEP_OUTPUTS.get(trigger, ())]
    _insert(conn, created)
    if trigger == Trigger.FORMULATE:
        samples = _qc_samples(ctx, actor, outcome, now, parent=created[0].id)
        samples += _retention_samples(ctx, actor, outcome, now, parent=created[0].id,
                                      after=len(samples))
        _insert(conn, samples)
        created += samples
    if source is not None and source.id is not None and (
            created or trigger == Trigger.ADMINISTER):
        status = "administered" if trigger == Trigger.ADMINISTER else "consumed"
        store.set_container(conn, source.id, status=status)
    return created


def _retention_samples(ctx: store.StepContextRow, actor: User, outcome: StepOutcome,
                       now: datetime, parent: int | None, after: int) -> list[Container]:
    """Retention samples (issue 16): tubes of the final product kept in storage. They carry
    the final product's code with the next local flags after the QC tubes (21..)."""
    product = ctx.product
    assert product.id is not None and actor.id is not None
    count = outcome.values.get("retention_samples") or 0
    count = count if isinstance(count, int) else 0
    if not count:
        return []
    if not outcome.values.get("retention_drawn_at"):
        raise InvalidInput("retention_drawn_at: enter when the retention samples were drawn")
    first = max(after, 2)  # never 07 (test tube) or 10 (bacterial testing): those are QC's
    if first + count > len(QC_SAMPLE_FLAGS):
        raise InvalidInput("too many QC and retention samples for one product")
    code = ctx.product_codes[product_code_key(ContainerKind.RETENTION_SAMPLE, product.arm)]
    volume = put_out(STEPS[Trigger.FORMULATE], outcome.values, ContainerKind.RETENTION_SAMPLE,
                     Quantity.VOLUME)
    return [new(Container, product_id=product.id, parent_id=parent,
                kind=ContainerKind.RETENTION_SAMPLE.value, product_code=code,
                flags=QC_SAMPLE_FLAGS[first + i], created_at=now, created_by_id=actor.id,
                volume_ml=volume)
            for i in range(count)]


def _insert(conn: Any, containers: list[Container]) -> None:
    ids = store.insert_containers(conn, [row_of(c) for c in containers])
    for container, new_id in zip(containers, ids, strict=True):
        container.id = new_id


def _qc_samples(ctx: store.StepContextRow, actor: User, outcome: StepOutcome, now: datetime,
                parent: int | None) -> list[Container]:
    product = ctx.product
    assert product.id is not None and actor.id is not None
    count = outcome.values.get("qc_samples", 0)
    count = count if isinstance(count, int) else 0
    if count > len(QC_SAMPLE_FLAGS):
        raise InvalidInput(f"at most {len(QC_SAMPLE_FLAGS)} QC samples per product")
    code = ctx.product_codes[product_code_key(ContainerKind.QC_SAMPLE, product.arm)]
    volume = put_out(STEPS[Trigger.FORMULATE], outcome.values, ContainerKind.QC_SAMPLE,
                     Quantity.VOLUME)
    return [new(Container, product_id=product.id, parent_id=parent,
                kind=ContainerKind.QC_SAMPLE.value, product_code=code,
                flags=QC_SAMPLE_FLAGS[i], created_at=now, created_by_id=actor.id,
                volume_ml=volume)
            for i in range(count)]
