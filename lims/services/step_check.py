"""The dry-run check of a process step, shared by the web page's pre-save check and by
perform_step, so each guard is written once: identity of the scanned container (and the
patient's wristband), the step's data, its times, materials and the state machine's guards.

Nothing is written except a refused scan, which is recorded as a chain-of-identity event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from lims.config import get_settings
from lims.models import Container, User
from lims.services import step_store as store
from lims.services.common import aware, din_text, utcnow
from lims.services.identity import check_scan, record_mismatch
from lims.services.label_content import current_label_kind, last_printed_kind
from lims.services.label_generations import check_generation, scanned_superseded
from lims.services.materials import expired_reagents, uncalibrated_equipment
from workflows.errors import DomainError, ErrorCode, IdentityMismatch, InvalidInput, NotFound
from workflows.identity import (
    KIND_LABELS,
    WRISTBAND_STEPS,
    ContainerKind,
    check_wristband,
    input_kind,
)
from workflows.product import ProductFacts, Trigger, fire
from workflows.roles import Role
from workflows.step_times import future_problems, order_problems, recorded_not_future
from workflows.steps import STEPS, StepDataError, StepOutcome, evaluate_step
from workflows.words import label_kind_words

PROCESS_STEPS = frozenset({Trigger.HARVEST, Trigger.RECEIVE, Trigger.SEDIMENT,
                           Trigger.ISOLATE_MNC, Trigger.ENRICH, Trigger.FORMULATE,
                           Trigger.ISSUE, Trigger.ADMINISTER})
# Steps that take the product to the patient: it must be in date by the server's clock.
SERVER_CLOCK_STEPS = frozenset({Trigger.ISSUE, Trigger.ADMINISTER})
# Steps at which only the container's current label, read from its square code, is accepted
# (lims.services.label_generations); scan-back checks the same in lims.services.labels.
GENERATION_STEPS = frozenset({Trigger.ISSUE, Trigger.ADMINISTER})


class StepDataInvalid(DomainError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(ErrorCode.STEP_DATA_INVALID,
                         "; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class StepCheck:
    """What saving a step would do, found without writing anything but a refused scan.

    The web page's pre-save check shows it; perform_step turns it into a refusal or a save,
    so each guard is written once. scan/wristband: none (the step takes none), missing,
    ok or refused.
    """

    step: str
    context: store.StepContextRow
    container: Container | None = None
    container_label: str = ""
    scan: str = "none"
    wristband: str = "none"
    refusal: IdentityMismatch | None = None
    identity_error: DomainError | None = None  # no container in use / label not ready
    label_problem: str | None = None  # why the container's label may not be used yet
    field_errors: dict[str, str] = field(default_factory=dict)
    outcome: StepOutcome | None = None
    facts: ProductFacts | None = None
    explain: dict[str, str] = field(default_factory=dict)
    error: DomainError | None = None  # a lot or instrument that cannot be checked
    blocking: list[str] = field(default_factory=list)

    @property
    def evaluated(self) -> bool:
        return self.outcome is not None and not self.field_errors

    @property
    def computed(self) -> Mapping[str, float]:
        return self.outcome.computed if self.evaluated and self.outcome else {}

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.outcome.warnings] if self.evaluated and self.outcome \
            else []

    @property
    def ready(self) -> bool:
        """Everything checked and nothing refused: the step may be saved."""
        return (self.evaluated and self.scan in ("none", "ok")
                and self.wristband in ("none", "ok") and not self.field_errors
                and not self.blocking and self.refusal is None)


def check_step(session: Session, *, actor: User | None, din: str, step: str, scan: str | None,
               values: Mapping[str, object] | None, wristband: str | None = None,
               now: datetime | None = None, field_errors: Mapping[str, str] | None = None,
               record: bool = True) -> StepCheck:
    """Dry run of `step`: identity, computed values, warnings and refusals; writes nothing
    but a refused scan (recorded and committed unless `record` is False, for a reload).

    values=None checks the scans only. A missing scan or wristband is reported, not refused.
    The actor is who scanned, recorded with a refusal; None only when `record` is False.
    """
    trigger = _process_trigger(step)
    ctx = _load(session, din)
    return _check(session, trigger, ctx, actor=actor, scan=scan, wristband=wristband,
                  values=values, now=aware(now), field_errors=field_errors, record=record)


def _load(session: Session, din: str) -> store.StepContextRow:
    ctx = store.load_context(session.connection(), din_text(din))
    if ctx is None:
        raise NotFound(f"no product with DIN {din}")
    return ctx


def _check(session: Session, trigger: Trigger, ctx: store.StepContextRow, *,
           actor: User | None, scan: str | None, wristband: str | None,
           values: Mapping[str, object] | None, now: datetime,
           field_errors: Mapping[str, str] | None = None, record: bool = True) -> StepCheck:
    """The dry run on a loaded product (perform_step has loaded and guarded it already)."""
    check = _identity(session, trigger, ctx, scan=scan, wristband=wristband)
    if check.refusal is not None:
        if record:
            if actor is None:
                raise ValueError("a refused scan is recorded with who scanned: pass the actor")
            record_mismatch(session, error=check.refusal, product=ctx.product,
                            step=trigger.value, actor=actor, at=now)
        return check
    check.field_errors.update(field_errors or {})
    if values is None and not check.field_errors:
        return check
    values, physician_problem = _harvesting_physician(session, trigger, actor, values or {})
    check.field_errors.update(physician_problem)
    try:
        check.outcome = _evaluate(session.connection(), trigger, ctx, values)
    except StepDataInvalid as error:
        for name, message in error.errors.items():
            check.field_errors.setdefault(name, message)
        return check
    check.field_errors.update(_time_problems(session, trigger, ctx, check.outcome, now))
    if not check.field_errors:
        _guards(session, check, trigger, ctx, now)
    return check


def _harvesting_physician(session: Session, trigger: Trigger, actor: User | None,
                          values: Mapping[str, object],
                          ) -> tuple[Mapping[str, object], dict[str, str]]:
    """The harvest names the physician who aspirated: the operator when a physician records
    it, else the physician the form names, who must be an active physician user."""
    if trigger != Trigger.HARVEST:
        return values, {}
    name = str(values.get("harvesting_physician") or "").strip()
    if not name:
        if actor is not None and actor.role == Role.PHYSICIAN:
            return {**values, "harvesting_physician": actor.username}, {}
        return values, {"harvesting_physician": "is required: enter the user name of the "
                                                "physician who harvested the marrow"}
    user = session.exec(select(User).where(User.username == name)).first()
    if user is None or not user.active:
        return values, {"harvesting_physician": f"there is no active user {name!r}: enter "
                                                "the user name of the harvesting physician"}
    if user.role != Role.PHYSICIAN:
        return values, {"harvesting_physician": f"{user.full_name} ({name}) is a {user.role}, "
                                                "not a physician: enter the physician who "
                                                "harvested the marrow"}
    return {**values, "harvesting_physician": name}, {}


def _time_problems(session: Session, trigger: Trigger, ctx: store.StepContextRow,
                   outcome: StepOutcome, now: datetime) -> dict[str, str]:
    """Times in the future by the server's clock (not the stated one), or out of order."""
    server_now, skew = utcnow(), ctx.params.clock_skew_minutes
    spec = STEPS[trigger]
    problems = future_problems(spec, outcome.values, server_now=server_now, skew_minutes=skew)
    if not recorded_not_future(now, server_now=server_now, skew_minutes=skew):
        problems["performed_at"] = (f"the step is recorded as done at {now.isoformat()}, "
                                    "which is in the future by the server's clock")
    assert ctx.product.id is not None
    conn = session.connection()
    earlier = store.earlier_times(conn, ctx.product.id, trigger.value, STEPS,
                                  records=store.records_of(conn, ctx))
    for name, message in order_problems(spec, outcome.values, earlier).items():
        problems.setdefault(name, message)
    return problems


def _identity(session: Session, trigger: Trigger, ctx: store.StepContextRow, *,
              scan: str | None, wristband: str | None) -> StepCheck:
    """Scan(s) of the step checked against the record; a mismatch is kept, not raised."""
    product = ctx.product
    check = StepCheck(step=trigger.value, context=ctx)
    kind = input_kind(trigger, product.arm)
    if kind is not None:
        _find_container(session, check, kind)
    if trigger in WRISTBAND_STEPS:
        check.wristband = "missing"
    try:
        if check.container is not None and scan and scan.strip():
            check_scan(session, product=product, subject_id=ctx.subject_id,
                       container=check.container, raw=scan)
            # A label a correction superseded is refused as such, scanned back or not.
            if trigger in GENERATION_STEPS and (not check.label_problem or scanned_superseded(
                    session, din=product.din, container=check.container, raw=scan)):
                check_generation(session, product=product, container=check.container,
                                 due=current_label_kind(ContainerKind(check.container.kind),
                                                        product.state, ctx.params), raw=scan)
            check.scan = "ok"
            if check.label_problem:
                check.identity_error = DomainError(ErrorCode.LABEL_NOT_VERIFIED,
                                                   check.label_problem)
                check.blocking.append(
                    f"Label not ready: {check.label_problem} (on the product page).")
        # "" is a wristband that must be there (a save); None is one not scanned yet.
        if check.wristband == "missing" and wristband is not None and (
                wristband or check.scan != "missing"):
            check_wristband(wristband, expected_patient_id=ctx.mrn, subject_id=ctx.subject_id)
            check.wristband = "ok"
    except IdentityMismatch as error:
        check.refusal = error
        if check.scan == "missing":
            check.scan = "refused"
        else:
            check.wristband = "refused"
    return check


def _find_container(session: Session, check: StepCheck, kind: ContainerKind) -> None:
    product = check.context.product
    assert product.id is not None
    # Every container of the product, read once: the balance takes them too (step_store).
    family = store.family_of(session.connection(), check.context)
    check.container = next((c for c in family if c.status == "in_use" and c.kind == kind.value),
                           None)
    check.container_label = KIND_LABELS[kind]
    check.scan = "missing"
    if check.container is None:
        check.identity_error = DomainError(
            ErrorCode.COI_CONTAINER_REQUIRED,
            f"product {product.din} has no {check.container_label} in use")
        check.blocking.append(check.identity_error.detail)
    else:
        check.label_problem = label_problem(session, check.context, check.container, kind)


def _guards(session: Session, check: StepCheck, trigger: Trigger,
            ctx: store.StepContextRow, now: datetime) -> None:
    """Protocol refusals, materials and the state machine's guards, tried without firing."""
    outcome = check.outcome
    assert outcome is not None
    check.blocking += [f.message for f in outcome.refusals]
    try:
        reagent_problems, equipment_problems = _materials(session, trigger, outcome, now)
    except DomainError as error:
        check.error = error
        check.blocking.append(error.detail)
        return
    check.blocking += reagent_problems + equipment_problems
    product = ctx.product
    # Issue and administration: in date by the server's clock too, whatever time the request
    # states. Processing steps may be entered late for the time they were done.
    in_date_at = max(now, utcnow()) if trigger in SERVER_CLOCK_STEPS else now
    check.facts = ProductFacts(state=product.state, arm=product.arm, now=in_date_at,
                               expires_at=product.expires_at, identity_confirmed=True,
                               step_data_valid=not outcome.refused,
                               reagents_in_date=not reagent_problems,
                               equipment_in_calibration=not equipment_problems,
                               witness_confirmed=True)
    check.explain = {"reagents_in_date": "; ".join(reagent_problems),
                     "equipment_in_calibration": "; ".join(equipment_problems),
                     "step_data_valid": "; ".join(f.message for f in outcome.refusals)}
    try:  # the other guards (the product in date...) once the above are set aside
        fire(trigger, replace(check.facts, step_data_valid=True, reagents_in_date=True,
                              equipment_in_calibration=True))
    except DomainError as error:
        check.blocking.append(error.detail)


def _materials(session: Session, trigger: Trigger, outcome: StepOutcome,
               now: datetime) -> tuple[list[str], list[str]]:
    """Problems of the lots and instruments the step names (expiry, calibration)."""
    today = now.astimezone(ZoneInfo(get_settings().time_zone)).date()
    return (expired_reagents(session, STEPS[trigger], outcome.values, today),
            uncalibrated_equipment(session, STEPS[trigger], outcome.values, today))


def _raise_refusal(check: StepCheck) -> None:
    """Turn what the check found into the refusal a save meets, most basic first."""
    if check.refusal is not None:
        raise check.refusal
    error = check.identity_error
    if error is not None and error.code == ErrorCode.COI_CONTAINER_REQUIRED:
        raise error
    if check.scan == "missing":
        raise DomainError(ErrorCode.IDENTITY_NOT_CONFIRMED,
                          "scan the container's label to confirm its identity")
    if error is not None:
        raise error
    if check.field_errors:
        raise StepDataInvalid(dict(check.field_errors))
    if check.error is not None:
        raise check.error


def _process_trigger(step: str) -> Trigger:
    try:
        trigger = Trigger(step)
    except ValueError:
        raise InvalidInput(f"unknown step {step!r}") from None
    if trigger not in PROCESS_STEPS:
        raise InvalidInput(f"{step!r} is not a processing step")
    return trigger


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
    # The marrow bag is relabelled once the harvest is recorded (its facts on the label).
    if kind not in (ContainerKind.FINAL_PRODUCT, ContainerKind.MARROW_BAG) or container.id is None:
        return None
    due = current_label_kind(kind, ctx.product.state, ctx.params)
    if last_printed_kind(session, container.id) != due:
        return (f"the {what} still wears its earlier label: print its "
                f"{label_kind_words(due)} and scan it back before using it")
    return None


def _evaluate(conn: Any, trigger: Trigger, ctx: store.StepContextRow,
              values: Mapping[str, object]) -> StepOutcome:
    context = store.step_context(conn, ctx)  # earlier results and container holdings
    try:
        return evaluate_step(trigger.value, values, params=ctx.params, context=context)
    except StepDataError as error:
        raise StepDataInvalid(dict(error.errors)) from error
