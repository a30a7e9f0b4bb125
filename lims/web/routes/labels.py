"""Label print, reprint (with a reason) and the scan-back that confirms a printed label.

Printing answers with the product page (post/redirect/get), the label shown as printed
and the cursor in the scan-back field: sent to the chosen printer, or recorded as a PDF
that the page offers for download (a GET of that recorded print, never a new one).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lims.api.routing import OneThreadRoute
from lims.services.labels import print_job_document, print_label, verify_label
from lims.web.deps import DbSession, Form, StaffUser, field
from lims.web.render import redirect
from lims.web.routes.product import render_product
from workflows.errors import DomainError, IdentityMismatch
from workflows.identity import container_words
from workflows.words import label_kind_words

router = APIRouter(route_class=OneThreadRoute)


@router.post("/products/{din}/containers/{container_id}/print")
def print_container_label(request: Request, din: str, container_id: int, user: StaffUser,
                          db: DbSession, form: Form) -> Response:
    """Print the container's label (a reprint needs a reason): to the chosen printer, or
    as a PDF to download ("Download PDF"); then back to the product page."""
    to_printer = field(form, "action") != "pdf"
    printer = field(form, "printer") if to_printer else ""
    if to_printer and not printer:
        return render_product(request, db, user, din, status_code=422,
                              error="Choose the printer to print on, or download the PDF.")
    try:
        result = print_label(db, actor=user, din=din, container_id=container_id,
                             format="zpl" if to_printer else "pdf", printer=printer,
                             reason=field(form, "reason") or None)
    except DomainError as error:
        db.rollback()
        return render_product(request, db, user, din, error=error.detail, status_code=409)
    job = result.print_job
    what = (f"{'Reprint' if job.reprint else 'Print'} {job.serial} of the "
            f"{label_kind_words(job.label_kind)}")
    if to_printer:
        return redirect(f"/products/{din}",
                        f"{what} sent to {printer} (print job {job.id}). Put it on the "
                        "container and scan it back to confirm it.")
    return redirect(f"/products/{din}?printed={job.id}",
                    f"{what} recorded (print job {job.id}): download its PDF, print it, put "
                    "it on the container and scan it back to confirm it.")


@router.get("/products/{din}/print-jobs/{job_id}.pdf")
def print_job_pdf(request: Request, din: str, job_id: int, user: StaffUser,
                  db: DbSession) -> Response:
    """The PDF of a recorded print, as it was recorded (no new print is made)."""
    try:
        result = print_job_document(db, actor=user, din=din, job_id=job_id)
    except DomainError as error:
        return render_product(request, db, user, din, error=error.detail, status_code=409)
    job = result.print_job
    name = re.sub(r"[^A-Za-z0-9_-]", "_", f"label-{din}-{job.container_id}-job{job.id}")
    return Response(result.output, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"',
                             "Cache-Control": "no-store"})


@router.post("/products/{din}/labels/verify")
def verify(request: Request, din: str, user: StaffUser, db: DbSession, form: Form) -> Response:
    """Scan a printed label back: it must be the label of a container of this product."""
    try:
        container = verify_label(db, actor=user, din=din, scan=field(form, "scan"))
    except IdentityMismatch as error:
        return render_product(request, db, user, din, refusal=error, status_code=409)
    except DomainError as error:
        return render_product(request, db, user, din, error=error.detail, status_code=409)
    return redirect(f"/products/{din}",
                    f"Label of the {container_words(container.kind)} confirmed by scan.",
                    scanned=True)
