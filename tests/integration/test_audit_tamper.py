"""Tampering with the records behind the system's back is refused by the database, and
whatever a malicious DBA gets past it is found by `lims audit verify`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, delete, exc, text, update
from sqlmodel import Session, select

from lims.audit import content_hash, event_hash
from lims.audit_keys import current_key
from lims.models import AuditEvent, Product, QcResult, StepRecord
from lims.services.verification import verify_all
from tests.factories import make_product, seeded

EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]


@pytest.fixture
def lab(session: Session, engine: Engine) -> tuple[Session, Product]:
    """A CD133 product administered and a BM-MNC product released, with an intact trail."""
    run = seeded(session)
    product, _ = make_product(run, arm="CD133", until="administered")
    make_product(run, arm="BM-MNC", until="released")
    report = verify_all(session)
    assert report.ok, report.lines
    session.close()  # end the session's transaction before the DBA connects
    return session, product


def drop_append_only_triggers(engine: Engine) -> None:
    """What a malicious DBA does first."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))


def event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


def verify(session: Session) -> list[str]:
    """The lines of a failed verification that say what is broken."""
    session.close()
    report = verify_all(session)
    assert not report.ok, report.lines
    return [line for line in report.lines if line.startswith("BROKEN")]


# --- the database refuses -------------------------------------------------------------------

def test_the_database_refuses_to_update_an_audit_event(lab, engine):
    with pytest.raises(exc.DBAPIError) as refused, engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET username = 'mallory' WHERE seq = 3"))
    assert "append-only" in str(refused.value)


def test_the_database_refuses_to_delete_an_audit_event(lab, engine):
    total = event_count(engine)
    with pytest.raises(exc.DBAPIError) as refused, engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    assert "append-only" in str(refused.value)
    assert event_count(engine) == total
    session, _ = lab
    assert verify_all(session).ok


# --- the verifier finds what gets past -------------------------------------------------------

@pytest.mark.parametrize("field", ["at", "user_id", "username", "action", "entity", "entity_id",
                                   "field", "old_value", "new_value", "reason", "prev_hash",
                                   "hash"])
def test_editing_any_field_of_a_middle_event_is_detected_at_that_event(lab, engine, field):
    # given an intact trail and a DBA who has dropped the append-only triggers
    session, _ = lab
    middle = event_count(engine) // 2
    drop_append_only_triggers(engine)

    # when one field of a middle event is changed
    with engine.begin() as conn:
        row = conn.execute(EVENTS.select().where(EVENTS.c.seq == middle)).mappings().one()
        value = row[field]
        if field == "at":
            changed = value + timedelta(seconds=1)
        elif field == "user_id":
            changed = (value or 0) + 1
        elif field in ("prev_hash", "hash"):
            changed = "f" * 64 if value != "f" * 64 else "e" * 64
        else:
            changed = f"{value or ''}x"
        conn.execute(update(EVENTS).where(EVENTS.c.seq == middle).values({field: changed}))

    # then verification fails and names that event as the first broken one
    lines = verify(session)
    assert len(lines) == 1
    assert f"first broken event: {middle})" in lines[0]
    assert f"event {middle} " in lines[0]


def test_deleting_a_middle_event_is_detected(lab, engine):
    session, _ = lab
    middle = event_count(engine) // 2
    drop_append_only_triggers(engine)

    with engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == middle))

    lines = verify(session)
    assert f"event {middle} is missing" in lines[0]


def test_deleting_the_last_event_is_detected(lab, engine):
    session, _ = lab
    last = event_count(engine)
    drop_append_only_triggers(engine)

    with engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.seq == last))

    lines = verify(session)
    assert f"events after {last - 1} were deleted" in lines[0]
    assert f"first broken event: {last})" in lines[0]


def test_rewriting_a_middle_event_and_rehashing_everything_after_it_breaks_the_head(lab, engine):
    # a DBA who recomputes the rest of the chain still cannot move the head without a trace
    session, _ = lab
    total = event_count(engine)
    middle = total // 2
    drop_append_only_triggers(engine)
    with engine.begin() as conn:
        rows = conn.execute(EVENTS.select().where(EVENTS.c.seq >= middle)
                            .order_by(EVENTS.c.seq)).mappings().all()
        prev = rows[0]["prev_hash"]
        for row in rows:
            new = dict(row)
            if row["seq"] == middle:
                new["username"] = "mallory"
            new["prev_hash"] = prev
            new["hash"] = prev = event_hash(prev, new, current_key())  # even with the key
            conn.execute(update(EVENTS).where(EVENTS.c.seq == row["seq"])
                         .values(username=new["username"], prev_hash=new["prev_hash"],
                                 hash=new["hash"]))

    lines = verify(session)
    assert "audit chain" in lines[0] and "head says" in lines[0]


# --- the records reconciled against the trail ------------------------------------------------

def test_changing_a_products_state_in_its_table_is_detected(lab, engine):
    session, product = lab

    table = Product.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.din == product.din).values(state="released"))

    lines = verify(session)
    assert lines == [f"BROKEN: product {product.din}: state: expected administered (from its "
                     "audit history); found released"]


def test_changing_a_step_records_values_in_its_table_is_detected(lab, engine):
    session, product = lab
    record = session.exec(select(StepRecord).where(StepRecord.product_id == product.id,
                                                   StepRecord.step == "isolate_mnc")).one()
    session.close()
    values = {**record.values, "viability_pct": 99.9}

    table = StepRecord.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == record.id).values(values=values))

    lines = verify(session)
    assert len(lines) == 1
    assert lines[0].startswith(f"BROKEN: step record {record.id} (isolate_mnc): content: ")
    assert "its values, computed figures or findings were changed" in lines[0]


def test_a_step_record_rehashed_after_its_change_is_still_detected(lab, engine):
    session, product = lab
    record = session.exec(select(StepRecord).where(StepRecord.product_id == product.id,
                                                   StepRecord.step == "formulate")).one()
    session.close()
    values = {**record.values, "total_cells": 9.9e6}
    rehashed = content_hash({"step": record.step, "values": values, "computed": record.computed,
                             "findings": record.findings})

    table = StepRecord.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == record.id)
                     .values(values=values, content_hash=rehashed))

    lines = verify(session)
    # the step record, and the release signed over the product's records, both say so
    assert any(line.startswith(f"BROKEN: step record {record.id} (formulate): content: ")
               for line in lines), lines
    assert any("the product's records no longer match what was signed" in line
               for line in lines), lines


@pytest.mark.parametrize("rehash", [False, True], ids=["value only", "value and its hash"])
def test_changing_a_qc_result_in_its_table_is_detected(lab, engine, rehash):
    session, product = lab
    result = session.exec(select(QcResult).where(QcResult.product_id == product.id,
                                                 QcResult.test == "endotoxin")).one()
    session.close()
    changes: dict[str, object] = {"value": "0.01"}
    if rehash:
        changes["content_hash"] = content_hash({"test": result.test, "value": "0.01",
                                                "passed": result.passed})

    table = QcResult.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == result.id).values(**changes))

    lines = verify(session)
    [qc_line] = [line for line in lines if line.startswith(f"BROKEN: QC result {result.id} ")]
    assert f"(endotoxin): value: expected endotoxin = {result.value} (event " in qc_line
    assert qc_line.endswith("found endotoxin = 0.01")


# --- the real command line -------------------------------------------------------------------

def _lims(args: list[str], db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "lims"
    command = [str(script)] if script.exists() else [
        sys.executable, "-c", "from lims.cli import app; app()"]
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def test_the_lims_audit_verify_command_passes_an_intact_trail_and_names_a_broken_event(
        tmp_path):
    # given a database made by the real CLI: init, seed and the demo products
    db = tmp_path / "cli.db"
    for args in (["init"], ["seed", "--demo"], ["demo", "--out", str(tmp_path / "out")]):
        done = _lims(args, db, tmp_path)
        assert done.returncode == 0, (args, done.stdout, done.stderr)

    # when the trail is verified, it is intact
    intact = _lims(["audit", "verify"], db, tmp_path)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit chain intact" in intact.stdout

    # when a DBA drops the triggers and edits a middle event
    with sqlite3.connect(db) as conn:
        total = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
        middle = total // 2
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("UPDATE audit_event SET new_value = 'tampered' WHERE seq = ?", (middle,))
    conn.close()

    # then verify exits non-zero and names the event
    broken = _lims(["audit", "verify"], db, tmp_path)
    assert broken.returncode != 0
    assert f"first broken event: {middle})" in broken.stdout
    assert f"event {middle} was altered" in broken.stdout
