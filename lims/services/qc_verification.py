"""Four eyes on QC: a corrected out-of-specification result counts only once verified.

The corrector cannot verify their own correction; a QA reviewer or a supervisor does,
by electronic signature (meaning "Verified"), over the result's content.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import QcResult, User
from lims.services.common import aware, get_or_404, require_role
from lims.services.qc import qc_content
from lims.services.signatures import add_signature, authenticate_signer
from workflows.errors import Conflict, DomainError, ErrorCode
from workflows.roles import Role
from workflows.specifications import QC_TESTS

VERIFY_ROLES = frozenset({Role.QA, Role.SUPERVISOR})


def verify_qc_correction(session: Session, *, actor: User, result_id: int, password: str,
                         note: str = "", now: datetime | None = None) -> QcResult:
    """A second person confirms a correction of an out-of-specification result."""
    require_role(actor, VERIFY_ROLES, "verify QC corrections")
    row = get_or_404(session, QcResult, result_id, "QC result")
    label = QC_TESTS[row.test].label if row.test in QC_TESTS else row.test
    if row.superseded:
        raise Conflict(f"this {label} result has since been corrected again: verify the "
                       "current result")
    if not row.needs_verification:
        raise Conflict(f"this {label} result is not a correction of an out-of-specification "
                       "result: it needs no verification")
    if row.verified_at is not None:
        raise Conflict(f"this {label} correction is already verified")
    signer = authenticate_signer(session, actor=actor, username=actor.username,
                                 password=password)
    if signer.id == row.analyst_id:
        raise DomainError(ErrorCode.NOT_INDEPENDENT,
                          f"{signer.full_name} made this {label} "
                          "correction and cannot verify it: a second person (QA or a "
                          "supervisor) must verify it")
    now = aware(now)
    row.verified_by_id, row.verified_at = signer.id, now
    session.add(row)
    add_signature(session, signer=signer, meaning="Verified", product_id=row.product_id,
                  record_type="qc_result", record_id=str(row.id),
                  content={"id": row.id, **qc_content(row)}, justification=note or None,
                  at=now)
    append(session, [PendingEvent(AuditAction.QC_VERIFIED, "qc_result", str(row.id), row.test, None,
                                  row.value, reason=note or "correction verified")],
           user_id=signer.id, username=signer.username)
    session.commit()
    session.refresh(row)
    return row
