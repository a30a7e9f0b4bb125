"""The audit viewer: the trail filtered by product, user, action and period, page by page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from lims.api.routing import OneThreadRoute
from lims.audit_actions import AuditAction
from lims.models import User
from lims.services.audit_query import AUDIT_READERS, AuditFilter, AuditPage, audit_events
from lims.services.audit_words import line_words
from lims.web.deps import DbSession, require
from lims.web.render import render
from workflows.errors import DomainError

router = APIRouter(route_class=OneThreadRoute)
AuditReader = Annotated[User, Depends(require(AUDIT_READERS, "the audit trail"))]
PER_PAGE = 50


class BadFilter(ValueError):
    """A filter the viewer cannot read (the message says which and how to write it)."""


def _filters(query: dict[str, str]) -> AuditFilter:
    action = query.get("action") or None
    if action is not None and action not in AuditAction.__members__.values():
        raise BadFilter(f"“{action}” is not an action the audit trail records: pick one "
                        "from the list")
    return AuditFilter(din=query.get("din") or None, username=query.get("user") or None,
                       action=AuditAction(action) if action else None,
                       start=_day(query, "from", "From"), end=_day(query, "to", "To"))


def _day(query: dict[str, str], key: str, label: str) -> date | None:
    text = query.get(key) or ""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise BadFilter(f"{label} “{text}” is not a date: write it as YYYY-MM-DD") from None


@router.get("/audit")
def audit_viewer(request: Request, user: AuditReader, db: DbSession, page: int = 1
                 ) -> HTMLResponse:
    """The audit trail, readable and filtered, oldest event first."""
    query = {k: v.strip() for k, v in request.query_params.items()
             if k in ("din", "user", "action", "from", "to")}
    found: AuditPage | None = None
    error = ""
    try:
        found = audit_events(db, actor=user, filters=_filters(query), page=max(page, 1),
                             per_page=PER_PAGE)
    except (BadFilter, DomainError) as refused:
        error = refused.detail if isinstance(refused, DomainError) else str(refused)
    words = line_words(db, found.lines) if found else {}
    return render(request, "audit.html", {
        "query": query, "found": found, "error": error, "words": words,
        "actions": [(a.value, a.words) for a in AuditAction],
        "page_link": lambda n: _page_link(query, n)})


def _page_link(query: dict[str, Any], number: int) -> str:
    return "/audit?" + urlencode({**{k: v for k, v in query.items() if v}, "page": number})
