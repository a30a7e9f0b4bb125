"""Label print, reprint (with a reason) and the scan-back that confirms a printed label."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lims.services.labels import print_label, verify_label
from lims.web.deps import DbSession, Form, StaffUser, field
from lims.web.render import redirect
from lims.web.routes.product import render_product
from workflows.errors import DomainError, IdentityMismatch
from workflows.identity import container_words

router = APIRouter()


@router.post("/products/{din}/containers/{container_id}/print")
def print_container_label(request: Request, din: str, container_id: int, user: StaffUser,
                          db: DbSession, form: Form) -> Response:
    """Print the container's label (a reprint needs a reason); the PDF is downloaded."""
    printer = field(form, "printer")
    try:
        result = print_label(db, actor=user, din=din, container_id=container_id,
                             format="zpl" if printer else "pdf", printer=printer,
                             reason=field(form, "reason") or None)
    except DomainError as error:
        return render_product(request, db, user, din, error=error.detail, status_code=409)
    job = result.print_job
    what = "Reprint" if job.reprint else "Label"
    if isinstance(result.output, str):  # sent to the thermal printer
        return redirect(f"/products/{din}", f"{what} sent to {printer} (print job {job.id}). "
                                            "Scan the printed label back to confirm it.")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", f"label-{din}-{container_id}-job{job.id}")
    return Response(result.output, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


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
                    f"Label of the {container_words(container.kind)} confirmed by scan.")
