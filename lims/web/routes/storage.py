"""Storage pages (issue 16): scan a container into a position, the box map, scan it out
with a reason, and the locations tree (kept by the supervisor or the administrator).

The store page works with the scanner the way the step page does: a scan ends with Enter,
so the container's scan alone is checked first (a refusal shown and recorded at once) and
the cursor moves on to the position; the position's scan then stores it. Every accepted
store redirects to the box map of that box (post/redirect/get), marked as a scan.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.models import StorageLocation, User
from lims.services.storage import (
    STORERS,
    remove_container,
    storable_container,
    store_container,
)
from lims.services.storage_locations import (
    LOCATION_KEEPERS,
    box_map,
    boxes,
    create_location,
    deactivate_location,
    location_tree,
    reactivate_location,
)
from lims.web.deps import DbSession, Form, field, require
from lims.web.render import redirect, render
from workflows.errors import DomainError, IdentityMismatch, InvalidInput
from workflows.identity import container_words
from workflows.roles import LAB_ROLES
from workflows.storage import (
    DISPOSITION_WORDS,
    REMOVAL_WORDS,
    LocationKind,
    RemovalReason,
)

router = APIRouter(route_class=OneThreadRoute)
Storer = Annotated[User, Depends(require(STORERS, "storage"))]
Reader = Annotated[User, Depends(require(LAB_ROLES | LOCATION_KEEPERS, "storage"))]
Keeper = Annotated[User, Depends(require(LOCATION_KEEPERS, "the storage locations"))]
REASONS = [(r.value, REMOVAL_WORDS[r]) for r in RemovalReason]


def _store_page(request: Request, db: Session, *, container_scan: str = "",
                confirmed: str = "", refusal: IdentityMismatch | None = None, error: str = "",
                focus: str = "container", status_code: int = 200) -> HTMLResponse:
    return render(request, "storage.html", {
        "container_scan": container_scan, "confirmed": confirmed, "refusal": refusal,
        "error": error, "focus": focus, "boxes": boxes(db), "reasons": REASONS,
    }, status_code=status_code)


@router.get("/storage")
def storage_page(request: Request, user: Storer, db: DbSession) -> HTMLResponse:
    """Scan a container, then the position it goes into."""
    return _store_page(request, db)


@router.post("/storage/store")
def store(request: Request, user: Storer, db: DbSession, form: Form) -> Response:
    """The container's scan alone is checked; with the position's scan it is stored."""
    container_scan, position_scan = field(form, "container_scan"), field(form, "position_scan")
    if not container_scan:
        return _store_page(request, db, error="Scan the container's label first.",
                           status_code=422)
    try:
        if not position_scan:
            container, product = storable_container(db, user, container_scan)
            db.rollback()  # nothing written: the row locks end here
            return _store_page(request, db, container_scan=container_scan, focus="position",
                               confirmed=f"{container_words(container.kind)} of DIN "
                                         f"{product.din} ({container.product_code} "
                                         f"{container.flags})")
        stay = store_container(db, actor=user, container_scan=container_scan,
                               position_scan=position_scan)
    except IdentityMismatch as refused:
        return _store_page(request, db, refusal=refused, status_code=status_of(refused.code))
    except DomainError as refused:
        db.rollback()
        return _store_page(request, db, error=refused.detail, status_code=status_of(refused.code))
    position = db.get(StorageLocation, stay.location_id)
    box = db.get(StorageLocation, position.parent_id) if position and position.parent_id else None
    where = f"position {position.name}" if position else "its position"
    return redirect(f"/storage/boxes/{box.code}" if box else "/storage",
                    f"Stored in {where} of {box.name if box else 'the box'}.", scanned=True)


@router.post("/storage/remove")
def remove(request: Request, user: Storer, db: DbSession, form: Form) -> Response:
    """Scan a container out of storage with the reason."""
    try:
        stay = remove_container(db, actor=user, container_scan=field(form, "container_scan"),
                                reason=field(form, "reason"), note=field(form, "note"))
    except IdentityMismatch as refused:
        return _store_page(request, db, refusal=refused, status_code=status_of(refused.code))
    except DomainError as refused:
        db.rollback()
        return _store_page(request, db, error=refused.detail, status_code=status_of(refused.code))
    reason = REMOVAL_WORDS.get(stay.removal_reason or "", "taken out")
    return redirect("/storage", f"Taken out of storage: {reason}.", scanned=True)


@router.get("/storage/boxes/{code}")
def box_page(code: str, request: Request, user: Reader, db: DbSession) -> HTMLResponse:
    """The box map: each position, free or holding a container (DIN and kind)."""
    try:
        found = box_map(db, code[:40])
    except DomainError as refused:
        return render(request, "error.html", {"message": refused.detail},
                      status_code=status_of(refused.code))
    return render(request, "storage_box.html", {
        "map": found, "kind_words": container_words, "status_words": DISPOSITION_WORDS,
        "boxes": boxes(db), "can_store": user.role in STORERS})


def _typed(form: FormData | None) -> dict[str, str]:
    if form is None:
        return {}
    return {name: value.strip() for name, value in form.items()
            if isinstance(value, str) and name != "csrf_token"}


def _locations_page(request: Request, db: Session, *, form: FormData | None = None,
                    error: str = "", form_name: str = "",
                    status_code: int = 200) -> HTMLResponse:
    return render(request, "storage_locations.html", {
        "tree": location_tree(db), "kinds": [k.value for k in LocationKind
                                             if k is not LocationKind.POSITION],
        "typed": _typed(form), "error": error, "form_name": form_name},
        status_code=status_code)


@router.get("/admin/storage")
def locations_page(request: Request, user: Keeper, db: DbSession) -> HTMLResponse:
    """Every storage location as a tree, with the temperature range it must hold."""
    return _locations_page(request, db)


def _number(form: FormData, name: str, whole: bool = False) -> float | None:
    text = field(form, name).replace(",", ".").replace("−", "-")
    if not text:
        return None
    try:
        value = float(text) if not whole else int(text)
    except ValueError:
        raise InvalidInput(f"{name.replace('_', ' ')}: {text!r} is not a number") from None
    return value


@router.post("/admin/storage")
def add_location(request: Request, user: Keeper, db: DbSession, form: Form) -> Response:
    """Create a storage location (a box with its positions)."""
    try:
        rows, columns = _number(form, "rows", whole=True), _number(form, "columns", whole=True)
        row = create_location(
            db, actor=user, kind=field(form, "kind"), name=field(form, "name"),
            code=field(form, "code"), parent_code=field(form, "parent_code") or None,
            temperature_min_c=_number(form, "temperature_min_c"),
            temperature_max_c=_number(form, "temperature_max_c"),
            rows=int(rows) if rows is not None else None,
            columns=int(columns) if columns is not None else None)
    except DomainError as refused:
        db.rollback()
        return _locations_page(request, db, form=form, error=refused.detail,
                               status_code=status_of(refused.code))
    return redirect("/admin/storage", f"{row.kind.capitalize()} {row.name} ({row.code}) created.")


@router.post("/admin/storage/in-use/{decision}")
def set_in_use(request: Request, decision: str, user: Keeper, db: DbSession,
               form: Form) -> Response:
    """Take a location out of use (with everything under it), or put it back, with the
    reason."""
    code = field(form, "code")
    try:
        if decision == "deactivate":
            row = deactivate_location(db, actor=user, code=code, reason=field(form, "reason"))
        elif decision == "reactivate":
            row = reactivate_location(db, actor=user, code=code, reason=field(form, "reason"))
        else:
            raise InvalidInput(f"there is no decision called {decision!r}: deactivate or "
                               "reactivate")
    except DomainError as refused:
        db.rollback()
        return _locations_page(request, db, form=form, form_name=f"{decision}:{code}",
                               error=refused.detail, status_code=status_of(refused.code))
    done = "back in use" if row.active else "out of use, with everything under it"
    return redirect("/admin/storage", f"{row.kind.capitalize()} {row.name} ({row.code}) is "
                                      f"now {done}.")
