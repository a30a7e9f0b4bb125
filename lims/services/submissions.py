"""What was checked on a bench form, and whether it has been saved.

A step's or the QC results' Check shows what would be saved on a page of its own (reached
by post/redirect/get, so Back never asks to send a form again). What that page shows is
held here, under a one-time token, until its Save: the confirmation saves exactly what was
checked. The Save marks the token as saved in its own transaction, so a second press of
Save (a double Enter, Back and Save again) is recognised as the same submission and
answered "already saved", on any server process.

Kept in the form_draft table under keys of their own ("check:" and the form's page): one
row per person and form, replaced by their next check of that form. Never a password or a
signature: a check holds only what was scanned and typed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from lims.config import get_settings
from lims.models import FormDraft

PREFIX = "check:"


@dataclass(frozen=True)
class Checked:
    """A held check: what was entered, and when it was saved (None while not saved)."""

    token: str
    entered: dict[str, Any]
    saved_at: datetime | None


def _key(page: str) -> str:
    return (PREFIX + page)[:200]


def _row(session: Session, user_id: int, page: str) -> FormDraft | None:
    return session.exec(select(FormDraft).where(FormDraft.user_id == user_id,
                                                FormDraft.key == _key(page))).first()


def hold(session: Session, *, user_id: int, page: str, entered: dict[str, Any]) -> str:
    """Hold what `user_id` checked on the form at `page`; returns the check's token."""
    token = secrets.token_urlsafe(18)
    row = _row(session, user_id, page) or FormDraft(user_id=user_id, key=_key(page))
    row.values = {"token": token, "entered": entered, "saved_at": None}
    row.saved_at = datetime.now(UTC)
    session.add(row)
    session.commit()
    return token


def held(session: Session, *, user_id: int, page: str, token: str) -> Checked | None:
    """The check `token` of that person's form, or None (another check replaced it)."""
    if not token:
        return None
    row = _row(session, user_id, page)
    if row is None or not secrets.compare_digest(str(row.values.get("token", "")), token):
        return None
    saved = row.values.get("saved_at")
    return Checked(token=token, entered=dict(row.values.get("entered") or {}),
                   saved_at=datetime.fromisoformat(saved) if saved else None)


def seal(*, user_id: int, page: str, token: str, entered: dict[str, Any]) -> str:
    """An HMAC over what a check page shows and sends back: a confirmation whose values
    differ from the checked ones (a changed hidden field) does not match it."""
    message = json.dumps({"user": user_id, "page": page, "token": token, "entered": entered},
                         sort_keys=True, ensure_ascii=False)
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"check.{message}".encode(), hashlib.sha256).hexdigest()


def stage_saved(session: Session, *, user_id: int, page: str, token: str,
                at: datetime) -> None:
    """Mark the check `token` as saved, in the transaction of the save (nothing commits)."""
    row = _row(session, user_id, page)
    if row is None or row.values.get("token") != token:
        return
    row.values = {**row.values, "saved_at": at.isoformat()}
    session.add(row)


def mark_saved(session: Session, *, user_id: int, page: str, token: str,
               at: datetime) -> None:
    """Mark the check `token` as saved, on its own (after a save of several results)."""
    stage_saved(session, user_id=user_id, page=page, token=token, at=at)
    session.commit()


@dataclass(frozen=True)
class Submission:
    """A step's save as the check of `page` (a form's token) that it confirms."""

    page: str
    token: str
