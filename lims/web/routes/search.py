"""Finding products: the search (subject ID, MRN, name, DIN, a scanned label or wristband),
the completed products, and a product's timeline."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from lims.api.routing import OneThreadRoute
from lims.models import Patient
from lims.services.common import product_by_din
from lims.services.search import completed_products, search_products
from lims.services.timeline import product_timeline
from lims.web.deps import DbSession, StaffUser
from lims.web.render import render
from workflows.errors import NotFound

router = APIRouter(route_class=OneThreadRoute)


@router.get("/search")
def search(request: Request, user: StaffUser, db: DbSession, q: str = "") -> HTMLResponse:
    """Products by subject ID, DIN (typed, with or without its check character, or
    scanned) and, for those who read patient records, MRN or name; newest first."""
    result = search_products(db, q, role=user.role)
    return render(request, "search.html", {"result": result, "q": result.query})


@router.get("/products")
def product_list(request: Request, user: StaffUser, db: DbSession, status: str = "completed",
                 page: int = 1) -> HTMLResponse:
    """The completed products (released, issued, administered, discarded, expired), the most
    recently completed first, 50 a page."""
    if status != "completed":
        raise NotFound(f"no list of products that are {status!r}: the list is of the "
                       "completed ones (status=completed)")
    listing = completed_products(db, role=user.role, page=page)
    return render(request, "products_completed.html", {"listing": listing})


@router.get("/products/{din}/timeline")
def timeline(request: Request, din: str, user: StaffUser, db: DbSession) -> HTMLResponse:
    """Everything that happened to the product, on one line of time."""
    product = product_by_din(db, din)
    patient = db.get(Patient, product.patient_id)
    return render(request, "timeline.html", {
        "product": product, "subject_id": patient.subject_id if patient else "?",
        "moments": product_timeline(db, product.din)})
