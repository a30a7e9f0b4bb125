"""Label printers (master data the administrator keeps): register, change, take out of use.

Each printer has the name the lab knows it by, its place, the host and raw TCP port it
takes ZPL on, and the label stock loaded (lims.services.printers decides and audits every
change). A refusal shows the page again with the form as typed and the refusal beside it;
a change redirects back with what was done (post/redirect/get).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from labels.stock import STOCK_NAMES, LabelStock
from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.models import User
from lims.services.printers import (
    PRINTER_KEEPERS,
    change_printer,
    configured_printer,
    deactivate_printer,
    printers,
    reactivate_printer,
    register_printer,
    stock_words,
)
from lims.web.deps import DbSession, Form, field, require
from lims.web.render import redirect, render
from workflows.errors import DomainError, InvalidInput

router = APIRouter(route_class=OneThreadRoute)
Keeper = Annotated[User, Depends(require(PRINTER_KEEPERS, "the label printers"))]
STOCK_CHOICES = [(stock.value, STOCK_NAMES[stock]) for stock in LabelStock]


def _typed(form: FormData | None) -> dict[str, str]:
    if form is None:
        return {}
    return {name: value.strip() for name, value in form.items()
            if isinstance(value, str) and name != "csrf_token"}


def _port(form: FormData, required: bool) -> int | None:
    text = field(form, "port")
    if not text and not required:
        return None
    if not text.isdigit() or len(text) > 5:
        raise InvalidInput(f"port {text!r} is not a TCP port: a number from 1 to 65535 (a "
                           "Zebra takes ZPL on 9100)")
    return int(text)


def _page(request: Request, db: Session, *, form_name: str = "", form: FormData | None = None,
          error: str = "", status_code: int = 200) -> HTMLResponse:
    rows = [{"printer": row, "stock": stock_words(row.stock)} for row in printers(db)]
    return render(request, "admin_printers.html", {
        "rows": rows, "stocks": STOCK_CHOICES, "configured": configured_printer(),
        "form_name": form_name, "typed": _typed(form), "error": error,
    }, status_code=status_code)


def _refused(request: Request, db: Session, form_name: str, form: FormData,
             refused: DomainError) -> HTMLResponse:
    db.rollback()
    detail = refused.detail[:1].upper() + refused.detail[1:]
    return _page(request, db, form_name=form_name, form=form, error=detail,
                 status_code=status_of(refused.code))


@router.get("/admin/printers")
def printers_page(request: Request, user: Keeper, db: DbSession) -> HTMLResponse:
    """Every label printer with its place, address, label stock and whether it is in use."""
    return _page(request, db)


@router.post("/admin/printers")
def add_printer(request: Request, user: Keeper, db: DbSession, form: Form) -> Response:
    """Register a label printer."""
    try:
        row = register_printer(db, actor=user, name=field(form, "name"),
                               host=field(form, "host"), port=_port(form, True) or 0,
                               stock=field(form, "stock"), location=field(form, "location"))
    except DomainError as refused:
        return _refused(request, db, "register", form, refused)
    return redirect("/admin/printers", f"Printer {row.name} registered ({row.host}:{row.port}, "
                                       f"{stock_words(row.stock)}).")


@router.post("/admin/printers/change")
def change(request: Request, user: Keeper, db: DbSession, form: Form) -> Response:
    """Change a printer's place, address or label stock, with the reason."""
    try:
        row = change_printer(db, actor=user, name=field(form, "name"),
                             host=field(form, "host") or None, port=_port(form, False),
                             stock=field(form, "stock") or None,
                             location=field(form, "location") or None,
                             reason=field(form, "reason"))
    except DomainError as refused:
        return _refused(request, db, "change", form, refused)
    return redirect("/admin/printers", f"Printer {row.name} changed: {row.host}:{row.port}, "
                                       f"{stock_words(row.stock)}.")


@router.post("/admin/printers/in-use/{decision}")
def set_in_use(request: Request, decision: str, user: Keeper, db: DbSession,
               form: Form) -> Response:
    """Take a printer out of use, or put it back in use, with the reason."""
    name = field(form, "name")
    try:
        if decision == "deactivate":
            row = deactivate_printer(db, actor=user, name=name, reason=field(form, "reason"))
        elif decision == "reactivate":
            row = reactivate_printer(db, actor=user, name=name, reason=field(form, "reason"))
        else:
            raise InvalidInput(f"there is no decision called {decision!r}: deactivate or "
                               "reactivate")
    except DomainError as refused:
        return _refused(request, db, f"{decision}:{name}", form, refused)
    return redirect("/admin/printers", f"Printer {row.name} is now "
                                       f"{'in use' if row.active else 'out of use'}.")
