"""Scans the request's own checks refuse (a NUL character, 10,000 characters, a number where
text belongs) are recorded like the scans the reader refuses: every refused scan leaves a
chain-of-identity event, whichever layer refused it. The answer stays the same 422."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from sqlmodel import Session

from lims.api.deps import bearer_credentials, get_engine_of, signed_in_user
from lims.models import User
from lims.services.identity import record_refused_entry
from lims.services.labels import VERIFY_STEP
from workflows.errors import DomainError

log = logging.getLogger(__name__)

# The fields of a request body that carry what a scanner read.
SCAN_FIELDS = ("scan", "wristband")
_STEP_ROUTE = re.compile(r".*/products/\{din\}/steps/(?P<step>[a-z_]+)")
_VERIFY_ROUTE = re.compile(r".*/products/\{din\}/labels/verify")


def scan_step(request: Request) -> str | None:
    """The step a route's scans belong to (as CoiEvent.step), or None for other routes."""
    path = getattr(request.scope.get("route"), "path", "")
    if _VERIFY_ROUTE.fullmatch(path):
        return VERIFY_STEP
    found = _STEP_ROUTE.fullmatch(path)
    return found.group("step") if found else None


def refused_scans(error: RequestValidationError) -> dict[str, tuple[object, str]]:
    """Each scan field the validation refused: what was sent and why."""
    body: Any = getattr(error, "body", None)
    if not isinstance(body, dict):
        return {}
    found: dict[str, tuple[object, str]] = {}
    for problem in error.errors():
        loc = tuple(problem.get("loc", ()))
        if len(loc) >= 2 and loc[0] == "body" and loc[1] in SCAN_FIELDS:
            found.setdefault(loc[1], (body.get(loc[1]), str(problem.get("msg", "invalid"))))
    for name in SCAN_FIELDS:
        # The body's NUL check runs only once every field is valid; a NUL is refused anyway.
        if isinstance(body.get(name), str) and "\x00" in body[name]:
            found.setdefault(name, (body[name], "text must not contain NUL characters"))
    # Nothing scanned (left out or empty): nothing to record.
    return {name: found[name] for name in found if found[name][0] not in (None, "")}


async def record_refused_scans(request: Request, error: RequestValidationError) -> None:
    """Record the refused scans of a scan route's request, by its signed-in caller."""
    step = scan_step(request)
    found = refused_scans(error) if step is not None else {}
    if step is None or not found:
        return
    try:
        await run_in_threadpool(_record, request, step, found)
    except Exception:  # the refusal must still be answered as it was
        log.exception("a scan refused by the request's checks could not be recorded")


def _record(request: Request, step: str, found: dict[str, tuple[object, str]]) -> None:
    din = str(request.path_params.get("din", ""))
    with Session(get_engine_of(request), expire_on_commit=False) as session:
        actor = _caller(session, request)
        if actor is None:
            return
        for name, (value, why) in found.items():
            record_refused_entry(session, din=din, step=step, field=name, value=value,
                                 detail=f"unreadable {name}: {why}", actor=actor)


def _caller(session: Session, request: Request) -> User | None:
    """The bearer token's user, if it is valid and the account usable (a refusal of the
    token itself came before validation, so this is the caller the route would have had)."""
    credentials = bearer_credentials(request.headers.get("authorization", ""))
    if credentials is None:
        return None
    try:
        return signed_in_user(session, credentials)
    except DomainError:
        return None
