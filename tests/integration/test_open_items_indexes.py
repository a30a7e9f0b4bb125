"""What every QA and physician page reads — the open alerts and the notifications not
delivered — is found through partial indexes holding only those rows, not by reading the
years of acknowledged alerts and sent notifications (migration b4c6e8a0d2f3)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session, select

from lims.models import User
from lims.services.notifications import attention, list_notifications
from tests.factories import seeded


def statements_of(engine: Engine, read: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def keep(_conn: object, _cursor: object, statement: str, parameters: Any,
             *_args: object) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with Session(engine) as session:
            read(session)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return seen


def plan(engine: Engine, statement: str, parameters: Any) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # The tables are nearly empty here: forbid the sequential scan a small table
            # gets, so the plan shows whether the index can serve the query at all (and a
            # prepared statement's generic plan too: the predicate holds no bound value).
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return "\n".join(str(row[-1]) for row in rows)


def test_the_banner_reads_through_the_partial_indexes(engine: Engine) -> None:
    with Session(engine) as session:
        seeded(session)
        qa = session.exec(select(User).where(User.username == "qa1")).one()

    def banner(session: Session) -> None:
        attention(session)
        list_notifications(session, actor=qa, undelivered_only=True)

    statements = statements_of(engine, banner)
    alerts = [s for s in statements if "FROM alert" in s[0] and "acknowledged_at IS NULL" in s[0]]
    notes = [s for s in statements if "FROM notification" in s[0]]
    assert len(alerts) == 1 and len(notes) == 2, [s for s, _ in statements]
    assert "ix_alert_open" in plan(engine, *alerts[0])
    for statement, parameters in notes:
        assert "'sent'" in statement  # a constant the planner can match to the index
        assert "ix_notification_undelivered" in plan(engine, statement, parameters)
