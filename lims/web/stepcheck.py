"""The "check" before a step is saved: identity of the scanned container, computed values,
protocol warnings and refusals, with nothing written except a refused scan.

perform_step runs the same checks again when the step is saved; this only lets the
bench see the result first. A wrong container is refused here already, loudly, and
recorded as a chain-of-identity event, exactly as the save would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from lims.models import Container, User
from lims.services import step_store as store
from lims.services.identity import check_scan, record_mismatch
from lims.services.materials import expired_reagents, uncalibrated_equipment
from lims.services.steps import label_problem
from lims.web.render import site_zone
from workflows.errors import DomainError, IdentityMismatch, NotFound
from workflows.identity import KIND_LABELS, check_wristband, input_kind
from workflows.product import Trigger
from workflows.steps import STEPS, StepContext, StepDataError, evaluate_step


@dataclass
class Preview:
    step: str
    context: store.StepContextRow
    container: Container | None = None
    container_label: str = ""
    scan: str = "none"  # none (the step handles no container), missing, ok, refused
    wristband: str = "none"  # none, missing, ok, refused
    refusal: IdentityMismatch | None = None
    label_problem: str | None = None  # why the container's label may not be used yet
    field_errors: dict[str, str] = field(default_factory=dict)
    computed: Mapping[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    evaluated: bool = False

    @property
    def ready(self) -> bool:
        """Everything checked and nothing refused: the step may be saved."""
        return (self.evaluated and self.scan in ("none", "ok")
                and self.wristband in ("none", "ok") and not self.field_errors
                and not self.blocking and self.refusal is None)


def load(session: Session, din: str, step: str) -> Preview:
    ctx = store.load_context(session.connection(), din.strip().upper()[:13])
    if ctx is None:
        raise NotFound(f"no product with DIN {din}")
    preview = Preview(step=step, context=ctx)
    kind = input_kind(step, ctx.product.arm)
    if kind is not None:
        assert ctx.product.id is not None
        in_use = store.containers_in_use(session.connection(), ctx.product.id)
        preview.container = next((c for c in in_use if c.kind == kind.value), None)
        preview.container_label = KIND_LABELS[kind]
        preview.scan = "missing"
        if preview.container is not None:
            preview.label_problem = label_problem(session, ctx, preview.container, kind)
    if step == Trigger.ADMINISTER:
        preview.wristband = "missing"
    return preview


def check(session: Session, *, actor: User, din: str, step: str, scan: str, wristband: str,
          values: Mapping[str, object], time_errors: Mapping[str, str],
          now: datetime, record: bool = True) -> Preview:
    """Check what was entered so far; a refused scan is recorded and stops the check.

    `record=False` only shows the result again (a page reload must not record twice).
    """
    preview = load(session, din, step)
    product = preview.context.product
    try:
        if preview.scan == "missing" and scan:
            if preview.container is None:
                preview.blocking.append(f"product {product.din} has no "
                                        f"{preview.container_label} in use")
            else:
                check_scan(session, product=product, subject_id=preview.context.subject_id,
                           container=preview.container, raw=scan)
                preview.scan = "ok"
                if preview.label_problem:
                    preview.blocking.append(
                        f"Label not ready: {preview.label_problem} (on the product page).")
        if preview.wristband == "missing" and wristband:
            check_wristband(wristband, expected_patient_id=preview.context.mrn,
                            subject_id=preview.context.subject_id)
            preview.wristband = "ok"
    except IdentityMismatch as error:
        if record:
            record_mismatch(session, error=error, product=product, step=step, actor=actor,
                            at=now)
        if preview.scan == "missing":
            preview.scan = "refused"
        else:
            preview.wristband = "refused"
        preview.refusal = error
        return preview
    preview.field_errors.update(time_errors)
    if values or time_errors:
        _evaluate(session, preview, values, now)
    return preview


def _evaluate(session: Session, preview: Preview, values: Mapping[str, object],
              now: datetime) -> None:
    ctx = preview.context
    product = ctx.product
    assert product.id is not None
    context = StepContext(arm=product.arm, weight_kg=ctx.weight_kg,
                          harvest_end=product.harvest_end,
                          previous=store.previous_results(session.connection(), product.id))
    try:
        outcome = evaluate_step(preview.step, values, params=ctx.params, context=context)
    except StepDataError as error:
        for name, message in error.errors.items():
            preview.field_errors.setdefault(name, message)
        return
    if preview.field_errors:
        return
    preview.evaluated = True
    preview.computed = outcome.computed
    preview.warnings = [f.message for f in outcome.warnings]
    preview.blocking = [f.message for f in outcome.refusals]
    today = now.astimezone(site_zone()).date()
    spec = STEPS[preview.step]
    try:
        preview.blocking += expired_reagents(session, spec, outcome.values, today)
        preview.blocking += uncalibrated_equipment(session, spec, outcome.values, today)
    except DomainError as error:
        preview.blocking.append(error.detail)
