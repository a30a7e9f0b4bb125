"""`one_of`: the same rows as IN on every database, and on PostgreSQL one statement text
whatever the number of values (one array parameter, so it is parsed and planned once)."""

from __future__ import annotations

from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from lims.models import User
from lims.sql_lists import one_of
from tests.factories import seeded


def test_one_of_finds_what_in_finds(session: Session) -> None:
    seeded(session)
    users = {u.id: u.username for u in session.exec(select(User))}
    ids = sorted(users)
    for wanted in ([ids[0]], ids[1:4], ids, [], [ids[-1], 10**6]):
        got = session.exec(select(User.id).where(one_of(col(User.id), wanted))).all()
        expected = session.exec(select(User.id).where(col(User.id).in_(wanted))).all()
        assert sorted(got) == sorted(expected) == sorted(i for i in wanted if i in users)
    names = [users[ids[0]], users[ids[2]], "nobody-of-that-name"]
    got = session.exec(select(User.username).where(one_of(col(User.username), names))).all()
    assert sorted(got) == sorted(names[:2])
    # A predicate among others, as the pages use it.
    got = session.exec(select(User.id).where(one_of(col(User.id), ids[:3]),
                                             col(User.id) != ids[1])).all()
    assert sorted(got) == [ids[0], ids[2]]


def test_the_statement_text_does_not_grow_with_the_list(engine: Engine) -> None:
    with Session(engine) as session:
        seeded(session)
    texts: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        texts.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with Session(engine) as session:
            for size in (1, 5, 50):
                session.exec(select(User.id).where(one_of(col(User.id), range(1, size + 1))))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    if engine.dialect.name == "postgresql":
        assert len(set(texts)) == 1 and "ANY" in texts[0]
    else:  # SQLite has no arrays: the plain IN, one placeholder per value
        assert [t.count("?") for t in texts] == [1, 5, 50]
