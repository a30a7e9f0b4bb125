"""The banner every page shows QA and the physicians: open post-release alerts and
notifications that have not reached their recipient, each linking to its product."""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from lims.db import session_scope
from lims.services.notifications import Attention, attention
from workflows.roles import Role

BANNER_ROLES = frozenset({Role.QA, Role.PHYSICIAN})
log = logging.getLogger("lims.web")


def banner_for(request: Request) -> Attention | None:
    """What the signed-in user must see now, or None (other roles, or nothing open)."""
    user = getattr(request.state, "user", None)
    if user is None or user.role not in BANNER_ROLES:
        return None
    try:
        found = _read(request)
    except SQLAlchemyError:  # the error page of a database failure must still render
        log.exception("the attention banner could not be read")
        return None
    return found or None


def _read(request: Request) -> Attention:
    """As the page read it already (the QA queue), through the page's own session while it
    lasts (see deps.get_db), else a short one (an error page renders after the page's
    session has ended)."""
    seen: Attention | None = getattr(request.state, "attention", None)
    if seen is not None:
        return seen
    db: Session | None = getattr(request.state, "db", None)
    if db is not None:
        return attention(db)
    with session_scope(getattr(request.app.state, "engine", None)) as session:
        return attention(session)
