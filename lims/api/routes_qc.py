"""QC results of the final product and the end of QC testing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from lims.api.deps import Reader, SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Din, Id, ProductOut
from lims.api.schemas_quality import QcResultIn, QcResultOut, VerifyIn
from lims.models import User
from lims.services.qc import QC_ROLES, complete_qc, record_qc_result
from lims.services.qc_verification import VERIFY_ROLES, verify_qc_correction
from lims.services.queries import qc_results
from workflows.product import TRIGGER_ROLES, Trigger

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["qc"])
Analyst = Annotated[User, Depends(require_roles(*QC_ROLES, action="enter QC results"))]
Verifier = Annotated[User, Depends(require_roles(*VERIFY_ROLES,
                                                 action="verify QC corrections"))]
Completer = Annotated[User, Depends(require_roles(*TRIGGER_ROLES[Trigger.COMPLETE_QC],
                                                  action="complete QC"))]


@router.post("/products/{din}/qc-results", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def add_result(din: Din, body: QcResultIn, actor: Analyst, session: SessionDep) -> QcResultOut:
    """Enter (or correct, with a reason) a QC result; it is judged against the specification."""
    return QcResultOut.model_validate(record_qc_result(session, actor=actor, din=din,
                                                       **body.model_dump()))


@router.get("/products/{din}/qc-results", responses=errors(401, 403, 404, 422))
def list_results(din: Din, _user: Reader, session: SessionDep,
                 include_superseded: Annotated[bool, Query(
                     description="Also results replaced by a correction")] = False,
                 ) -> list[QcResultOut]:
    """The product's QC results in entry order."""
    return [QcResultOut.model_validate(r)
            for r in qc_results(session, din, include_superseded=include_superseded)]


@router.post("/products/{din}/qc-complete", responses=errors(401, 403, 404, 409, 422))
def complete(din: Din, actor: Completer, session: SessionDep) -> ProductOut:
    """End QC testing: every required result is in; the product joins the QA queue."""
    return ProductOut.model_validate(complete_qc(session, actor=actor, din=din))


@router.post("/qc-results/{result_id}/verify", responses=errors(401, 403, 404, 409, 422))
def verify(result_id: Id, body: VerifyIn,
           actor: Verifier, session: SessionDep) -> QcResultOut:
    """Verify a correction of an out-of-specification result, signed "Verified"."""
    return QcResultOut.model_validate(verify_qc_correction(
        session, actor=actor, result_id=result_id, password=body.password, note=body.note))
