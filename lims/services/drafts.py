"""Drafts: what a person had typed into a step or QC form when their session had ended.

A draft is not a record: it is what the person would otherwise have lost, kept under
their own account and the form's page (the key) until they sign in again and save the
form, discard it, or a day passes. The web layer decides which of the typed fields are
kept (never a password, a signature or a CSRF token); this module only keeps, finds and
forgets them. Each function commits its own change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lims.models import FormDraft, User
from lims.services.common import utcnow

# A draft older than this is forgotten: a form typed yesterday is no longer what the bench
# has in front of it.
DRAFT_LIFETIME = timedelta(days=1)
MAX_KEY = 200  # the column's length
MAX_VALUE = 2000  # the longest free text of a form


def keep_draft(session: Session, *, user_id: int, version: int, key: str,
               values: dict[str, str], now: datetime | None = None) -> bool:
    """Keep `values` as the user's draft of the page `key`, replacing an earlier one.

    Only for an account that still holds the session the values came with (active, not
    locked, the token version unchanged: not signed out elsewhere nor its password reset);
    nothing is kept for an empty form, a too long key or value. True when kept. Old drafts
    of everyone are forgotten on the way."""
    moment = now or utcnow()
    kept = {name: value for name, value in values.items()
            if isinstance(value, str) and value and len(value) <= MAX_VALUE}
    user = session.get(User, user_id)
    if (not kept or len(key) > MAX_KEY or user is None or not user.active
            or user.locked_at is not None or user.token_version != version):
        session.rollback()
        return False
    forget_old_drafts(session, now=moment)
    draft = _draft(session, user_id, key)
    if draft is None:
        draft = FormDraft(user_id=user_id, key=key)
    draft.values = kept
    draft.saved_at = moment
    session.add(draft)
    try:
        session.commit()
    except IntegrityError:  # the same form sent twice at once: the other one is kept
        session.rollback()
        return False
    return True


def draft_of(session: Session, *, user_id: int, key: str,
             now: datetime | None = None) -> FormDraft | None:
    """The user's own draft of the page `key`, unless older than a day (then forgotten)."""
    draft = _draft(session, user_id, key)
    if draft is None:
        return None
    if draft.saved_at < (now or utcnow()) - DRAFT_LIFETIME:
        session.delete(draft)
        session.commit()
        return None
    return draft


def discard_draft(session: Session, *, user_id: int, key: str) -> bool:
    """Forget the user's draft of `key` (saved, or discarded by the person); True if there
    was one. Another user's draft is never touched."""
    draft = _draft(session, user_id, key)
    if draft is None:
        return False
    session.delete(draft)
    session.commit()
    return True


def forget_old_drafts(session: Session, *, now: datetime | None = None) -> int:
    """Delete every draft older than a day; how many. Commits."""
    cutoff = (now or utcnow()) - DRAFT_LIFETIME
    # Only the drafts kept here (keyed by a page's path), not the held checks that share
    # the table (lims.services.submissions, keyed "check:…").
    result: Any = session.execute(delete(FormDraft).where(
        col(FormDraft.saved_at) < cutoff, col(FormDraft.key).startswith("/")))
    session.commit()
    return int(result.rowcount or 0)


def _draft(session: Session, user_id: int, key: str) -> FormDraft | None:
    return session.exec(select(FormDraft).where(
        col(FormDraft.user_id) == user_id, col(FormDraft.key) == key)).first()
