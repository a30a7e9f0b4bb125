"""Reagent lots and equipment: registration, quarantine and release for use, calibration.

Supervisors, QA and the administrator open both pages. Supervisors and the administrator
register lots and equipment and record calibrations; QA releases a lot in quarantine for use
or rejects it (lims.services.materials decides and audits every change). A refusal shows the
page again with the form as typed and the refusal beside it; a change redirects back with
what was done (post/redirect/get).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.models import Equipment, ReagentLot, User
from lims.services.materials import (
    LOT_DECIDERS,
    MASTER_DATA_ROLES,
    equipment_list,
    reagent_lots,
    record_calibration,
    register_equipment,
    register_reagent_lot,
    reject_reagent_lot,
    release_reagent_lot,
    site_today,
)
from lims.services.users import all_users
from lims.web.deps import DbSession, Form, field, require
from lims.web.render import redirect, render
from workflows.errors import DomainError, InvalidInput
from workflows.materials import (
    EQUIPMENT_NAMES,
    LOT_CHANGES,
    LOT_STATUS_NAMES,
    MATERIAL_NAMES,
    LotStatus,
    Material,
    equipment_type_of,
    lot_status_words,
)

router = APIRouter(route_class=OneThreadRoute)
_VIEWERS = MASTER_DATA_ROLES | LOT_DECIDERS
Viewer = Annotated[User, Depends(require(_VIEWERS, "the master data"))]
Keeper = Annotated[User, Depends(require(MASTER_DATA_ROLES, "the registration of master "
                                                            "data"))]
Inspector = Annotated[User, Depends(require(LOT_DECIDERS, "the release of reagent lots"))]
MATERIAL_CHOICES = [(m.value, MATERIAL_NAMES[m]) for m in Material]
STATUS_CHOICES = [(s.value, LOT_STATUS_NAMES[s]) for s in LotStatus]


def _typed(form: FormData | None) -> dict[str, str]:
    if form is None:
        return {}
    return {name: value.strip() for name, value in form.items()
            if isinstance(value, str) and name != "csrf_token"}


def _day(form: FormData, name: str, what: str) -> date | None:
    """The YYYY-MM-DD day typed in the form (a date input sends that), or None if empty."""
    text = field(form, name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a date: write it YYYY-MM-DD") from None


def _required_day(form: FormData, name: str, what: str) -> date:
    day = _day(form, name, what)
    if day is None:
        raise InvalidInput(f"{what}: enter the date (YYYY-MM-DD)")
    return day


def _names(db: Session) -> dict[int, str]:
    return {user.id: user.full_name for user in all_users(db) if user.id is not None}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- reagent lots ----------------------------------------------------------------------------

def _lot_row(lot: ReagentLot, names: dict[int, str], today: date) -> dict[str, object]:
    try:
        material = MATERIAL_NAMES[Material(lot.material)]
    except ValueError:
        material = "not recorded"
    try:
        decisions = sorted(s.value for s in LOT_CHANGES[LotStatus(lot.status)])
    except ValueError:
        decisions = []
    if lot.status_changed_by_id is not None:
        by = names.get(lot.status_changed_by_id, f"user {lot.status_changed_by_id}")
    else:
        by = "the system (reference data)" if lot.status_changed_at is not None else ""
    return {"lot": lot, "material": material, "status": lot_status_words(lot.status),
            "expired": lot.expires_on < today, "by": by, "decisions": decisions}


def _lots(request: Request, db: Session, user: User, *, shown: str = "",
          form_name: str = "", form: FormData | None = None, error: str = "",
          status_code: int = 200) -> HTMLResponse:
    wanted = LotStatus(shown) if shown in {s.value for s in LotStatus} else None
    names, today = _names(db), site_today()
    rows = [_lot_row(lot, names, today) for lot in reagent_lots(db, wanted)]
    return render(request, "admin_lots.html", {
        "rows": rows, "shown": wanted.value if wanted else "", "statuses": STATUS_CHOICES,
        "shown_words": LOT_STATUS_NAMES[wanted] if wanted else "",
        "materials": MATERIAL_CHOICES, "today": today.isoformat(),
        "may_register": user.role in MASTER_DATA_ROLES, "may_decide": user.role in LOT_DECIDERS,
        "form_name": form_name, "typed": _typed(form), "error": error,
    }, status_code=status_code)


@router.get("/admin/lots")
def lots_page(request: Request, user: Viewer, db: DbSession, status: str = "") -> HTMLResponse:
    """Every lot with its material, expiry and status; registration and QA's decisions."""
    return _lots(request, db, user, shown=status)


@router.post("/admin/lots")
def register_lot(request: Request, user: Keeper, db: DbSession, form: Form) -> Response:
    """A new lot, received into quarantine until QA releases it."""
    try:
        row = register_reagent_lot(
            db, actor=user, reagent=field(form, "reagent"), lot=field(form, "lot"),
            material=field(form, "material"), manufacturer=field(form, "manufacturer"),
            grade=field(form, "grade") or "GMP",
            expires_on=_required_day(form, "expires_on", "expiry date"),
            received_on=_day(form, "received_on", "date received"))
    except DomainError as refused:
        db.rollback()
        return _lots(request, db, user, form_name="register", form=form,
                     error=_capital(refused.detail), status_code=status_of(refused.code))
    return redirect("/admin/lots", f"Lot {row.lot} ({row.reagent}) registered: in quarantine "
                                   "until QA inspects and releases it.")


@router.post("/admin/lots/{decision}")
def decide_lot(request: Request, decision: str, user: Inspector, db: DbSession,
               form: Form) -> Response:
    """QA releases a lot in quarantine for use, or rejects a lot, with the reason."""
    lot, reason = field(form, "lot"), field(form, "reason")
    try:
        if decision == "release":
            row = release_reagent_lot(db, actor=user, lot=lot, reason=reason)
        elif decision == "reject":
            row = reject_reagent_lot(db, actor=user, lot=lot, reason=reason)
        else:
            raise InvalidInput(f"there is no decision called {decision!r}: release or reject")
    except DomainError as refused:
        db.rollback()
        return _lots(request, db, user, form_name=f"{decision}:{lot}", form=form,
                     error=_capital(refused.detail), status_code=status_of(refused.code))
    return redirect("/admin/lots", f"Lot {row.lot} ({row.reagent}) is now "
                                   f"{lot_status_words(row.status)}.")


# --- equipment -------------------------------------------------------------------------------

def _equipment_row(item: Equipment, today: date) -> dict[str, object]:
    kind = equipment_type_of(item.kind)
    return {"item": item, "type": EQUIPMENT_NAMES[kind] if kind else "no known type",
            "overdue": item.calibration_due < today}


def _equipment(request: Request, db: Session, user: User, *, form_name: str = "",
               form: FormData | None = None, error: str = "",
               status_code: int = 200) -> HTMLResponse:
    today = site_today()
    return render(request, "admin_equipment.html", {
        "rows": [_equipment_row(item, today) for item in equipment_list(db)],
        "today": today.isoformat(), "types": list(EQUIPMENT_NAMES.values()),
        "may_register": user.role in MASTER_DATA_ROLES, "form_name": form_name,
        "typed": _typed(form), "error": error,
    }, status_code=status_code)


@router.get("/admin/equipment")
def equipment_page(request: Request, user: Viewer, db: DbSession) -> HTMLResponse:
    """Every instrument with its type and calibration due date (overdue ones marked)."""
    return _equipment(request, db, user)


@router.post("/admin/equipment")
def add_equipment(request: Request, user: Keeper, db: DbSession, form: Form) -> Response:
    """A new instrument with its type (the first words of its kind) and calibration due."""
    try:
        row = register_equipment(db, actor=user, code=field(form, "code"),
                                 kind=field(form, "kind"), serial=field(form, "serial"),
                                 calibration_due=_required_day(form, "calibration_due",
                                                               "calibration due date"))
    except DomainError as refused:
        db.rollback()
        return _equipment(request, db, user, form_name="register", form=form,
                          error=_capital(refused.detail), status_code=status_of(refused.code))
    return redirect("/admin/equipment", f"Equipment {row.code} ({row.kind}) registered, "
                                        f"calibration due {row.calibration_due.isoformat()}.")


@router.post("/admin/equipment/calibration")
def calibrate(request: Request, user: Keeper, db: DbSession, form: Form) -> Response:
    """Record a calibration: the instrument's new due date and what was done."""
    try:
        row = record_calibration(db, actor=user, code=field(form, "code"),
                                 calibration_due=_required_day(form, "calibration_due",
                                                               "new calibration due date"),
                                 reason=field(form, "reason"))
    except DomainError as refused:
        db.rollback()
        return _equipment(request, db, user, form_name="calibration", form=form,
                          error=_capital(refused.detail), status_code=status_of(refused.code))
    return redirect("/admin/equipment", f"Calibration of {row.code} recorded: next due "
                                        f"{row.calibration_due.isoformat()}.")

