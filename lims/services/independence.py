"""Four eyes at QA's decision: nobody decides on a product they processed or tested."""

from __future__ import annotations

from sqlmodel import Session, col, select

from lims.models import Product, StepRecord, User
from lims.services.qc import current_results
from workflows.specifications import QC_TESTS
from workflows.words import action_words


def independence_problem(session: Session, product: Product, user: User) -> str | None:
    """Why `user` may not decide on the product: they performed or witnessed one of its
    steps, or entered or corrected a QC result the decision relies on (four eyes)."""
    step = session.exec(select(StepRecord).where(
        StepRecord.product_id == product.id,
        (col(StepRecord.operator_id) == user.id) | (col(StepRecord.witness_id) == user.id),
    ).order_by(col(StepRecord.id))).first()
    who = user.full_name  # the printed name: people read this refusal
    if step is not None:
        role = "performed" if step.operator_id == user.id else "witnessed"
        return (f"{who} {role} the {action_words(step.step)} step of this product; "
                "another QA reviewer must decide")
    for row in current_results(session, product).values():
        if row.analyst_id == user.id:
            what = "corrected" if row.reason else "entered"
            label = QC_TESTS[row.test].label if row.test in QC_TESTS else row.test
            return (f"{who} {what} the {label} result of this product and cannot also "
                    "decide on it (four eyes): another QA reviewer must decide")
    return None
