"""The product page (state, next step, containers and labels, history, lineage, audit)
and the cross-cutting dispositions: hold, resume, discard."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from lims.api.routing import OneThreadRoute
from lims.models import PrintJob, Product, User
from lims.services.dispositions import discard_product, hold_product, resume_product
from lims.services.label_pending import PendingLabel, pending_labels_read
from lims.services.labels import LABELLERS
from lims.web import views
from lims.web.deps import DbSession, Form, StaffUser, field
from lims.web.nextstep import WAITING_FOR, NextAction, next_action
from lims.web.printer_choice import PrinterChoices, printer_choices
from lims.web.render import redirect, render
from lims.web.vocab import ACTIONS
from workflows.errors import DomainError, IdentityMismatch
from workflows.product import TRIGGER_ROLES, Trigger, allowed_triggers
from workflows.words import state_words

router = APIRouter(route_class=OneThreadRoute)

DISPOSITIONS: dict[str, tuple[Trigger, Callable[..., Product], str]] = {
    "hold": (Trigger.HOLD, hold_product, "Put on hold"),
    "resume": (Trigger.RESUME, resume_product, "Resume"),
    "discard": (Trigger.DISCARD, discard_product, "Discard"),
}
SIGNED = frozenset({"discard"})


@router.get("/products/{din}")
def product_page(request: Request, din: str, user: StaffUser, db: DbSession,
                 printed: int | None = None) -> HTMLResponse:
    """Everything about one product, with what to do next (`printed`: the print job whose
    PDF was just recorded, offered for download)."""
    return render_product(request, db, user, din, printed=printed)


def render_product(request: Request, db: Session, user: User, din: str, error: str = "",
            refusal: IdentityMismatch | None = None, status_code: int = 200,
            printed: int | None = None) -> HTMLResponse:
    page = views.product_page(db, din)
    product = page["product"]
    rows = page["containers"]  # read once for the page: the pending labels reuse them
    pending = pending_labels_read(db, product, [row.container for row in rows],
                                  [job for row in rows for job in row.prints])
    allowed = allowed_triggers(product.state)
    dispositions = [(name, label) for name, (trigger, _, label) in DISPOSITIONS.items()
                    if trigger in allowed and user.role in TRIGGER_ROLES[trigger]]
    action = next_action(product.state, product.arm, pending)
    can_label = user.role in LABELLERS
    choices = printer_choices(db, user) if can_label else PrinterChoices([], "")
    return render(request, "product.html", {
        **page, "action": action,
        "waiting_for": WAITING_FOR.get(product.state, product.state),
        "pending": pending, "can_label": can_label, "printers": choices.options,
        "printer_chosen": choices.chosen, "pdf_job": _pdf_job(db, product, printed),
        "focus": _focus(pending, action, user, can_label, bool(choices.options)),
        "dispositions": dispositions,
        "action_names": ACTIONS, "error": error, "refusal": refusal, "signed": SIGNED,
    }, status_code=status_code)


def _focus(pending: list[PendingLabel], action: NextAction, user: User, can_label: bool,
           printers: bool) -> str:
    """Where the cursor goes: the scan-back field while a printed label waits for it, the
    printer of the next label to print, else the link to the next step (never a button
    that a scanner's Enter would press)."""
    if can_label and any(p.printed for p in pending):
        return "verify"
    unprinted = [p for p in pending if not p.printed]
    if can_label and unprinted:
        return f"printer-{unprinted[0].container.id}" if printers else ""
    if action.kind not in ("none", "label") and action.allowed(user.role):
        return "next"
    return ""


def _pdf_job(db: Session, product: Product, job_id: int | None) -> PrintJob | None:
    """The PDF print just recorded, offered as a download link while it is the label to
    scan back (the download itself checks again)."""
    if job_id is None:
        return None
    job = db.get(PrintJob, job_id)
    if job is None or job.product_id != product.id or job.format != "pdf":
        return None
    return job


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
