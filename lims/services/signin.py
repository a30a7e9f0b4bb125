"""Back-off after failed sign-ins, per user name and address (workflows/throttle.py).

Three keys count each failure: the user name from that address (a person mistyping, or one
machine guessing one account), the address (one machine trying many names), the user name
from anywhere (many machines on one account, at a higher count). A key that has failed
too often waits; nothing locks, so nobody can shut the only administrator out for good,
and an administrator (or `lims users unlock` at the server) clears the waits of a name.
The keys are counted for names no account has too: a throttled answer is the same whether
the account exists or not. A key's row is deleted by a background job once its last
failure no longer counts (`forget_stale`, lims/services/signin_cleanup.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, and_, delete, or_, update
from sqlalchemy import select as select_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from lims.config import get_settings
from lims.models import SigninThrottle
from workflows.errors import DomainError, ErrorCode
from workflows.throttle import Rule, in_words, wait_after

_T: Table = SigninThrottle.__table__  # type: ignore[attr-defined]
# Where a check has no network address: a witness's or signer's password re-entered
# within someone's session (the session's own user is known and audited).
IN_SESSION = "in-session"


def throttle_keys(name: str, source: str | None) -> list[tuple[str, Rule]]:
    settings = get_settings()
    free, cap = settings.max_failed_logins, settings.signin_max_wait_seconds
    forget = settings.signin_forget_after_seconds
    name, where = name[:64], (source or IN_SESSION)[:64]
    keys = [(f"name:{name}@{where}", Rule(free, cap, forget)),
            (f"name:{name}", Rule(free * 10, cap, forget))]
    if source:
        keys.append((f"address:{where}", Rule(free * 4, cap, forget)))
    return keys


def refuse_if_throttled(session: Session, keys: list[tuple[str, Rule]],
                        now: datetime) -> None:
    """SIGNIN_THROTTLED, saying how long to wait, while any key must still wait."""
    rows = session.exec(select(SigninThrottle).where(
        col(SigninThrottle.key).in_([key for key, _ in keys]))).all()
    waits = [row.blocked_until for row in rows
             if row.blocked_until is not None and row.blocked_until > now]
    if waits:
        raise DomainError(ErrorCode.SIGNIN_THROTTLED, throttled_message(max(waits) - now))


def throttled_message(wait: timedelta) -> str:
    # The same words for every account and for names no account has: no enumeration.
    return (f"Too many failed sign-ins with this user name or from this computer: wait "
            f"{in_words(wait.total_seconds())} and try again. Nothing is locked; an "
            "administrator can clear the wait at once.")


def record_failure(session: Session, keys: list[tuple[str, Rule]], now: datetime) -> int:
    """Count a failure against every key; the wait it starts for the first key (seconds)."""
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    # An existing row is locked by this statement already (a no-op update, not DO NOTHING):
    # the clean-up, which skips locked rows, cannot delete it before the read below.
    session.execute(insert(_T).values([{"key": key, "failures": 0} for key, _ in keys])
                    .on_conflict_do_update(index_elements=["key"],
                                           set_={"failures": _T.c.failures}))
    rows = {row.key: row for row in session.exec(
        select(SigninThrottle).where(col(SigninThrottle.key).in_([key for key, _ in keys]))
        .with_for_update().execution_options(populate_existing=True))}
    waits = []
    for key, rule in keys:
        row = rows[key]
        stale = (row.last_failure_at is None
                 or now - row.last_failure_at > timedelta(seconds=rule.forget_after_seconds))
        row.failures = 1 if stale else row.failures + 1
        row.last_failure_at = now
        wait = wait_after(row.failures, rule)
        row.blocked_until = now + timedelta(seconds=wait) if wait else None
        waits.append(wait)
        session.add(row)
    return waits[0]


def clear_after_success(session: Session, keys: list[tuple[str, Rule]]) -> None:
    """A right password clears its name's counts (not the address's: one good account
    must not reset a machine that guesses others)."""
    names = [key for key, _ in keys if key.startswith("name:")]
    session.execute(update(_T).where(_T.c.key.in_(names), _T.c.failures > 0)
                    .values(failures=0, blocked_until=None))


def clear_name(session: Session, name: str) -> None:
    """Every wait of a user name, from every address (an administrator's unlock)."""
    prefix = f"name:{name[:64]}"
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    session.execute(update(_T).where(or_(_T.c.key == prefix,
                                         _T.c.key.like(f"{escaped}@%", escape="\\")))
                    .values(failures=0, blocked_until=None))


def waits_by_name(session: Session, now: datetime) -> dict[str, datetime]:
    """Until when each user name that must wait now waits, whatever the address (for the
    administrator's list of accounts; names no account has are in it too)."""
    rows = session.exec(select(SigninThrottle).where(
        col(SigninThrottle.key).startswith("name:"),
        col(SigninThrottle.blocked_until).is_not(None)))
    waits: dict[str, datetime] = {}
    for row in rows:
        until = row.blocked_until
        if until is None or until <= now:
            continue
        name = row.key.removeprefix("name:").partition("@")[0]
        waits[name] = max(until, waits.get(name, until))
    return waits


def forget_stale(session: Session, now: datetime, *, batch: int = 1000) -> int:
    """Delete the rows of keys whose last failure no longer counts (older than
    LIMS_SIGNIN_FORGET_AFTER_SECONDS) and whose wait is over. Each batch is a transaction
    of its own (committed here); rows a sign-in holds are skipped, and taken at the next
    run. The number of rows deleted."""
    cutoff = now - timedelta(seconds=get_settings().signin_forget_after_seconds)
    stale = and_(or_(_T.c.last_failure_at.is_(None), _T.c.last_failure_at < cutoff),
                 or_(_T.c.blocked_until.is_(None), _T.c.blocked_until <= now))
    deleted = 0
    while True:
        # PostgreSQL: FOR UPDATE SKIP LOCKED, so the clean-up never waits for a sign-in (nor
        # a sign-in for long on it); SQLite's write lock serialises the two anyway.
        keys = (select_rows(_T.c.key).where(stale).limit(batch)
                .with_for_update(skip_locked=True))
        gone = int(session.execute(delete(_T).where(_T.c.key.in_(keys)))
                   .rowcount)  # type: ignore[attr-defined]
        session.commit()
        deleted += gone
        if gone < batch:
            return deleted
