"""What a QC result sets off, staged in the QC service's transaction (nothing here commits).

- A typed figure that disagrees with its twin computed at formulation opens a major
  deviation (kind "dose_discrepancy"), which blocks release until QA closes it.
- A failing result after release suspends the release (issue and administration are
  refused) and raises an alert for QA; after administration it raises a clinical alert.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from lims.models import Deviation, Product, StepRecord, User
from lims.services.alerts import raise_post_release_alert
from lims.services.common import parameters_of
from lims.services.deviations import open_automatic_deviation
from lims.services.suspensions import is_suspended
from lims.services.transitions import stage_transition
from workflows.product import RELEASED_STATES, ProductState, Trigger
from workflows.qc_figures import computed_twins, discrepancy
from workflows.specifications import QC_TESTS

S = ProductState


def formulation_figures(session: Session, product: Product) -> dict[str, float]:
    """The figures the formulation step recorded or computed, keyed by their QC test."""
    record = session.exec(select(StepRecord).where(
        StepRecord.product_id == product.id, StepRecord.step == "formulate",
        col(StepRecord.superseded).is_(False),
    ).order_by(col(StepRecord.id).desc())).first()
    return formulation_figures_in([record] if record is not None else [])


def formulation_figures_in(records: list[StepRecord]) -> dict[str, float]:
    """`formulation_figures` among the product's step records already read."""
    current = [r for r in records if r.step == "formulate" and not r.superseded]
    if not current:
        return {}
    record = max(current, key=lambda r: r.id or 0)
    return computed_twins(record.values, record.computed)


def stage_discrepancy(session: Session, *, product: Product, test: str,
                      result: float | str, actor: User, now: datetime) -> Deviation | None:
    """Open a dose-discrepancy deviation when the typed figure disagrees with its twin.

    One open deviation per figure is enough: a second disagreeing entry adds to the
    investigation already open rather than opening another.
    """
    if isinstance(result, str):
        return None
    found = discrepancy(test, result, formulation_figures(session, product),
                        parameters_of(session, product.protocol_id))
    if found is None or _already_open(session, product, test):
        return None
    return open_automatic_deviation(session, product=product, kind="dose_discrepancy",
                                    step="qc", description=found.describe(),
                                    user_id=actor.id, username=actor.username, now=now)


def _already_open(session: Session, product: Product, test: str) -> bool:
    label = QC_TESTS[test].label.lower()
    rows = session.exec(select(Deviation.description).where(
        Deviation.product_id == product.id, Deviation.kind == "dose_discrepancy",
        Deviation.status == "open"))
    return any(f"qc {label} " in text.lower() for text in rows)


def released_from(product: Product) -> str | None:
    """Released or issued (directly or on hold from either): the release the result
    undermines; None before release, after administration, or once already suspended."""
    if product.state in RELEASED_STATES:
        return product.state
    if product.state == S.ON_HOLD and product.held_from in RELEASED_STATES:
        return product.held_from
    return None


def stage_failure_after_release(session: Session, *, product: Product, test: str, text: str,
                                actor: User, now: datetime) -> None:
    """A failing result on a product that was released: stop it, tell whom it concerns."""
    if product.state == S.ADMINISTERED:
        raise_post_release_alert(session, product=product, test=test, value=text,
                                 severity="clinical")
        return
    if released_from(product) is None and not is_suspended(product):
        return  # not released: the release decision itself will refuse it
    raise_post_release_alert(session, product=product, test=test, value=text)
    if released_from(product) is not None:
        stage_transition(session, product=product, trigger=Trigger.SUSPEND_RELEASE,
                         actor=actor, now=now, facts={"failed_after_release": True},
                         reason=f"release suspended: {QC_TESTS[test].label} result {text!r} "
                                "out of specification after release")
