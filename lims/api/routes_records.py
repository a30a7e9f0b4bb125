"""Records: a product's audit trail and chain-of-identity refusals; chain verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from lims.api.deps import Reader, SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din
from lims.api.schemas_records import AuditEventOut, CoiEventOut, ProblemOut, VerifyOut
from lims.models import User
from lims.services.batch_record import batch_record_pdf
from lims.services.queries import coi_events, history
from lims.services.verification import verify_all
from workflows.roles import Role

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["records"])
Auditor = Annotated[User, Depends(require_roles(Role.QA, Role.SUPERVISOR, Role.ADMIN,
                                                action="verify the audit trail"))]


@router.get("/products/{din}/audit", responses=errors(401, 403, 404, 422))
def audit_trail(din: Din, _user: Reader, session: SessionDep) -> list[AuditEventOut]:
    """Every audit event about the product, its containers and its step records."""
    return [AuditEventOut.model_validate(e) for e in history(session, din)]


@router.get("/products/{din}/coi-events", responses=errors(401, 403, 404, 422))
def identity_refusals(din: Din, _user: Reader, session: SessionDep) -> list[CoiEventOut]:
    """Every refused scan of the product: who, where, what was scanned and expected."""
    return [CoiEventOut.model_validate(e) for e in coi_events(session, din)]


@router.get("/audit/verify", responses=errors(401, 403))
def verify(_user: Auditor, session: SessionDep) -> VerifyOut:
    """Recompute the audit hash chain and reconcile the records with it."""
    report = verify_all(session)
    return VerifyOut(ok=report.ok, lines=report.lines,
                     problems=[ProblemOut.model_validate(p) for p in report.problems])


@router.get("/products/{din}/batch-record", response_class=Response, responses={
    200: {"description": "The batch record, exceptions summary first",
          "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
    **errors(401, 403, 404, 422)})
def batch_record(din: Din, _user: Reader, session: SessionDep) -> Response:
    """The product's batch record as PDF (identity, steps, QC, deviations, signatures)."""
    name = "".join(ch for ch in din if ch.isalnum())
    return Response(content=batch_record_pdf(session, din), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="batch-record-{name}.pdf"'})
