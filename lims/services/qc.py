"""QC results of the final product and the end of QC testing."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from lims.audit import PendingEvent, append, content_hash
from lims.models import Container, Product, QcResult, User
from lims.services.common import (
    aware,
    parameters_of,
    patient_of,
    product_by_din,
    require_role,
    require_trigger_role,
)
from lims.services.transitions import advance
from workflows.errors import DomainError, ErrorCode, InvalidInput
from workflows.product import ProductState, Trigger
from workflows.qc import QC_TESTS, judge, parse_result, required_tests

QC_ROLES = frozenset({"technician", "supervisor", "qa"})
# Results may be entered once the final product exists; sterility arrives after release.
QC_STATES = frozenset({ProductState.FORMULATED, ProductState.AWAITING_RELEASE,
                       ProductState.RELEASED, ProductState.ISSUED, ProductState.ADMINISTERED,
                       ProductState.ON_HOLD})


def record_qc_result(session: Session, *, actor: User, din: str, test: str, value: str,
                     method: str = "", reason: str | None = None,
                     now: datetime | None = None) -> QcResult:
    """Enter (or correct, with a reason) one QC result; it is judged against the protocol."""
    require_role(actor, QC_ROLES, "enter QC results")
    now = aware(now)
    product = product_by_din(session, din)
    if product.state not in QC_STATES:
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"QC results cannot be entered while the product is {product.state}")
    if test not in required_tests(product.arm):
        raise InvalidInput(f"{test!r} is not a QC test of the {product.arm} arm")
    try:
        result = parse_result(test, value)
    except ValueError as error:
        raise InvalidInput(str(error)) from error
    params = parameters_of(session, product.protocol_id)
    patient = patient_of(session, product)
    passed = judge(test, result, arm=product.arm, params=params, weight_kg=patient.weight_kg,
                   volume_ml=final_volume(session, product))
    previous = current_results(session, product).get(test)
    if previous is not None and previous.value != "pending" and not (reason or "").strip():
        raise DomainError(ErrorCode.REASON_REQUIRED,
                          f"{QC_TESTS[test].label} already has a result; a correction needs a "
                          "reason")
    assert product.id is not None and actor.id is not None
    text = str(result) if isinstance(result, str) else f"{result:g}"
    row = QcResult(product_id=product.id, test=test, value=text, unit=QC_TESTS[test].unit,
                   passed=passed, method=method, analyst_id=actor.id, entered_at=now,
                   content_hash=content_hash({"test": test, "value": text, "passed": passed}))
    if previous is not None:
        previous.superseded = True
        session.add(previous)
    session.add(row)
    session.flush()
    append(session, [PendingEvent("qc_result" if previous is None else "qc_corrected",
                                  "qc_result", str(row.id), test,
                                  previous.value if previous else None, text, reason=reason)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return row


def current_results(session: Session, product: Product) -> dict[str, QcResult]:
    rows = session.exec(select(QcResult).where(QcResult.product_id == product.id,
                                               QcResult.superseded == False))  # noqa: E712
    return {row.test: row for row in rows}


def final_volume(session: Session, product: Product) -> float | None:
    return session.exec(select(Container.volume_ml).where(
        Container.product_id == product.id, Container.kind == "final_product")).first()


def qc_status(session: Session, product: Product) -> tuple[list[str], list[str]]:
    """(missing tests, failed tests) of the product's current results."""
    results = current_results(session, product)
    required = required_tests(product.arm)
    missing = [t for t in required if t not in results]
    failed = [t for t in required if t in results and results[t].passed is False]
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
