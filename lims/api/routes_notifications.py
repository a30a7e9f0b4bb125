"""Notifications (the outbox): who was told of what, and whether it reached them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from lims.api.deps import SessionDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import DinFilter, Id, Out
from lims.models import User
from lims.services.common import din_text
from lims.services.notifications import (
    READERS,
    RESENDERS,
    NotificationView,
    list_notifications,
    resend_notification,
)

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["notifications"])
Reader = Annotated[User, Depends(require_roles(*READERS, action="read notifications"))]
Resender = Annotated[User, Depends(require_roles(*RESENDERS, action="resend notifications"))]


class NotificationOut(Out):
    id: int
    din: str | None = Field(description="The product it is about")
    alert_id: int | None
    recipient: str | None = Field(description="User name of the person told")
    recipient_name: str | None
    to_address: str = Field(description="Where it was (or will be) sent; empty: no address")
    subject: str
    status: Literal["pending", "sent", "failed"] = Field(
        description="pending: not sent yet (waiting or retrying); sent: handed to the mail "
                    "server; failed: given up after the last attempt")
    undelivered: bool
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, view: NotificationView) -> NotificationOut:
        return cls.model_validate({**view.notification.model_dump(), "din": view.din,
                                   "recipient": view.recipient,
                                   "recipient_name": view.recipient_name,
                                   "undelivered": view.undelivered})


@router.get("/notifications", responses=errors(401, 403, 422))
def list_all(user: Reader, session: SessionDep,
             undelivered: Annotated[bool, Query(
                 description="Only those not delivered (pending or failed)")] = False,
             din: DinFilter = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[NotificationOut]:
    """Notifications newest first, with their delivery state."""
    return [NotificationOut.of(view) for view in list_notifications(
        session, actor=user, undelivered_only=undelivered,
        din=din_text(din) if din is not None else None, limit=limit)]


@router.post("/notifications/{notification_id}/resend",
             responses=errors(401, 403, 404, 409, 422))
def resend(notification_id: Id, actor: Resender, session: SessionDep) -> NotificationOut:
    """Queue a failed notification again, e.g. once its address or the mail server is fixed."""
    return NotificationOut.of(resend_notification(session, actor=actor,
                                                  notification_id=notification_id))
