"""QC results judged again when a step correction changes the figures they are judged on.

A result's verdict rests on the formulation as well as on its value: the endotoxin limit
per mL comes from the body weight and the final volume; the typed dose and viability are
checked against their twins computed from the formulation counts. A correction of those
figures (lims.services.corrections) re-judges every current result in its transaction. A
result whose verdict changes is replaced by a new row (same value, method, sample; the new
verdict; the correction's reason), the old one superseded, so the trail shows both and the
earlier verdict stays provable. A result that now fails sets off what a failing result
entered fresh does (lims.services.qc_consequences); the typed-vs-computed check runs again.
Nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from lims.audit import PendingEvent, append, content_hash
from lims.audit_actions import AuditAction
from lims.models import Product, QcResult, User
from lims.services.qc import current_results, final_volume, qc_content
from lims.services.qc_consequences import stage_discrepancy, stage_failure_after_release
from lims.services.qc_sample import dose_weight_kg
from lims.services.specifications import specification_of
from workflows.specifications import QC_TESTS, judge, parse_result

_VERDICT = {True: "passed", False: "FAILED", None: "pending"}


def stage_rejudgement(session: Session, *, product: Product, actor: User, what: str,
                      reason: str, now: datetime) -> list[QcResult]:
    """Re-judge the product's current QC results on its corrected records; `what` names the
    corrected step ("the formulation"). Returns the results whose verdict changed."""
    assert actor.id is not None
    spec, _ = specification_of(session, product)
    weight, volume = dose_weight_kg(session, product), final_volume(session, product)
    changed: list[QcResult] = []
    for row in current_results(session, product).values():
        try:
            result = parse_result(row.test, row.value)
        except ValueError:
            continue  # not a result the service would have stored: verification reports it
        passed = judge(row.test, result, spec, weight_kg=weight, volume_ml=volume)
        if passed != row.passed:
            changed.append(_replace(session, row, passed, actor, what, reason, now))
    for row in current_results(session, product).values():
        if row.test in ("viable_dose", "viability") and row.value != "pending":
            stage_discrepancy(session, product=product, test=row.test,
                              result=float(row.value), actor=actor, now=now)
    for row in changed:
        if row.passed is False:
            stage_failure_after_release(session, product=product, test=row.test,
                                        text=row.value, actor=actor, now=now)
    return changed


def _replace(session: Session, old: QcResult, passed: bool | None, actor: User, what: str,
             reason: str, now: datetime) -> QcResult:
    why = (f"{QC_TESTS[old.test].label} {old.value} judged again after the correction of "
           f"{what}: {_VERDICT[old.passed]} → {_VERDICT[passed]} ({reason})")[:500]
    row = QcResult(product_id=old.product_id, test=old.test, value=old.value, unit=old.unit,
                   passed=passed, method=old.method, instrument=old.instrument,
                   sample_drawn_at=old.sample_drawn_at, sample_volume_ml=old.sample_volume_ml,
                   analyst_id=old.analyst_id, entered_at=now, tested_at=old.tested_at,
                   late=old.late, reason=why, content_hash="",
                   # a correction still awaiting its second person keeps waiting
                   needs_verification=old.needs_verification and old.verified_at is None)
    row.content_hash = content_hash(qc_content(row))
    old.superseded = True
    session.add(old)
    session.add(row)
    session.flush()
    assert actor.id is not None
    append(session, [PendingEvent(AuditAction.QC_REJUDGED, "qc_result", str(row.id), row.test,
                                  str(old.id), row.value, reason=why)],
           user_id=actor.id, username=actor.username)
    return row
