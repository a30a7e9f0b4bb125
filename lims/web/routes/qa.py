"""QA: the queue of products awaiting release, the review by exception, and signing."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from lims.api.routing import OneThreadRoute
from lims.models import User
from lims.services.common import product_by_din
from lims.services.deviations import close_deviation, deviations_of
from lims.services.independence import independence_problem
from lims.services.notifications import attention
from lims.services.release import (
    exceptional_release,
    re_release_product,
    reject_product,
    release_product,
)
from lims.services.review import qa_queue, qa_queue_size, review_summary
from lims.services.review_acknowledgements import (
    DECIDABLE,
    acknowledge_exception,
    review_items,
)
from lims.web import review, views
from lims.web.deps import DbSession, Form, QaUser, field
from lims.web.render import redirect, render
from workflows.errors import DomainError, ErrorCode
from workflows.product import ProductState
from workflows.review_acknowledgements import COMMENT_MAX, remaining_words
from workflows.specifications import QC_TESTS
from workflows.words import state_words

router = APIRouter(route_class=OneThreadRoute)
QUEUE_ROWS = 25  # products shown on the QA queue at first


@router.get("/qa")
def queue(request: Request, user: QaUser, db: DbSession, limit: int = 0) -> HTMLResponse:
    """Products awaiting QA review (the first QUEUE_ROWS, or `limit`; a "more" link shows
    the next), and products with a post-release alert."""
    limit = max(limit, QUEUE_ROWS)
    # The open alerts once, for the queue and the page's banner (lims.web.banner).
    request.state.attention = seen = attention(db)
    items = qa_queue(db, limit=limit, alerts=[alert for alert, _din in seen.alerts])
    due = sum(1 for item in items if item.alert is None)
    # Fewer than asked for: that is all of them, and they need no counting.
    waiting = due if due < limit else qa_queue_size(db)
    return render(request, "qa_queue.html", {
        "rows": items, "waiting": waiting,
        "more": waiting > limit,
        "shown": min(waiting, limit), "more_limit": limit + QUEUE_ROWS})


def _render(request: Request, db: Session, user: User, din: str, error: str = "",
            status_code: int = 200, focus_next: bool = False) -> HTMLResponse:
    """The page opens at its top, on the exceptions: nothing is focused there (nor any
    decision chosen) unless QA just acknowledged one, when the cursor waits in the next."""
    page = views.product_page(db, din)
    product = page["product"]
    summary = review_summary(db, product.din)
    exceptions = review.to_acknowledge(review_items(db, product))
    remaining = [row for row in exceptions if row.acknowledgement is None]
    return render(request, "qa_review.html", {
        **page, "summary": summary, "exceptions": exceptions,
        "remaining": len(remaining), "remaining_words": remaining_words(len(remaining)),
        "focus_key": remaining[0].key if focus_next and remaining else "",
        "comment_max": COMMENT_MAX,
        "conflict": independence_problem(db, product, user),
        "awaiting": product.state in DECIDABLE,
        "suspended": product.state == ProductState.RELEASE_SUSPENDED, "error": error,
        "qc_tests": QC_TESTS,
    }, status_code=status_code)


@router.get("/qa/{din}")
def review_page(request: Request, din: str, user: QaUser, db: DbSession,
                after: str = "") -> HTMLResponse:
    """Exceptions first, each acknowledged by QA, then the whole record, then the signature."""
    return _render(request, db, user, din, focus_next=after == "acknowledgement")


@router.post("/qa/{din}/exceptions/{key}/acknowledge")
def acknowledge(request: Request, din: str, key: str, user: QaUser, db: DbSession,
                form: Form) -> Response:
    """Acknowledge one exception of the review, with a comment where it needs one."""
    try:
        acknowledge_exception(db, actor=user, din=din, key=key,
                              comment=str(form.get("comment") or ""))
    except DomainError as error:
        status = 422 if error.code in (ErrorCode.COMMENT_REQUIRED,
                                       ErrorCode.INVALID_INPUT) else 409
        return _render(request, db, user, din, error=f"Not acknowledged: {error.detail}.",
                       status_code=status)
    return redirect(f"/qa/{din}?after=acknowledgement",
                    f"Exception acknowledged by {user.full_name}.")


@router.post("/qa/{din}/decision")
def decide(request: Request, din: str, user: QaUser, db: DbSession, form: Form) -> Response:
    """Release, re-release, reject or release exceptionally, signed with user ID and password."""
    decision = field(form, "decision")
    username, password = field(form, "username"), str(form.get("password") or "")
    try:
        if decision == "release":
            product = release_product(db, actor=user, din=din, username=username,
                                      password=password)
        elif decision == "re_release":
            product = re_release_product(db, actor=user, din=din, username=username,
                                         password=password, note=field(form, "reason"))
        elif decision == "reject":
            product = reject_product(db, actor=user, din=din, username=username,
                                     password=password, reason=field(form, "reason"))
        elif decision == "exceptional":
            product = exceptional_release(
                db, actor=user, din=din, username=username, password=password,
                justification=field(form, "reason"), physician=field(form, "physician"),
                physician_password=str(form.get("physician_password") or ""))
        else:
            return _render(request, db, user, din, status_code=422, error="Choose a decision: "
                           "nothing is chosen for you. Nothing was signed.")
    except DomainError as error:
        return _render(request, db, user, din, error=error.detail, status_code=409)
    return redirect(f"/products/{product.din}",
                    f"Signed by {user.full_name}. The product is now: "
                    f"{state_words(product.state)}.")


@router.post("/qa/{din}/deviations/{deviation_id}/close")
def close(request: Request, din: str, deviation_id: int, user: QaUser, db: DbSession,
          form: Form) -> Response:
    """Close one of the product's open deviations with a disposition, signed "Closed"."""
    if deviation_id not in {d.id for d in deviations_of(db, product_by_din(db, din))}:
        return _render(request, db, user, din, status_code=404,
                       error=f"Deviation {deviation_id} is not one of this product's.")
    try:
        close_deviation(db, actor=user, deviation_id=deviation_id,
                        disposition=field(form, "disposition"),
                        impact_assessment=field(form, "impact_assessment") or None,
                        password=str(form.get("password") or ""))
    except DomainError as error:
        return _render(request, db, user, din, error=error.detail, status_code=409)
    return redirect(f"/qa/{din}", f"Deviation {deviation_id} closed, signed by "
                                  f"{user.full_name}.")
