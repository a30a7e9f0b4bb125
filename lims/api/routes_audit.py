"""The audit trail, filtered and readable: the inspector's view (Part 11 §11.10(b))."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import DinFilter
from lims.api.schemas_audit import AuditLineOut, AuditPageOut
from lims.audit_actions import AuditAction
from lims.models import User
from lims.services.audit_query import AUDIT_READERS, MAX_PER_PAGE, AuditFilter, audit_events

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["records"])
MAX_PAGE = 1_000_000  # bounded like every input: past the last page is simply empty
AuditReader = Annotated[User, Depends(require_roles(*AUDIT_READERS,
                                                    action="read the audit trail"))]


@router.get("/audit/events", responses=errors(401, 403, 404, 422))
def events(
    actor: AuditReader, session: SessionDep,
    din: DinFilter = None,
    user: Annotated[str | None, Query(min_length=1, max_length=64,
                                      description="Only this user's events (user ID)")] = None,
    action: Annotated[AuditAction | None, Query(description="Only this action")] = None,
    start: Annotated[date | None, Query(alias="from", description=(
        "First day, in the facility's time zone"))] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day, included")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> AuditPageOut:
    """Audit events filtered by product, user, action and period, oldest first, by page."""
    found = audit_events(session, actor=actor, page=page, per_page=per_page,
                         filters=AuditFilter(din=din, username=user, action=action,
                                             start=start, end=end))
    return AuditPageOut(events=[AuditLineOut.model_validate(line) for line in found.lines],
                        total=found.total, page=found.page, per_page=found.per_page,
                        pages=found.pages)
