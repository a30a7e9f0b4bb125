"""QA acknowledges each exception of the review, one by one, before a release is signed.

The exceptions are the product's own (lims.services.review without a reviewer: whether the
reader may decide is not something to acknowledge). Each acknowledgement names the
exception by the hash of its kind and text (workflows.review_acknowledgements), so a changed
exception needs a new one; the release signature covers them all (lims.services.release
.product_content), so a later edit in the database is caught by `lims audit verify`.

A rejection needs none: stopping a product must never wait for paperwork.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Product, ReviewAcknowledgement, User
from lims.services.clock import clock_skew_minutes, refuse_future
from lims.services.common import aware, product_by_din, require_role
from lims.services.review import review_summary
from workflows.errors import Conflict, DomainError, ErrorCode, InvalidInput
from workflows.product import ProductState
from workflows.review_acknowledgements import comment_problem, exception_key, needs_comment
from workflows.roles import Role
from workflows.typed_text import free_text_problem
from workflows.words import state_words

ACKNOWLEDGING_ROLES = frozenset({Role.QA})
# States in which a QA decision is pending: the first release, or a suspended release.
DECIDABLE = (ProductState.AWAITING_RELEASE, ProductState.RELEASE_SUSPENDED)


@dataclass(frozen=True)
class ReviewItem:
    """One current exception of the review and QA's acknowledgement of it, if any."""

    kind: str
    text: str
    key: str
    needs_comment: bool
    acknowledgement: ReviewAcknowledgement | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledgement is not None


def review_items(session: Session, product: Product) -> list[ReviewItem]:
    """The product's current exceptions (each once), in the review's order."""
    done = {row.exception_key: row for row in session.exec(
        select(ReviewAcknowledgement).where(ReviewAcknowledgement.product_id == product.id))}
    items: dict[str, ReviewItem] = {}
    for exception in review_summary(session, product.din).exceptions:
        key = exception_key(exception.kind, exception.text)
        items.setdefault(key, ReviewItem(exception.kind, exception.text, key,
                                         needs_comment(exception.kind), done.get(key)))
    return list(items.values())


def unacknowledged(session: Session, product: Product) -> list[ReviewItem]:
    return [item for item in review_items(session, product) if not item.acknowledged]


def acknowledge_exception(session: Session, *, actor: User, din: str, key: str,
                          comment: str = "", now: datetime | None = None) -> ReviewItem:
    """QA acknowledges one current exception of a product awaiting its decision, with a
    comment where the exception needs one; audited and committed together."""
    require_role(actor, ACKNOWLEDGING_ROLES, "acknowledge the exceptions of a QA review")
    product = product_by_din(session, din)
    at = aware(now)
    if product.state not in DECIDABLE:
        raise Conflict(f"product {product.din} is at \"{state_words(product.state)}\": no QA "
                       "decision is pending, so there is nothing to acknowledge")
    item = next((i for i in review_items(session, product) if i.key == key), None)
    if item is None:
        raise DomainError(ErrorCode.EXCEPTION_NOT_CURRENT, "this exception is no longer in "
                          "the review as it was shown (its text changed, or it was "
                          "resolved): open the review again and acknowledge what it shows now")
    if item.acknowledgement is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, "this exception is already acknowledged "
                          f"by {item.acknowledgement.printed_name}")
    comment = comment.strip()
    _check_comment(item.kind, comment)
    refuse_future(at, what="the acknowledgement time",
                  skew_minutes=clock_skew_minutes(session, product))
    assert product.id is not None and actor.id is not None
    row = ReviewAcknowledgement(product_id=product.id, exception_key=key, kind=item.kind,
                                text=item.text, comment=comment, user_id=actor.id,
                                printed_name=actor.full_name, acknowledged_at=at)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # acknowledged by another QA reviewer a moment ago
        session.rollback()
        raise Conflict("this exception was acknowledged by someone else a moment ago: "
                       "open the review again") from None
    append(session, [acknowledged_event(row, product)], user_id=actor.id,
           username=actor.username)
    session.commit()
    session.refresh(row)
    return ReviewItem(item.kind, item.text, key, item.needs_comment, row)


def acknowledged_event(row: ReviewAcknowledgement, product: Product) -> PendingEvent:
    """The audit event of an acknowledgement: old None, new what was acknowledged."""
    return PendingEvent(AuditAction.REVIEW_EXCEPTION_ACKNOWLEDGED, "review_acknowledgement",
                        str(row.id), "acknowledgement", None,
                        {"kind": row.kind, "text": row.text, "comment": row.comment},
                        reason=f"QA review of {product.din}")


def _check_comment(kind: str, comment: str) -> None:
    typed = free_text_problem(comment, lines=True)
    if typed is not None:
        raise InvalidInput(f"comment: {typed}")
    problem = comment_problem(kind, comment)
    if problem is not None:
        code = ErrorCode.COMMENT_REQUIRED if not comment else ErrorCode.INVALID_INPUT
        raise DomainError(code, problem)


def acknowledgements_of(session: Session, product: Product,
                        as_of: datetime | None = None) -> list[ReviewAcknowledgement]:
    """Every acknowledgement of the product (those made by `as_of`), oldest first."""
    query = select(ReviewAcknowledgement).where(
        ReviewAcknowledgement.product_id == product.id)
    if as_of is not None:
        query = query.where(col(ReviewAcknowledgement.acknowledged_at) <= as_of)
    return list(session.exec(query.order_by(col(ReviewAcknowledgement.id))))


