"""Templates, the filters they use (local times, durations, cell counts) and `render`."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from lims.config import get_settings
from lims.web.banner import banner_for
from lims.web.deps import (
    CSRF_COOKIE,
    csrf_nonce,
    session_claims,
    session_seconds_left,
    token_for,
)
from lims.web.vocab import FILTERS
from workflows.identity import container_words
from workflows.isbt128 import parse_din
from workflows.registry import QC, find, format_any

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def site_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().time_zone)


def now() -> datetime:
    return datetime.now(UTC)


def local(when: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the site's time zone, e.g. '2025-11-25 14:03'."""
    if when is None:
        return "—"
    return when.astimezone(site_zone()).strftime(fmt)


def duration(delta: timedelta) -> str:
    """'3 h 05 min', '12 min', '2 d 4 h'."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


def since(when: datetime | None) -> str:
    return "—" if when is None else duration(now() - when)


def countdown(expires: datetime | None) -> dict[str, str]:
    """Text and urgency of an expiry: ok, soon (under 2 h) or expired."""
    if expires is None:
        return {"text": "set at harvest", "level": "none"}
    left = expires - now()
    if left.total_seconds() <= 0:
        return {"text": f"EXPIRED {duration(left)} ago", "level": "expired"}
    level = "soon" if left < timedelta(hours=2) else "ok"
    return {"text": f"{duration(left)} left", "level": level}


def figure(value: object, unit: str | None = None) -> Markup:
    """A value with its unit in the one format (workflows.numbers): "4,000 × 10<sup>6</sup>
    cells", "96.6 %", "1 h 14 min", yes/no, or the text as typed (escaped)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Numbers and units are plain characters; only the <sup> the format adds is markup.
        return Markup(format_any(value, unit or "", "html"))
    return Markup(escape(format_any(value, unit or "")))


def cells(value: object) -> Markup:
    """A cell number: "4.46 × 10<sup>6</sup> cells"."""
    return figure(value, "cells")


_SUPERSCRIPT = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")
_PLAIN_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def sup(text: object) -> Markup:
    """A message written in the text format ("0.70 × 10⁶ cells") with real superscripts
    for the page: the text is escaped, then each superscript run becomes <sup>."""
    escaped = str(escape("" if text is None else text))
    return Markup(_SUPERSCRIPT.sub(
        lambda m: f"<sup>{m.group().translate(_PLAIN_DIGITS)}</sup>", escaped))


@lru_cache(maxsize=4096)  # a page lists many DINs; each check character is computed once
def din_box(din: str) -> Markup:
    """The DIN as on the label: 'X9999 25 000001' and its check character in a box."""
    try:
        parsed = parse_din(din)
    except ValueError:
        return Markup(escape(din))
    return Markup('<span class="din"><span class="din-text">{}</span> '
                  '<span class="din-check" title="check character">{}</span></span>').format(
        parsed.eye_readable(), parsed.check)


def din_words(din: str) -> str:
    """The DIN as a message says it: 'X9999 25 000001 K' (eye-readable, check character)."""
    try:
        parsed = parse_din(din)
    except ValueError:
        return din
    return f"{parsed.eye_readable()} {parsed.check}"


def qc_value(result: Any) -> Markup:
    """A QC result with its unit: '97.1 %', '4.46 × 10<sup>6</sup> cells', 'no growth'."""
    try:
        number = float(result.value)
    except ValueError:
        return Markup(escape(str(result.value)))
    known = find(QC, result.test)
    return figure(number, known.unit if known else result.unit or None)


def capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:]


TEMPLATES.env.filters.update(local=local, since=since, cells=cells, figure=figure,
                             din_box=din_box, kind_label=container_words, qc_value=qc_value,
                             capitalize_first=capitalize_first, sup=sup, **FILTERS)
TEMPLATES.env.globals.update(countdown=countdown, site_zone=lambda: get_settings().time_zone,
                             facility=lambda: get_settings().facility_name)


def render(request: Request, name: str, context: dict[str, Any],
           status_code: int = 200) -> HTMLResponse:
    """Render a page with the signed-in user, the CSRF token and any flash message."""
    context.setdefault("user", getattr(request.state, "user", None))
    context["csrf_token"] = token_for(request)
    context.setdefault("flash", _flash(request))
    settings = get_settings()
    context.setdefault("development", settings.environment == "development")
    context.setdefault("banner", banner_for(request))
    context.setdefault("scan_result", scan_result(request, context))
    if context.get("user") is not None:
        # This answer renews the session (lims.web.middleware): idle from now, unless its
        # absolute lifetime ends sooner. session.js warns before it ends.
        claims = session_claims(request)
        moment = now()
        seconds = (session_seconds_left(claims, moment.timestamp()) if claims is not None
                   else settings.session_minutes * 60)
        context["session_seconds"] = seconds
        context["session_ends"] = local(moment + timedelta(seconds=seconds), "%H:%M")
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
    new_nonce = getattr(request.state, "new_csrf_nonce", None)
    if new_nonce and request.cookies.get(CSRF_COOKIE) != new_nonce:
        set_csrf_cookie(request, response, csrf_nonce(request))
    return response


def set_csrf_cookie(request: Request, response: HTMLResponse | RedirectResponse,
                    nonce: str) -> None:
    response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="strict",
                        secure=secure_cookie(request), path="/")


def secure_cookie(request: Request) -> bool:
    """`Secure` in production always (a TLS proxy may speak plain http to the application),
    in development when the request came by https."""
    return get_settings().secure_cookies or request.url.scheme == "https"


def redirect(url: str, message: str = "", *, scanned: bool = False) -> RedirectResponse:
    """303 See Other after a POST, with an optional message shown on the next page.

    The message travels in the URL with an HMAC, so a crafted link cannot make the
    LIMS say something it did not say. `scanned`: the message answers an accepted scan
    (the next page says so, and scan.js sounds it).
    """
    if message:
        path, hash_mark, fragment = url.partition("#")
        marks = {"msg": message, "sig": _sign(message)}
        if scanned:
            marks["scanned"] = _sign(f"scanned.{message}")[:16]
        path += ("&" if "?" in path else "?") + urlencode(marks)
        url = path + hash_mark + fragment
    return RedirectResponse(url, status_code=303)


def _sign(message: str) -> str:
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"flash.{message}".encode(), hashlib.sha256).hexdigest()[:32]


def flash_message(request: Request) -> str:
    """The page's flash message, if this server wrote it (else nothing)."""
    return _flash(request)


def scan_result(request: Request, context: dict[str, Any]) -> str:
    """"refused" on a page that shows a refused scan, "ok" on the page an accepted scan
    led to, else "": base.html marks the page for scan.js, which sounds it."""
    preview = context.get("preview")
    if context.get("refusal") is not None or getattr(preview, "refusal", None) is not None:
        return "refused"
    message, mark = _flash(request), request.query_params.get("scanned", "")
    if message and mark and hmac.compare_digest(mark, _sign(f"scanned.{message}")[:16]):
        return "ok"
    return ""


def _flash(request: Request) -> str:
    message = request.query_params.get("msg", "")
    signature = request.query_params.get("sig", "")
    return message if message and hmac.compare_digest(signature, _sign(message)) else ""
