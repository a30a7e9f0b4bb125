"""`lims audit verify` compares each table a chunk of rows (and their events) at a time; with
chunks of two rows, a lab of several products spans many chunks, and a row changed or deleted
behind the system's back in a late chunk is found all the same."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, Table, delete, func, select, update
from sqlmodel import Session

from lims.models import PrintJob, Product, QcResult, StepRecord
from lims.services import audit_trail_index
from lims.services.verification import verify_all
from tests.factories import make_product, seeded

CHUNK = 2
STEPS: Table = StepRecord.__table__  # type: ignore[attr-defined]
QC: Table = QcResult.__table__  # type: ignore[attr-defined]
PRODUCTS: Table = Product.__table__  # type: ignore[attr-defined]
PRINTS: Table = PrintJob.__table__  # type: ignore[attr-defined]


@pytest.fixture
def lab(session: Session, monkeypatch: pytest.MonkeyPatch) -> list[Product]:
    """Four products in several states, verified clean two rows at a time."""
    monkeypatch.setattr(audit_trail_index, "CHUNK", CHUNK)
    run = seeded(session)
    products = [make_product(run, arm="CD133", until="administered")[0],
                make_product(run, arm="BM-MNC", until="released")[0],
                make_product(run, arm="CD133", until="released")[0],
                make_product(run, arm="BM-MNC", until="received")[0]]
    session.close()  # end the session's transaction before the attacker connects
    return products


def last_row(engine: Engine, table: Table) -> tuple[int, int]:
    """The id of the table's last row (in its last chunk) and how many rows come before it."""
    with engine.connect() as conn:
        last = conn.execute(select(func.max(table.c.id))).scalar_one()
        before = conn.execute(select(func.count()).where(table.c.id < last)).scalar_one()
    return last, before


def broken(session: Session) -> list[str]:
    session.close()
    report = verify_all(session)
    assert not report.ok, report.lines
    return [line for line in report.lines if line.startswith("BROKEN")]


def test_a_clean_lab_verifies_clean_two_rows_at_a_time(lab, session, engine):
    # given more rows of each kind than fit in one chunk
    for table in (STEPS, QC, PRODUCTS, PRINTS):
        assert last_row(engine, table)[1] >= CHUNK, table.name

    # when it is verified two rows at a time
    report = verify_all(session)

    # then every row matched its events across the chunk boundaries
    assert report.ok, report.lines
    assert report.problems == []


def test_a_step_record_changed_in_the_last_chunk_is_detected(lab, session, engine):
    last, before = last_row(engine, STEPS)
    assert before >= CHUNK
    with engine.begin() as conn:
        values = conn.execute(select(STEPS.c["values"]).where(STEPS.c.id == last)).scalar_one()
        conn.execute(update(STEPS).where(STEPS.c.id == last)
                     .values(values={**values, "tampered": 1}))

    lines = broken(session)

    assert len(lines) == 1, lines
    assert lines[0].startswith(f"BROKEN: step record {last} (")
    assert "its values, computed figures or findings were changed" in lines[0]


def test_a_qc_result_changed_in_the_last_chunk_is_detected(lab, session, engine):
    last, before = last_row(engine, QC)
    assert before >= CHUNK
    with engine.begin() as conn:
        test, value = conn.execute(select(QC.c.test, QC.c.value).where(QC.c.id == last)).one()
        conn.execute(update(QC).where(QC.c.id == last).values(value=f"{value}9"))

    lines = broken(session)

    assert any(line.startswith(f"BROKEN: QC result {last} ({test}): value: expected "
                               f"{test} = {value} (event ") for line in lines), lines


def test_a_product_state_changed_in_the_last_chunk_is_detected(lab, session, engine):
    received = lab[-1]
    with engine.begin() as conn:
        conn.execute(update(PRODUCTS).where(PRODUCTS.c.din == received.din)
                     .values(state="released"))

    lines = broken(session)

    assert f"BROKEN: product {received.din}: state: expected received (from its audit " \
           "history); found released" in lines


def test_a_label_print_deleted_from_the_last_chunk_is_named_by_its_event(lab, session, engine):
    last, before = last_row(engine, PRINTS)
    assert before >= CHUNK
    with engine.begin() as conn:
        conn.execute(delete(PRINTS).where(PRINTS.c.id == last))

    lines = broken(session)

    gone = [line for line in lines if line.startswith(f"BROKEN: label print {last} ")]
    assert len(gone) == 1, lines
    assert gone[0].endswith("found no such row: it was deleted outside the system")
