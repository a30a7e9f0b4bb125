"""The batch record and the certificate of analysis (PDF), and post-release alerts
acknowledged by electronic signature."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lims.api.routing import OneThreadRoute
from lims.services.alerts import acknowledge_alert
from lims.services.batch_record import batch_record_pdf
from lims.services.certificate import issue_certificate
from lims.services.common import product_by_din
from lims.web.deps import DbSession, Form, StaffUser, field
from lims.web.render import redirect
from lims.web.routes.product import render_product
from workflows.errors import DomainError

router = APIRouter(route_class=OneThreadRoute)


@router.get("/products/{din}/batch-record.pdf")
def batch_record(din: str, user: StaffUser, db: DbSession) -> Response:
    """The electronic batch record of the product, exceptions first."""
    product = product_by_din(db, din)
    return Response(batch_record_pdf(db, product.din), media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'inline; filename="batch-record-{product.din}.pdf"'})


@router.get("/products/{din}/certificate.pdf")
def certificate(request: Request, din: str, user: StaffUser, db: DbSession) -> Response:
    """The certificate of analysis of a released product (recorded each time it is made)."""
    product = product_by_din(db, din)
    try:
        pdf, _row = issue_certificate(db, actor=user, din=product.din)
    except DomainError as error:
        return render_product(request, db, user, product.din, error=error.detail,
                              status_code=409)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'inline; filename="certificate-{product.din}.pdf"'})


@router.post("/products/{din}/alerts/{alert_id}/acknowledge")
def acknowledge(request: Request, din: str, alert_id: int, user: StaffUser, db: DbSession,
                form: Form) -> Response:
    """Acknowledge a post-release alert, signed with the password."""
    try:
        acknowledge_alert(db, actor=user, alert_id=alert_id,
                          password=str(form.get("password") or ""), note=field(form, "note"))
    except DomainError as error:
        return render_product(request, db, user, din, error=error.detail, status_code=409)
    return redirect(f"/products/{din}", f"Alert {alert_id} acknowledged by {user.full_name}.")
