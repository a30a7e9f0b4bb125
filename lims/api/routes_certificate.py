"""The certificate of analysis of a released product (PDF); each one generated is recorded."""

from __future__ import annotations

from fastapi import APIRouter, Response

from lims.api.deps import Reader, SessionDep
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din
from lims.services.certificate import issue_certificate

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["records"])


@router.get("/products/{din}/certificate", response_class=Response, responses={
    200: {"description": "The certificate of analysis, one A4 page",
          "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
    **errors(401, 403, 404, 409, 422)})
def certificate(din: Din, user: Reader, session: SessionDep) -> Response:
    """The product's certificate of analysis as PDF; refused (409) unless it is released."""
    pdf, row = issue_certificate(session, actor=user, din=din)
    name = "".join(ch for ch in din if ch.isalnum())
    return Response(content=pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="certificate-{name}.pdf"',
        "X-Certificate-Id": row.content_hash})
