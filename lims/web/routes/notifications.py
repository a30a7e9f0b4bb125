"""Notifications: who was told of what, whether it reached them, and resending."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lims.api.routing import OneThreadRoute
from lims.models import User
from lims.services.notifications import (
    READERS,
    RESENDERS,
    list_notifications,
    resend_notification,
)
from lims.web.deps import DbSession, Form, require
from lims.web.render import now, redirect, render
from workflows.errors import DomainError
from workflows.roles import Role

router = APIRouter(route_class=OneThreadRoute)
Reader = Annotated[User, Depends(require(READERS, "the notifications"))]


@router.get("/notifications")
def notifications(request: Request, user: Reader, db: DbSession,
                  undelivered: bool = False) -> HTMLResponse:
    """The outbox, newest first, with each notification's delivery state."""
    views = list_notifications(db, actor=user, undelivered_only=undelivered)
    return render(request, "notifications.html", {
        "views": views, "undelivered_only": undelivered, "now": now(),
        "can_resend": user.role in RESENDERS, "can_open_products": user.role != Role.ADMIN})


@router.post("/notifications/{notification_id}/resend")
def resend(notification_id: int, user: Reader, db: DbSession, form: Form) -> Response:
    """Queue a failed notification again."""
    try:
        view = resend_notification(db, actor=user, notification_id=notification_id)
    except DomainError as error:
        return redirect("/notifications", error.detail)
    return redirect("/notifications", f"Notification to {view.recipient_name or 'nobody'} "
                                      "queued again.")
