"""Correcting a recorded step: a new record with the reason, old → new in the audit trail.

A step record is never changed. A correction re-evaluates the step with the corrected
values, under the same rules as the step itself (physical ranges, time order, not in the
future, the cell and volume balance, protocol refusals, lots and instruments), writes a new
record that names the record it corrects and why, and marks the old one superseded: it
stays for the history and counts no more. Steps recorded after it that rest on its figures
(an input carried forward, a recovery, the dose from the enrichment purity) are
re-evaluated too; a figure that changes is corrected with them, and a correction that
would make a later record impossible is refused as a whole.

A correction after QA's release changes what QA signed: the release is suspended in the
same transaction, and QA must re-release (or reject) the product. In the same transaction
too: every printed label that would now say something else is superseded and due again
(lims.services.label_generations), and the current QC results are judged again on the
corrected figures (lims.services.qc_rejudgement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from labels import Label
from lims.audit import PendingEvent, append, canonical, content_hash
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Container, PrintJob, Product, QcResult, StepRecord, User
from lims.services import step_store as store
from lims.services.balance import carried_events, stage_recovery_deviations
from lims.services.clock import refuse_future
from lims.services.common import (
    aware,
    din_text,
    product_by_din,
    require_role,
    required_reason,
    utcnow,
)
from lims.services.label_generations import labels_in_use, stage_superseded_labels
from lims.services.qc_consequences import released_from
from lims.services.qc_rejudgement import stage_rejudgement
from lims.services.step_check import (
    StepDataInvalid,
    _harvesting_physician,
    _materials,
    _process_trigger,
)
from lims.services.steps import step_content
from lims.services.transitions import is_final, stage_transition
from workflows.balance import RECOVERY_CODE, put_out
from workflows.calculations import product_expiry
from workflows.errors import Conflict, DomainError, ErrorCode, InvalidInput, NotFound
from workflows.fields import Quantity
from workflows.identity import STEP_OUTPUTS, ContainerKind
from workflows.product import TRIGGER_ROLES, Trigger
from workflows.roles import Role
from workflows.step_times import (
    PROCESS_ORDER,
    ReportedTime,
    future_problems,
    order_problems,
    reported_times,
)
from workflows.steps import STEPS, StepDataError, StepOutcome, evaluate_step
from workflows.words import state_words

# Anyone who may perform the step may correct it, and a supervisor any step.
CORRECTING_ROLES = frozenset({Role.SUPERVISOR})
# Values that made containers (the number of QC sample tubes, each labelled): a wrong one is
# a deviation, not a correction of the record.
NOT_CORRECTABLE = {"formulate": frozenset({"qc_samples"})}
# Steps QA's release covers (lims.services.release); a correction of one suspends it.
_RELEASED_CONTENT = frozenset(PROCESS_ORDER[:PROCESS_ORDER.index("formulate") + 1])


@dataclass(frozen=True)
class Correction:
    """One record replaced: the old one, what replaces it and which values changed."""

    old: StepRecord
    outcome: StepOutcome
    changed: tuple[str, ...]
    carried: tuple[str, ...] = ()


@dataclass
class CorrectionResult:
    product: Product
    records: list[StepRecord] = field(default_factory=list)  # the new records, step order
    warnings: tuple[str, ...] = ()
    release_suspended: bool = False
    superseded_labels: tuple[PrintJob, ...] = ()  # prints that no longer say what is true
    rejudged: tuple[QcResult, ...] = ()  # QC results whose verdict the correction changed


def correct_step(session: Session, *, actor: User, din: str, step: str,
                 changes: Mapping[str, object], reason: str,
                 now: datetime | None = None) -> CorrectionResult:
    """Correct the recorded `step` of the product `din` with `changes` (field → new value;
    None clears an optional field), for `reason`. Everything or nothing is written."""
    trigger = _process_trigger(step)
    label = STEPS[trigger].label
    require_role(actor, TRIGGER_ROLES[trigger] | CORRECTING_ROLES, f"correct the {label}")
    reason = _reason(reason)
    now = aware(now)
    ctx = _load(session, din)
    refuse_future(now, what="the time of the correction",
                  skew_minutes=ctx.params.clock_skew_minutes)
    product = product_by_din(session, din)
    if is_final(product.state):
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"product {product.din} is at \"{state_words(product.state)}\": its "
                          "records are closed; "
                          "record a deviation instead")
    current = _current_records(session, product)
    if trigger.value not in current:
        raise NotFound(f"the {label} of product {product.din} has not been recorded")
    first = _first(session, ctx, actor, current[trigger.value], changes, now)
    corrections = [first, *_later(session, ctx, current, first)]
    assert product.id is not None
    printed = labels_in_use(session, product.din, product.id)  # what the labels say now
    return _write(session, ctx, product, actor, corrections, reason, now, printed)


def _reason(reason: str) -> str:
    # One line in the trail and the batch record, however it was typed.
    return required_reason(" ".join((reason or "").split()),
                           needs="a correction needs a reason: say what was wrong and where "
                                 "the right value comes from")


def _load(session: Session, din: str) -> store.StepContextRow:
    ctx = store.load_context(session.connection(), din_text(din))
    if ctx is None:
        raise NotFound(f"no product with DIN {din}")
    return ctx


def _current_records(session: Session, product: Product) -> dict[str, StepRecord]:
    rows = session.exec(select(StepRecord).where(
        StepRecord.product_id == product.id, col(StepRecord.superseded).is_(False))
        .order_by(col(StepRecord.id)))
    return {row.step: row for row in rows}


def _first(session: Session, ctx: store.StepContextRow, actor: User, old: StepRecord,
           changes: Mapping[str, object], now: datetime) -> Correction:
    """The corrected step itself, checked as the step would be."""
    spec = STEPS[old.step]
    known = {f.name for f in spec.fields}
    if not changes:
        raise InvalidInput("nothing to correct: name at least one value and its new value")
    errors = {str(name): "is not a field of this step" for name in changes if name not in known}
    errors.update({name: "cannot be corrected: it made containers; record a deviation"
                   for name in changes if name in NOT_CORRECTABLE.get(old.step, ())})
    if errors:
        raise StepDataInvalid(errors)
    trigger = Trigger(old.step)
    raw, problem = _harvesting_physician(session, trigger, actor, {**old.values, **changes})
    if problem:
        raise StepDataInvalid(dict(problem))
    outcome = _evaluate(ctx, old.step, raw, _records_before(session, ctx, old.step),
                        _drawn(session, ctx))
    changed = tuple(name for name in changes if _differs(outcome.values.get(name),
                                                         old.values.get(name)))
    if not changed:
        raise InvalidInput("nothing to correct: the values given are those recorded")
    problems = future_problems(spec, outcome.values, server_now=utcnow(),
                               skew_minutes=ctx.params.clock_skew_minutes)
    assert ctx.product.id is not None
    earlier = store.earlier_times(session.connection(), ctx.product.id, old.step, STEPS)
    problems.update(order_problems(spec, outcome.values, earlier))
    if problems:
        raise StepDataInvalid(problems)
    _refusals(old.step, outcome)
    _lots_and_instruments(session, old, outcome, changed)
    return Correction(old, outcome, changed, outcome.carried)


def _evaluate(ctx: store.StepContextRow, step: str, raw: Mapping[str, object],
              records: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]],
              drawn: Mapping[ContainerKind, float]) -> StepOutcome:
    try:
        return evaluate_step(step, raw, params=ctx.params,
                             context=store.context_of(ctx, records, drawn))
    except StepDataError as error:
        raise StepDataInvalid(dict(error.errors)) from error


def _records_before(session: Session, ctx: store.StepContextRow,
                    step: str) -> dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]]:
    before = PROCESS_ORDER[:PROCESS_ORDER.index(step)]
    product = session.get(Product, ctx.product.id)
    assert product is not None
    return {name: (r.values, r.computed) for name, r in _current_records(session, product).items()
            if name in before}


def _drawn(session: Session, ctx: store.StepContextRow) -> dict[ContainerKind, float]:
    assert ctx.product.id is not None
    return store.drawn_volumes(session.connection(), ctx.product.id)


def _refusals(step: str, outcome: StepOutcome, *, later: str = "") -> None:
    if outcome.refused:
        where = f"the recorded {STEPS[step].label} would then be refused: " if later else ""
        raise DomainError(ErrorCode.LIMIT_REFUSED,
                          where + "; ".join(f.message for f in outcome.refusals))


def _lots_and_instruments(session: Session, old: StepRecord, outcome: StepOutcome,
                          changed: tuple[str, ...]) -> None:
    """A corrected lot or instrument must have been usable on the day the step was done."""
    spec = STEPS[old.step]
    if not any(name in spec.reagent_fields or name in spec.equipment_fields
               for name in changed):
        return
    reagents, equipment = _materials(session, Trigger(old.step), outcome, old.performed_at)
    if reagents or equipment:
        code = ErrorCode.REAGENT_EXPIRED if reagents else ErrorCode.EQUIPMENT_OUT_OF_CALIBRATION
        raise DomainError(code, "; ".join(reagents + equipment))


def _later(session: Session, ctx: store.StepContextRow, current: Mapping[str, StepRecord],
           first: Correction) -> list[Correction]:
    """The later records re-evaluated on the corrected figures; those whose values or
    figures change are corrected too. Refused if one of them would not stand."""
    step = first.old.step
    records = {name: (r.values, r.computed) for name, r in current.items()
               if PROCESS_ORDER.index(name) < PROCESS_ORDER.index(step)}
    records[step] = (_stored(first.outcome.values), dict(first.outcome.computed))
    context = _harvest_moved(ctx, first)
    drawn = _drawn(session, ctx)
    found = []
    for name in PROCESS_ORDER[PROCESS_ORDER.index(step) + 1:]:
        old = current.get(name)
        if old is None:
            continue
        carried = _carried(session, old)
        raw = {k: v for k, v in old.values.items() if k not in carried}
        try:
            outcome = _evaluate(context, name, raw, records, drawn)
        except StepDataInvalid as error:
            raise DomainError(ErrorCode.STEP_DATA_INVALID, _later_text(name, error.errors)
                              ) from error
        _refusals(name, outcome, later=name)
        problems = order_problems(STEPS[name], outcome.values, _times(records, name))
        if problems:
            raise DomainError(ErrorCode.STEP_DATA_INVALID, _later_text(name, problems))
        values = _stored(outcome.values)
        records[name] = (values, dict(outcome.computed))
        changed = tuple(k for k in {*values, *old.values} if _differs(values.get(k),
                                                                       old.values.get(k)))
        if changed or _figures_differ(outcome.computed, old.computed):
            found.append(Correction(old, outcome, changed, outcome.carried))
    return found


def _later_text(step: str, errors: Mapping[str, str]) -> str:
    labels = {f.name: f.label for f in STEPS[step].fields}
    listed = "; ".join(f"{labels.get(name, name)}: {text}" for name, text in errors.items())
    return (f"the correction would make the recorded {STEPS[step].label} impossible "
            f"({listed}); check both records, and record a deviation if both are right")


def _harvest_moved(ctx: store.StepContextRow, first: Correction) -> store.StepContextRow:
    """The product as later steps see it: a corrected harvest end moves their clock."""
    if first.old.step != "harvest":
        return ctx
    end = store.as_datetime(first.outcome.values["harvest_end"])
    product = ctx.product.model_copy(update={"harvest_end": end})
    return store.StepContextRow(product=product, subject_id=ctx.subject_id, mrn=ctx.mrn,
                                weight_kg=ctx.weight_kg, params=ctx.params,
                                product_codes=ctx.product_codes)


def _times(records: Mapping[str, tuple[Mapping[str, Any], Mapping[str, Any]]],
           step: str) -> list[ReportedTime]:
    before = PROCESS_ORDER[:PROCESS_ORDER.index(step)]
    return [t for name, (values, _) in records.items() if name in before
            for t in reported_times(STEPS[name], values)]


def _carried(session: Session, record: StepRecord) -> frozenset[str]:
    """The inputs the bench left empty on `record` (taken from the earlier step)."""
    rows = session.exec(select(AuditEvent.field).where(
        AuditEvent.action == AuditAction.INPUT_CARRIED_FORWARD,
        AuditEvent.entity == "step_record", AuditEvent.entity_id == str(record.id)))
    return frozenset(rows)


def _stored(values: Mapping[str, object]) -> dict[str, object]:
    """Values as a step record stores them (times as ISO-8601 text)."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def _differs(new: object, old: object) -> bool:
    new_time, old_time = store.as_stored_moment(new), store.as_stored_moment(old)
    if new_time is not None and old_time is not None:
        return new_time != old_time
    if isinstance(new, datetime):
        return True
    return bool(new != old)


def _figures_differ(new: Mapping[str, float], old: Mapping[str, Any]) -> bool:
    if set(new) != set(old):
        return True
    return any(abs(float(new[k]) - float(old[k])) > 1e-9 * max(abs(float(old[k])), 1.0)
               for k in new)


def _write(session: Session, ctx: store.StepContextRow, product: Product, actor: User,
           corrections: list[Correction], reason: str, now: datetime,
           printed: Mapping[int, Label]) -> CorrectionResult:
    try:
        result = _stage(session, ctx, product, actor, corrections, reason, now, printed)
    except DomainError:
        session.rollback()  # the records, their events and the suspension are one change
        raise
    session.commit()
    session.refresh(product)
    return result


def _stage(session: Session, ctx: store.StepContextRow, product: Product, actor: User,
           corrections: list[Correction], reason: str, now: datetime,
           printed: Mapping[int, Label]) -> CorrectionResult:
    assert actor.id is not None and product.id is not None
    result = CorrectionResult(product=product)
    events: list[PendingEvent] = []
    first_label = STEPS[corrections[0].old.step].label
    for index, item in enumerate(corrections):
        why = reason if index == 0 else (f"recomputed after the correction of the "
                                         f"{first_label.lower()}: {reason}")
        record = _new_record(item, actor, why, now)
        record.id = store.insert_record(session.connection(), record.model_dump(exclude={"id"}))
        item.old.superseded = True
        session.add(item.old)
        result.records.append(record)
        events += _events(item, record, why)
        _containers(session, product, item)
        if not any(f.get("code") == RECOVERY_CODE for f in item.old.findings):
            stage_recovery_deviations(session, product=product, step=item.old.step,
                                      outcome=item.outcome, actor=actor, now=now)
    append(session, events, user_id=actor.id, username=actor.username)
    _move_harvest(session, ctx, product, corrections[0])
    what = f"the {first_label.lower()}"
    result.superseded_labels = tuple(stage_superseded_labels(
        session, product=product, before=printed, actor=actor, now=now,
        reason=f"{first_label} corrected: {reason}"))
    result.release_suspended = _suspend_or_bump(session, product, actor, corrections,
                                                reason, now)
    result.rejudged = tuple(stage_rejudgement(session, product=product, actor=actor,
                                              what=what, reason=reason, now=now))
    result.warnings = tuple(f.message for c in corrections for f in c.outcome.warnings)
    return result


def _new_record(item: Correction, actor: User, reason: str, now: datetime) -> StepRecord:
    assert actor.id is not None
    findings = [{"field": f.field, "code": f.code, "message": f.message, "action": f.action,
                 "value": f.value, "limit": f.limit} for f in item.outcome.findings]
    record = StepRecord(product_id=item.old.product_id, step=item.old.step,
                        container_id=item.old.container_id,
                        values=_stored(item.outcome.values),
                        computed=dict(item.outcome.computed), findings=findings,
                        operator_id=actor.id, witness_id=None, performed_at=now,
                        content_hash="", corrects_id=item.old.id, reason=reason)
    record.content_hash = content_hash(step_content(record))
    return record


def _events(item: Correction, record: StepRecord, reason: str) -> list[PendingEvent]:
    """The new record (naming the one it corrects), each changed value old → new, each
    figure recomputed, the inputs carried forward and any new warning."""
    entity = str(record.id)
    events = [PendingEvent(AuditAction.STEP_CORRECTED, "step_record", entity, record.step,
                           str(item.old.id), record.content_hash, reason=reason)]
    events += [PendingEvent(AuditAction.STEP_VALUE_CORRECTED, "step_record", entity, name,
                            canonical(item.old.values.get(name)),
                            canonical(record.values.get(name)), reason=reason)
               for name in item.changed]
    events += [PendingEvent(AuditAction.STEP_VALUE_CORRECTED, "step_record", entity, name,
                            canonical(item.old.computed.get(name)),
                            canonical(record.computed.get(name)), reason=reason)
               for name in record.computed
               if _figures_differ({name: record.computed[name]},
                                  {name: item.old.computed.get(name, float("nan"))})]
    events += carried_events(record, item.outcome)
    before = {f.get("message") for f in item.old.findings}
    events += [PendingEvent(AuditAction.LIMIT_WARNING, "step_record", entity, f.field, None,
                            f.message) for f in item.outcome.warnings if f.message not in before]
    return events


def _containers(session: Session, product: Product, item: Correction) -> None:
    """The containers the step filled hold the corrected volume."""
    spec = STEPS[item.old.step]
    kinds = list(STEP_OUTPUTS.get(item.old.step, ()))
    kinds += {"harvest": [ContainerKind.MARROW_BAG],
              "formulate": [ContainerKind.QC_SAMPLE]}.get(item.old.step, [])
    for kind in kinds:
        volume = put_out(spec, item.outcome.values, kind, Quantity.VOLUME)
        if volume is None or volume == put_out(spec, item.old.values, kind, Quantity.VOLUME):
            continue
        session.execute(update(Container).where(
            Container.product_id == product.id,  # type: ignore[arg-type]
            Container.kind == kind.value).values(volume_ml=volume))  # type: ignore[arg-type]


def _move_harvest(session: Session, ctx: store.StepContextRow, product: Product,
                  first: Correction) -> None:
    """Move the product's harvest end and expiry with a corrected harvest."""
    if first.old.step != "harvest" or "harvest_end" not in first.changed:
        return
    end = store.as_datetime(first.outcome.values["harvest_end"])
    changes: dict[str, Any] = {"harvest_end": end, "expires_at": product_expiry(
        end, ctx.params.expiry_hours_after_harvest_end,
        latest_harvest_end=utcnow() + timedelta(minutes=ctx.params.clock_skew_minutes))}
    session.execute(update(Product).where(
        Product.id == product.id).values(**changes))  # type: ignore[arg-type]
    for key, value in changes.items():
        setattr(product, key, value)


def _suspend_or_bump(session: Session, product: Product, actor: User,
                     corrections: list[Correction], reason: str, now: datetime) -> bool:
    """Suspend a release whose content changed, else bump the product's version (open
    forms must reload)."""
    first = corrections[0]
    covered = any(c.old.step in _RELEASED_CONTENT for c in corrections)
    if covered and released_from(product) is not None:
        stage_transition(session, product=product, trigger=Trigger.SUSPEND_RELEASE,
                         actor=actor, now=now, facts={"failed_after_release": True},
                         reason=f"release suspended: the {STEPS[first.old.step].label.lower()} "
                                f"was corrected after release ({reason}); QA must review "
                                "and re-release")
        return True
    version = product.version + 1
    moved = session.execute(update(Product).where(
        Product.id == product.id, Product.version == product.version,  # type: ignore[arg-type]
    ).values(version=version, updated_at=now))
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"product {product.din} was changed by someone else; reload it")
    product.version = version  # what the row holds now (a QC failure may move it again)
    return False


__all__ = ["CORRECTING_ROLES", "CorrectionResult", "correct_step"]
