"""Security headers on every page, sliding renewal of the session, sign-in redirects."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lims.api.errors import status_of
from lims.api.limits import BodyLimit
from lims.config import get_settings
from lims.security import TokenClaims, issue_token
from lims.web.deps import (
    SESSION_COOKIE,
    SESSION_PURPOSE,
    LoginRequired,
    PageForbidden,
    PasswordChangeRequired,
    session_claims,
)
from lims.web.drafts import KEPT_NOTICE, form_page, keep_on_ended_session
from lims.web.render import redirect, render, secure_cookie
from workflows.errors import DomainError

# The API, its generated documentation and the FHIR interface set their own headers and
# answer refusals their own way (Swagger UI needs a CDN; FHIR answers OperationOutcome).
NOT_WEB = ("/api", "/docs", "/redoc", "/openapi.json", "/fhir")

SECURITY_HEADERS = {
    # Server-rendered pages; the little script there is (progressive enhancement: every page
    # works without it) comes from this server's own files: nothing inline, nothing elsewhere.
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; object-src 'none'; "
                                "style-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Patient data must not stay in shared browser caches.
    "Cache-Control": "no-store",
}


# Asking how long the session has left is no activity: it must not renew the session.
NOT_RENEWING = frozenset({"/session/status"})


def is_web(path: str) -> bool:
    return not any(path == p or path.startswith(p + "/") for p in NOT_WEB)


def set_session_cookie(request: Request, response: Response, claims: TokenClaims) -> None:
    """The session cookie of `claims`, issued now: its version and start stay the same."""
    settings = get_settings()
    token = issue_token(settings.secret_key, claims.user_id, SESSION_PURPOSE,
                        version=claims.version, started=claims.started)
    # The browser keeps the cookie past the idle limit (the server refuses it then): a form
    # sent after the session ended is known as that person's, so what they typed is kept
    # and the sign-in page can say the session ended (lims.web.drafts).
    response.set_cookie(SESSION_COOKIE, token,
                        max_age=settings.session_hours * 3600, httponly=True,
                        samesite="strict", secure=secure_cookie(request), path="/")


class WebHeaders:
    """Pure ASGI (no BaseHTTPMiddleware: it would cost every request, API too, a task and
    a streamed copy of the body): the pages' headers and the sliding session renewal."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_web(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        request = Request(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value  # the pages' own, stricter than the API's
                if secure_cookie(request):  # production is on https, if only at the proxy
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                # Sliding expiry: activity renews the session; an idle one lapses after the
                # limit.
                claims = session_claims(request)
                if (claims is not None and message["status"] < 400
                        and scope.get("path") not in NOT_RENEWING
                        and not _sets_session(headers)):
                    renewed = Response()
                    set_session_cookie(request, renewed, claims)
                    headers.append("set-cookie", renewed.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _why_ended(claims: TokenClaims) -> str:
    """"limit" for a session past its absolute lifetime, "1" for one idle too long."""
    lifetime = get_settings().session_hours * 3600
    return "limit" if time.time() - claims.started > lifetime else "1"


def _sets_session(headers: MutableHeaders) -> bool:
    return any(value.startswith(SESSION_COOKIE + "=") for value in headers.getlist("set-cookie"))


def install(app: FastAPI) -> None:
    # Inside WebHeaders, so the refusal page carries the pages' headers.
    app.add_middleware(BodyLimit, max_bytes=get_settings().max_request_bytes,
                       refusal=_too_large_page, applies_to=is_web)
    app.add_middleware(WebHeaders)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        # A form sent to a path of its own (a confirmation) leads back to its form page.
        page = form_page(request.url.path) if request.method == "POST" else None
        target = "/login?next=" + quote(page or exc.next_url, safe="")
        if exc.expired:
            target += "&expired=" + (_why_ended(exc.ended) if exc.ended else "1")
        # A step or QC form sent after its session ended: what was typed is kept first.
        kept = exc.ended is not None and await keep_on_ended_session(request, exc.ended)
        response = redirect(target, KEPT_NOTICE) if kept else RedirectResponse(
            target, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.exception_handler(PasswordChangeRequired)
    async def to_password(request: Request, exc: PasswordChangeRequired) -> Response:
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, exc: PageForbidden) -> Response:
        return render(request, "error.html", {"title": "Not allowed", "message": exc.message},
                      status_code=403)

    _pages_first(app, DomainError, _domain_page)
    _pages_first(app, StarletteHTTPException, _http_page)


Handler = Callable[[Request, Any], Any]


def _pages_first(app: FastAPI, error: type[Exception], page: Handler) -> None:
    """Answer `error` with an HTML page on the UI's paths; elsewhere keep the API's handler."""
    previous = app.exception_handlers.get(error)

    async def handler(request: Request, exc: Exception) -> Response:
        if is_web(request.url.path) or previous is None:
            result = page(request, exc)
        else:
            result = previous(request, exc)
        return await result if inspect.isawaitable(result) else result  # type: ignore[no-any-return]

    app.add_exception_handler(error, handler)


def _domain_page(request: Request, exc: DomainError) -> Response:
    # The API's one status map: a refused value is 422 on a page as in the API, not 409.
    status = status_of(exc.code)
    if status == 401:  # the signed-in session is good: a second person's check failed
        status = 403
    return render(request, "error.html", {"title": "Not possible", "message": exc.detail},
                  status_code=status)


def _too_large_page(scope: Scope, limit: int) -> Response:
    return render(Request(scope), "error.html", {
        "title": "Too much was sent",
        "message": f"The form sent more than the {limit:,} bytes this server accepts, so "
                   "nothing was read or recorded. Go back and enter the values again "
                   "(no form or scan of the lab is that large)."}, status_code=413)


def _http_page(request: Request, exc: StarletteHTTPException) -> Response:
    title = "Page not found" if exc.status_code == 404 else "Not possible"
    return render(request, "error.html", {"title": title, "message": str(exc.detail)},
                  status_code=exc.status_code)
