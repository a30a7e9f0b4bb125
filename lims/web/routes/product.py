"""The product page (state, next step, containers and labels, history, lineage, audit)
and the cross-cutting dispositions: hold, resume, discard."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from lims.models import Product, User
from lims.services.dispositions import discard_product, hold_product, resume_product
from lims.services.labels import LABELLERS, pending_labels
from lims.web import views
from lims.web.deps import DbSession, Form, StaffUser, field
from lims.web.nextstep import WAITING_FOR, next_action
from lims.web.render import redirect, render
from lims.web.vocab import ACTIONS
from workflows.errors import DomainError, IdentityMismatch
from workflows.product import TRIGGER_ROLES, Trigger, allowed_triggers
from workflows.words import state_words

router = APIRouter()

DISPOSITIONS: dict[str, tuple[Trigger, Callable[..., Product], str]] = {
    "hold": (Trigger.HOLD, hold_product, "Put on hold"),
    "resume": (Trigger.RESUME, resume_product, "Resume"),
    "discard": (Trigger.DISCARD, discard_product, "Discard"),
}
SIGNED = frozenset({"discard"})


@router.get("/products/{din}")
def product_page(request: Request, din: str, user: StaffUser, db: DbSession) -> HTMLResponse:
    """Everything about one product, with what to do next."""
    return render_product(request, db, user, din)


def render_product(request: Request, db: Session, user: User, din: str, error: str = "",
            refusal: IdentityMismatch | None = None, status_code: int = 200) -> HTMLResponse:
    page = views.product_page(db, din)
    product = page["product"]
    pending = pending_labels(db, product.din)
    allowed = allowed_triggers(product.state)
    dispositions = [(name, label) for name, (trigger, _, label) in DISPOSITIONS.items()
                    if trigger in allowed and user.role in TRIGGER_ROLES[trigger]]
    return render(request, "product.html", {
        **page, "action": next_action(product.state, product.arm),
        "waiting_for": WAITING_FOR.get(product.state, product.state),
        "pending": pending, "can_label": user.role in LABELLERS,
        "verify_focus": any(p.printed for p in pending), "dispositions": dispositions,
        "action_names": ACTIONS, "error": error, "refusal": refusal, "signed": SIGNED,
    }, status_code=status_code)


@router.post("/products/{din}/disposition/{what}")
def disposition(request: Request, din: str, what: str, user: StaffUser, db: DbSession,
                form: Form) -> Response:
    """Hold, resume or discard the product, with a reason (a discard is also signed)."""
    if what not in DISPOSITIONS:
        return redirect(f"/products/{din}")
    _, service, label = DISPOSITIONS[what]
    # The discard is a signed decision: the password re-entered on the form.
    signed = {"password": str(form.get("password") or "")} if what in SIGNED else {}
    try:
        product = service(db, actor=user, din=din, reason=field(form, "reason"), **signed)
    except DomainError as error:
        return render_product(request, db, user, din, error=error.detail, status_code=409)
    return redirect(f"/products/{product.din}",
                    f"{label}: the product is now: {state_words(product.state)}.")
