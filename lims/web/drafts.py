"""What was typed into a step or QC form survives the end of a session.

When a step's Check or Save, or the QC entry, is sent after the session has ended (idle, or
at its absolute limit), the sign-in redirect first keeps what was typed as a draft of the
person whose session it was (lims.services.drafts), keyed by the form's page; after signing
in again, that page puts the values back into its fields and says so. Only for a session
cookie this server signed (a forged or tampered one keeps nothing) and a form carrying that
session's CSRF token.

What is kept is an allow-list, the form's own fields: a step's fields from its StepSpec
(workflows.steps), the QC form's result, method, instrument and volume of each QC test, the
sample time and the reason. Never a password, a witness's or signer's user name, the scans
(identity is scanned again, at the bench, after signing in) nor a CSRF token.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from lims.db import session_scope
from lims.security import TokenClaims
from lims.services.drafts import discard_draft, draft_of, keep_draft
from lims.web.deps import CSRF_COOKIE, csrf_token
from lims.web.forms import TimeEntryError, parse_time, read_step_form, shown_time
from lims.web.render import local, now, site_zone
from workflows.specifications import QC_TESTS
from workflows.steps import STEPS
from workflows.typed_text import free_text_problem

STEP_PAGE = re.compile(r"^/products/([^/]{1,80})/steps/([a-z_]{1,40})$")
# The QC entry form, and its check page's confirmation (which resends the same fields).
QC_PAGE = re.compile(r"^(/products/[^/]{1,80}/qc)(?:/confirm)?$")

KEPT_NOTICE = ("Your session ended; what you typed is kept and comes back after you sign "
               "in.")


def form_page(path: str) -> str | None:
    """The form page whose typed values a POST to `path` carries (the draft's key, and
    where signing in again leads), or None for a path that keeps no draft."""
    if (step := STEP_PAGE.match(path)) is not None and step[2] in STEPS:
        return path
    if (qc := QC_PAGE.match(path)) is not None:
        return qc[1]
    return None


def qc_typed(form: FormData | Mapping[str, str]) -> dict[str, str]:
    """The QC form's values as typed, by the names its page shows them under: the result of
    each test under the test's name, its method, instrument and sample volume, the sample
    time and the reason."""
    typed = {key: _text(form, key) for key in ("sample_drawn_at", "reason")}
    for name in QC_TESTS:
        typed[name] = _text(form, f"qc_{name}")
        for key in (f"method_{name}", f"instrument_{name}", f"volume_{name}"):
            typed[key] = _text(form, key)
    return typed


def kept_values(path: str, form: FormData | Mapping[str, str],
                moment: datetime) -> dict[str, str]:
    """What of a form sent to `path` is kept: its own fields only, as the page shows them
    again (a time typed as "now" or "14:05" becomes the moment it meant), empty ones and
    any with a control character left out."""
    zone = site_zone()
    if (step := STEP_PAGE.match(path)) is not None and step[2] in STEPS:
        typed = read_step_form(STEPS[step[2]], form, zone, moment).typed
    elif QC_PAGE.match(path) is not None:
        typed = qc_typed(form)
        typed["sample_drawn_at"] = _moment(typed["sample_drawn_at"], moment)
    else:
        return {}
    return {name: value for name, value in typed.items()
            if value and free_text_problem(value, lines=True) is None}


async def keep_on_ended_session(request: Request, ended: TokenClaims) -> bool:
    """Keep what a form posted after its session ended carried, as the draft of the person
    whose session it was; True when kept. Nothing is kept for another page, a form
    without that session's CSRF token, or an account signed out or changed since."""
    path = request.url.path
    key = form_page(path)
    if request.method != "POST" or key is None:
        return False
    try:
        form = await request.form()
    except Exception:  # a body that cannot be read keeps nothing
        return False
    nonce, sent = request.cookies.get(CSRF_COOKIE), form.get("csrf_token")
    if not nonce or not isinstance(sent, str) or not hmac.compare_digest(
            sent, csrf_token(nonce, ended.user_id)):
        return False
    values = kept_values(path, form, now())
    if not values:
        return False
    engine: Engine | None = getattr(request.app.state, "engine", None)
    return await run_in_threadpool(_keep, engine, ended, key, values)


def _keep(engine: Engine | None, ended: TokenClaims, key: str,
          values: dict[str, str]) -> bool:
    with session_scope(engine) as session:
        return keep_draft(session, user_id=ended.user_id, version=ended.version, key=key,
                          values=values)


@dataclass(frozen=True)
class Restored:
    """A draft put back into its form: the values and when they were kept."""

    values: dict[str, str]
    notice: str


def restore(db: Session, user_id: int, key: str) -> Restored | None:
    """The signed-in user's own draft of the page `key`, to show in its fields."""
    draft = draft_of(db, user_id=user_id, key=key)
    if draft is None:
        return None
    values = {name: str(value) for name, value in draft.values.items()}
    return Restored(values, "Restored what you typed before your session ended (kept at "
                            f"{local(draft.saved_at, '%H:%M')}); check it and save.")


def forget(db: Session, user_id: int, key: str) -> bool:
    """The form was saved (or the person discarded the draft): its draft is gone."""
    return discard_draft(db, user_id=user_id, key=key)


def _text(form: FormData | Mapping[str, str], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _moment(text: str, moment: datetime) -> str:
    if not text:
        return ""
    try:
        return shown_time(parse_time(text, site_zone(), moment), site_zone())
    except TimeEntryError:
        return text
