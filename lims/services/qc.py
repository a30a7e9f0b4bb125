"""QC results of the final product, judged against its specification version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append, content_hash
from lims.audit_actions import AuditAction
from lims.models import Container, Product, QcResult, User
from lims.services.clock import clock_skew_minutes, refuse_future
from lims.services.common import (
    aware,
    parameters_of,
    product_by_din,
    require_role,
    require_trigger_role,
)
from lims.services.label_generations import labels_in_use, stage_superseded_labels
from lims.services.qc_consequences import stage_discrepancy, stage_failure_after_release
from lims.services.qc_sample import Sampling, dose_weight_kg, sampling
from lims.services.specifications import specification_of
from lims.services.transitions import advance
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.product import ProductState, Trigger
from workflows.roles import Role
from workflows.specifications import (
    QC_TESTS,
    Specification,
    allowed_tests,
    judge,
    limit_text,
    parse_result,
    required_tests,
)
from workflows.words import state_words

QC_ROLES = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.QA})
# Results may be entered once the final product exists; cultures report after release.
QC_STATES = frozenset({ProductState.FORMULATED, ProductState.AWAITING_RELEASE,
                       ProductState.RELEASED, ProductState.ISSUED, ProductState.ADMINISTERED,
                       ProductState.ON_HOLD, ProductState.REJECTED,
                       ProductState.RELEASE_SUSPENDED})


def qc_content(row: QcResult) -> dict[str, object]:
    """What a QC result's hash (and any signature over it) covers."""
    return {"test": row.test, "value": row.value, "passed": row.passed}


def record_qc_result(session: Session, *, actor: User, din: str, test: str, value: str,
                     method: str = "", instrument: str = "", tested_at: datetime | None = None,
                     sample_drawn_at: datetime | None = None,
                     sample_volume_ml: float | None = None,
                     reason: str | None = None, now: datetime | None = None) -> QcResult:
    """Enter (or correct, with a reason) one QC result; it is judged automatically.

    The result names its method and, where the method runs on one, its instrument (in
    calibration), and the sample it was obtained from: when it was drawn (after the
    formulation, not in the future) and how much it took of the final product. A result that
    replaces an earlier one (a correction, a culture completed) keeps the earlier one's
    method, instrument and sample unless others are given.

    In the same transaction: a figure that disagrees with its computed twin opens a
    deviation; a failure after release suspends the release and raises an alert. A
    correction of an out-of-specification result counts only once someone else verifies it.
    """
    require_role(actor, QC_ROLES, "enter QC results")
    now = aware(now)
    tested_at = aware(tested_at) if tested_at else now
    product = product_by_din(session, din)
    skew = clock_skew_minutes(session, product)
    refuse_future(tested_at, what="the test time", skew_minutes=skew)
    refuse_future(now, what="the time of entry", skew_minutes=skew)
    if sample_drawn_at is not None:
        refuse_future(aware(sample_drawn_at), what="the sample draw time", skew_minutes=skew)
    if product.state not in QC_STATES:
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          "QC results cannot be entered while the product is at "
                          f"\"{state_words(product.state)}\"")
    spec, _ = specification_of(session, product)
    if test not in allowed_tests(spec):
        raise InvalidInput(f"{test!r} is not a QC test of the {product.arm} arm")
    try:
        result = parse_result(test, value)
    except ValueError as error:
        raise InvalidInput(str(error)) from error
    passed = judge(test, result, spec, weight_kg=dose_weight_kg(session, product),
                   volume_ml=final_volume(session, product))
    previous = current_results(session, product).get(test)
    sample = _sampling(session, product, test, previous, method=method, instrument=instrument,
                       drawn_at=sample_drawn_at, volume_ml=sample_volume_ml, tested_at=tested_at)
    correcting = previous is not None and previous.value != "pending"
    if correcting and not (reason or "").strip():
        raise DomainError(ErrorCode.REASON_REQUIRED,
                          f"{QC_TESTS[test].label} already has a result; a correction needs a "
                          "reason")
    late_after = timedelta(hours=parameters_of(session, product.protocol_id).qc_late_entry_hours)
    assert product.id is not None and actor.id is not None
    text = result if isinstance(result, str) else f"{result:g}"
    row = QcResult(product_id=product.id, test=test, value=text, unit=QC_TESTS[test].unit,
                   passed=passed, method=sample.method, instrument=sample.instrument,
                   sample_drawn_at=sample.drawn_at, sample_volume_ml=sample.volume_ml,
                   analyst_id=actor.id,
                   entered_at=now, tested_at=tested_at, late=now - tested_at > late_after,
                   reason=reason if correcting else None, content_hash="",
                   needs_verification=previous is not None and correcting
                   and (previous.passed is False or not counts(previous)))
    row.content_hash = content_hash(qc_content(row))
    # A sample drawn from the final product after its label was printed leaves less in it
    # than the label says: what the labels say now, to supersede those that change.
    printed = labels_in_use(session, product.din, product.id)
    if previous is not None:
        previous.superseded = True
        session.add(previous)
    session.add(row)
    session.flush()
    stage_superseded_labels(session, product=product, before=printed, actor=actor, now=now,
                            reason=f"{QC_TESTS[test].label} sample drawn from the product")
    action = AuditAction.QC_CORRECTED if correcting else AuditAction.QC_RESULT
    append(session, [PendingEvent(action, "qc_result",
                                  str(row.id), test, previous.value if previous else None, text,
                                  reason=reason)], user_id=actor.id, username=actor.username)
    try:
        stage_discrepancy(session, product=product, test=test, result=result, actor=actor,
                          now=now)
        if passed is False:
            stage_failure_after_release(session, product=product, test=test, text=text,
                                        actor=actor, now=now)
    except DomainError:
        session.rollback()  # the result and what it set off are one change
        raise
    session.commit()
    session.refresh(row)
    return row


@dataclass(frozen=True)
class QcJudgement:
    """What saving a typed result would record: its value as stored, the specification and
    the verdict, and the result it would replace (a correction). Nothing is written."""

    test: str
    value: str
    unit: str
    limit: str
    passed: bool | None
    previous: QcResult | None


def judge_typed(session: Session, *, din: str, test: str, value: str,
                reason: str = "") -> QcJudgement:
    """The check of one typed result before it is saved (InvalidInput when it cannot be read,
    DomainError when a correction gives no reason): the same reading and judgement as
    record_qc_result, which checks again as it saves."""
    product = product_by_din(session, din)
    spec, _ = specification_of(session, product)
    if test not in allowed_tests(spec):
        raise InvalidInput(f"{test!r} is not a QC test of the {product.arm} arm")
    try:
        result = parse_result(test, value)
    except ValueError as error:
        raise InvalidInput(str(error)) from error
    weight, volume = dose_weight_kg(session, product), final_volume(session, product)
    previous = current_results(session, product).get(test)
    if previous is not None and previous.value != "pending" and not reason.strip():
        raise DomainError(ErrorCode.REASON_REQUIRED,
                          f"{QC_TESTS[test].label} already has a result; a correction needs a "
                          "reason")
    return QcJudgement(test=test, value=result if isinstance(result, str) else f"{result:g}",
                       unit=QC_TESTS[test].unit,
                       limit=limit_text(test, spec, weight_kg=weight, volume_ml=volume),
                       passed=judge(test, result, spec, weight_kg=weight, volume_ml=volume),
                       previous=previous)


def replaced_result(session: Session, row: QcResult) -> QcResult | None:
    """The result a correction (or a re-judgement) replaced: the same test's latest earlier
    row of the product."""
    return session.exec(select(QcResult).where(
        QcResult.product_id == row.product_id, QcResult.test == row.test,
        col(QcResult.id) < row.id).order_by(col(QcResult.id).desc())).first()


def replaced_among(rows: Iterable[QcResult], row: QcResult) -> QcResult | None:
    """`replaced_result` among the product's rows already read (the review of many)."""
    earlier = [r for r in rows if r.product_id == row.product_id and r.test == row.test
               and (r.id or 0) < (row.id or 0)]
    return max(earlier, key=lambda r: r.id or 0, default=None)


def _sampling(session: Session, product: Product, test: str, previous: QcResult | None, *,
              method: str, instrument: str, drawn_at: datetime | None,
              volume_ml: float | None, tested_at: datetime) -> Sampling:
    """The result's method, instrument and sample; what is not given is the replaced
    result's (same sample), and required for a first result."""
    if previous is not None and not method.strip():
        method, instrument = previous.method, instrument or previous.instrument
    if previous is not None:
        drawn_at = drawn_at or previous.sample_drawn_at
        volume_ml = volume_ml if volume_ml is not None else previous.sample_volume_ml
    missing = [what for what, given in (("sample_drawn_at", drawn_at),
                                        ("sample_volume_ml", volume_ml)) if given is None]
    if missing:
        raise InvalidInput(f"{', '.join(missing)}: required: when the QC sample was drawn "
                           "from the final product and how much it took")
    assert drawn_at is not None and volume_ml is not None
    return sampling(session, product=product, test=test, method=method,
                    instrument=instrument, drawn_at=aware(drawn_at), volume_ml=volume_ml,
                    tested_at=tested_at, replaces=previous)


def current_results(session: Session, product: Product) -> dict[str, QcResult]:
    rows = session.exec(select(QcResult).where(QcResult.product_id == product.id,
                                               col(QcResult.superseded).is_(False)))
    return current_among(rows)


def current_among(rows: Iterable[QcResult]) -> dict[str, QcResult]:
    """Test -> its current (not superseded) result, of one product's rows."""
    return {row.test: row for row in rows if not row.superseded}


def final_volume(session: Session, product: Product) -> float | None:
    return session.exec(select(Container.volume_ml).where(
        Container.product_id == product.id, Container.kind == "final_product")).first()


def counts(row: QcResult) -> bool:
    """A correction of an out-of-specification result counts once a second person verified
    it; until then the product stays failing for release."""
    return not row.needs_verification or row.verified_at is not None


def awaiting_verification(session: Session, product: Product) -> list[QcResult]:
    return [row for row in current_results(session, product).values() if not counts(row)]


def qc_status(session: Session, product: Product) -> tuple[list[str], list[str]]:
    """(missing required tests, failing tests) of the product's current results; a
    correction awaiting verification is failing, and so is a failed optional test."""
    spec, _ = specification_of(session, product)
    return qc_status_of(spec, current_results(session, product))


def qc_status_of(spec: Specification, results: dict[str, QcResult]
                 ) -> tuple[list[str], list[str]]:
    """`qc_status` of current results already read, judged against `spec`."""
    required = required_tests(spec)
    missing = [t for t in required if t not in results]
    # An optional test that was recorded counts too: a mycoplasma found is a failure.
    recorded = [*required, *(t for t in results if t not in required)]
    failed = [t for t in recorded if t in results
              and (results[t].passed is False or not counts(results[t]))]
    return missing, failed


def complete_qc(session: Session, *, actor: User, din: str,
                now: datetime | None = None) -> Product:
    """End QC testing: every required result is in; the product joins the QA queue."""
    require_trigger_role(actor, Trigger.COMPLETE_QC)
    product = product_by_din(session, din)
    missing, _ = qc_status(session, product)
    return advance(session, product=product, trigger=Trigger.COMPLETE_QC, actor=actor,
                   now=aware(now), facts={"qc_complete": not missing},
                   explain={"qc_complete": "missing: " + ", ".join(missing)})
