"""lims.services.record_reads: the records a page shows, read with prepared statements,
are the rows the ORM reads, as the session sees them, and belong to no session."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from lims.models import (
    CoiEvent,
    Container,
    Deviation,
    PrintJob,
    Product,
    QcResult,
    Signature,
    StepRecord,
    User,
)
from lims.services.record_reads import qc_results_read, rows_by_product, rows_of, users_by_id
from tests.factories import demo_with_occasional_records, make_product, seeded

MODELS: tuple[type[Any], ...] = (Container, PrintJob, StepRecord, QcResult, Signature,
                                 Deviation, CoiEvent)


def _orm(session: Session, model: type[Any], product_id: int) -> list[dict[str, Any]]:
    return [row.model_dump() for row in session.exec(
        select(model).where(model.product_id == product_id).order_by(col(model.id)))]


def test_each_products_rows_are_the_orms_in_the_order_written(session: Session) -> None:
    demo_with_occasional_records(session)
    ids = [p.id for p in session.exec(select(Product)).all() if p.id is not None]
    kinds_read = set()
    for model in MODELS:
        together = rows_by_product(session, model, ids)
        for product_id in ids:
            expected = _orm(session, model, product_id)
            assert [r.model_dump() for r in rows_of(session, model, product_id)] == expected
            assert [r.model_dump() for r in together.get(product_id, [])] == expected
            kinds_read |= {model} if expected else set()
        current = [r for r in _orm(session, QcResult, ids[0]) if not r["superseded"]]
        assert [r.model_dump() for r in qc_results_read(session, ids[0])] == current
    assert kinds_read == set(MODELS)
    assert {u.id: u.model_dump() for u in users_by_id(session).values()} == {
        u.id: u.model_dump() for u in session.exec(select(User)).all()}


def test_what_the_session_changed_is_read_and_what_is_read_is_in_no_session(
        session: Session) -> None:
    run = seeded(session)
    product, _ = make_product(run, until="received")
    session.commit()
    assert product.id is not None
    container = session.exec(select(Container).where(
        Container.product_id == product.id)).first()
    assert container is not None
    container.status = "discarded"  # not yet written: read all the same
    [shown] = [c for c in rows_of(session, Container, product.id) if c.id == container.id]
    assert shown.status == "discarded"
    assert object_session(shown) is None
    shown.status = "in_use"  # a page's copy: changing it writes nothing
    assert shown not in session.dirty
    session.rollback()
