"""Post-release alerts (e.g. a positive culture) and their signed acknowledgement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from lims.api.deps import Reader, SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import Id
from lims.api.schemas_quality import AcknowledgeIn, AlertOut
from lims.models import User
from lims.services.alerts import ACK_ROLES, acknowledge_alert, open_alerts

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["alerts"])
Acknowledger = Annotated[User, Depends(require_roles(*ACK_ROLES, action="acknowledge alerts"))]


@router.get("/alerts", responses=errors(401, 403))
def list_open(_user: Reader, session: SessionDep) -> list[AlertOut]:
    """Alerts not yet acknowledged, oldest first."""
    return [AlertOut.model_validate(a) for a in open_alerts(session)]


@router.post("/alerts/{alert_id}/acknowledge", responses=errors(401, 403, 404, 409, 422))
def acknowledge(alert_id: Id, body: AcknowledgeIn, actor: Acknowledger,
                session: SessionDep) -> AlertOut:
    """Acknowledge an alert, signed "Acknowledged" (password re-entered)."""
    return AlertOut.model_validate(acknowledge_alert(session, actor=actor, alert_id=alert_id,
                                                     password=body.password, note=body.note))
