"""Performing a step, the lab's most frequent call, answered before FastAPI's router.

FastAPI walks its nested routers, builds a request and solves each dependency for every
call: for the step routes that was about a fifth of the server's time per scan (a py-spy
profile of bench/http.py). This ASGI layer answers a well-formed step request itself with
the step route's own parts: its path and body checks (the route's FastAPI fields), its
role rule and its body (`routes_steps.performed`), and the one rendering of a refusal
(`errors.domain_error_response`). Anything else (no bearer token, a token that does not
verify, a body that is not JSON or not valid, another content type) goes on to FastAPI
unchanged, body included, which refuses it as it always has (and records a refused scan).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lims.api.deps import bearer_credentials
from lims.api.errors import domain_error_response
from lims.api.limits import replay
from lims.api.routes_steps import STEP_RULES, performed, router
from lims.api.routing import PREFIX
from workflows.errors import DomainError


@dataclass(frozen=True)
class _StepRoute:
    """A step route's checks: its DIN (path) and body fields, as FastAPI applies them."""

    din: Any
    body: Any


def _step_routes() -> dict[str, _StepRoute]:
    found = {}
    for route in router.routes:
        if not isinstance(route, APIRoute) or "POST" not in (route.methods or ()):
            continue
        step = route.path.rsplit("/", 1)[-1]
        if step in STEP_RULES and route.path == f"{PREFIX}/products/{{din}}/steps/{step}":
            (din,), (body,) = route.dependant.path_params, route.dependant.body_params
            found[step] = _StepRoute(din, body)
    return found


class StepFastPath:
    """Pure ASGI, inside the body limit and the security headers (they apply alike)."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.path = re.compile(rf"^{re.escape(prefix)}/products/([^/]+)/steps/([a-z_]+)$")
        self.routes = _step_routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (self.path.match(scope["path"])
                 if scope["type"] == "http" and scope["method"] == "POST" else None)
        route = self.routes.get(found.group(2)) if found is not None else None
        credentials = (bearer_credentials(_header(scope, b"authorization") or "")
                       if route is not None else None)
        if found is None or route is None or credentials is None or not _json(scope):
            await self.app(scope, receive, send)
            return
        messages, body = await _read(receive)
        checked = _checked(route, found.group(1), body) if body is not None else None
        if checked is None:  # FastAPI refuses it, in its words
            await self.app(scope, replay(messages, receive), send)
            return
        din, step_body = checked
        step = found.group(2)
        engine: Engine = scope["app"].state.engine
        try:
            answer: Response = Response(
                await run_in_threadpool(performed, engine, STEP_RULES[step], credentials, din,
                                        step, step_body), media_type="application/json")
        except DomainError as error:
            answer = domain_error_response(error)
        await answer(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _json(scope: Scope) -> bool:
    kind = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    return kind == "application/json"


async def _read(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The body's messages (to replay) and the body, None if the client went away."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _checked(route: _StepRoute, din: str, body: bytes) -> tuple[str, Any] | None:
    """The DIN and the body as the route's fields make them, None if either is refused."""
    try:
        sent = json.loads(body)  # as Starlette's Request.json()
    except ValueError:
        return None
    try:
        din_value, din_errors = route.din.validate(din, {}, loc=("path", "din"))
        body_value, body_errors = route.body.validate(sent, {}, loc=("body",))
    except DomainError:  # a check that answers with its own code (a DIN with odd characters)
        return None
    if din_errors or body_errors:
        return None
    return din_value, body_value
