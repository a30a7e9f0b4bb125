"""The hot path's statements run on the driver's cursor (lims.prepared): they must read and
write exactly what SQLAlchemy's own execution would, on SQLite and PostgreSQL alike, and
nothing a process remembers may outlive what the database says (the protocol)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from lims.audit import verify_chain
from lims.models import Container, Product, StepRecord, User
from lims.prepared import Prepared, instance, new, row_of
from lims.services import step_store as store
from lims.services.common import utcnow
from tests.factories import enter_qc, make_product, seeded, set_protocol_parameter


def _core(session: Session, prepared: Prepared, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The same statement as SQLAlchemy runs it."""
    return [dict(row) for row in
            session.connection().execute(prepared.statement, params).mappings()]


def _formulated_with_qc(session: Session) -> Product:
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="formulated")
    enter_qc(run, product)  # QC results that drew volumes from the product
    session.commit()
    return product


def test_reads_give_what_sqlalchemy_gives(session: Session) -> None:
    product = _formulated_with_qc(session)
    conn = session.connection()
    assert product.id is not None
    for prepared, params in ((store._CONTEXT, {"din": product.din}),
                             (store._FAMILY, {"pid": product.id}),
                             (store._RECORDS, {"pid": product.id}),
                             (store._QC_DRAWS, {"pid": product.id})):
        mine = prepared.mappings(conn, params)
        assert mine == _core(session, prepared, params)
        assert mine, prepared.statement  # something was compared
    context = store._CONTEXT.first(conn, {"din": product.din})
    assert context is not None and context["qc_draws"] > 0
    # Times come back aware and in UTC, JSON as what was stored, as the ORM reads them.
    family = store._FAMILY.mappings(conn, {"pid": product.id})
    assert all(row["created_at"].tzinfo is not None
               and row["created_at"].utcoffset() == timedelta(0) for row in family)
    orm = {c.id: c for c in session.exec(
        select(Container).where(Container.product_id == product.id))}
    assert {row["id"]: instance(Container, row).model_dump() for row in family} == \
        {key: c.model_dump() for key, c in orm.items()}


def test_the_step_context_is_the_same_read_once_or_statement_by_statement(
        session: Session) -> None:
    product = _formulated_with_qc(session)
    conn = session.connection()
    assert product.id is not None
    ctx = store.load_context(conn, product.din)
    assert ctx is not None
    once = store.step_context(conn, ctx)  # family and records read once, kept on ctx
    assert ctx.family is not None and ctx.records is not None
    apart = store.context_of(ctx, {step: (values, computed) for step, values, computed in
                                   store._records(conn, product.id)},
                             store.drawn_volumes(conn, product.id))
    assert once == apart
    assert store.drawn_volumes(conn, product.id)  # the QC draws were counted


def test_writes_store_what_the_orm_reads_back(session: Session) -> None:
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    assert product.id is not None
    conn = session.connection()
    at = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    record = new(StepRecord, product_id=product.id, step="sediment",
                 values={"a": 1.5, "b": "text", "when": at.isoformat()},
                 computed={"x": 2.0}, findings=[{"field": "a"}], operator_id=1,
                 performed_at=at, content_hash="f" * 64)
    record_id = store.insert_record(conn, row_of(record))
    assert not store.move_product(conn, product.id, product.version + 5, {"state": "x"})
    assert store.move_product(conn, product.id, product.version,
                              {"version": product.version + 1, "updated_at": at})
    session.commit()
    session.expire_all()
    stored = session.get(StepRecord, record_id)
    assert stored is not None
    assert stored.model_dump(exclude={"id"}) == row_of(record)
    assert stored.superseded is False and stored.performed_at == at
    moved = session.get(Product, product.id)
    assert moved is not None
    assert (moved.version, moved.updated_at, moved.state) == (product.version + 1, at,
                                                              product.state)


def test_a_changed_protocol_is_read_anew(session: Session) -> None:
    """The parsed parameters are kept per stored text: whatever another process changed,
    the next step reads the protocol the database holds."""
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="received")
    ctx = store.load_context(session.connection(), product.din)
    assert ctx is not None
    before = ctx.params.clock_skew_minutes
    set_protocol_parameter(session, "clock_skew_minutes", before + 7)
    again = store.load_context(session.connection(), product.din)
    assert again is not None and again.params.clock_skew_minutes == before + 7
    assert again.product_codes == ctx.product_codes


def test_instances_are_the_constructors(session: Session) -> None:
    row = {"id": 7, "username": "someone", "full_name": "Some One", "role": "tech"}
    with pytest.raises(ValueError, match="every field"):
        instance(User, row)  # a partial row would leave fields unset
    with pytest.raises(TypeError, match="no field"):
        new(Container, product_id=1, kind="mnc", product_code="S1234000", created_by_id=1,
            colour="red")
    with pytest.raises(TypeError, match="needs"):
        new(Container, product_id=1, kind="mnc", created_by_id=1)
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="scheduled")
    tech = run.user("tech1")
    at = utcnow()
    fast = new(Container, product_id=product.id, kind="mnc", product_code="S1234000",
               created_by_id=tech.id, created_at=at)
    slow = Container(product_id=product.id, kind="mnc", product_code="S1234000",
                     created_by_id=tech.id, created_at=at)
    assert fast.model_dump() == slow.model_dump()
    assert row_of(fast) == slow.model_dump(exclude={"id"})
    fast.status = "consumed"  # an ordinary instance: attributes set as usual
    assert fast.status == "consumed"
    session.add(fast)  # and one the session can write, every field as set
    session.commit()
    assert fast.id is not None
    session.expire_all()
    stored = session.get(Container, fast.id)
    assert stored is not None
    assert stored.model_dump(exclude={"id"}) == row_of(fast)


def test_the_chain_verifies_after_steps_written_on_the_cursor(session: Session) -> None:
    run = seeded(session)
    make_product(run, arm="CD133", until="formulated")
    report = verify_chain(session)
    assert report.ok, report.problem
