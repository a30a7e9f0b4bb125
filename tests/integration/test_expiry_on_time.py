"""Expiry on time: `lims expire-due` (cron) and the job runner's expiry check expire what is
due, notify QA and the physician with the expiry, and never touch a final product; the
monitoring file imported from the command line."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from lims.cli import app
from lims.models import Notification, Product, TemperatureExcursion, TemperatureReading, User
from lims.services.common import utcnow
from lims.services.dispositions import expire_due
from lims.services.expiry import schedule_expiry
from lims.services.jobs import run_due
from lims.services.storage_locations import create_location
from lims.services.temperature import register_device
from tests.factories import PASSWORDS, make_product, seeded, snapshot


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's sessions use the test database."""
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


def expiry_notices(session: Session, din: str) -> list[str]:
    return sorted(session.exec(select(User.username).join(
        Notification, col(Notification.recipient_id) == col(User.id))
        .where(Notification.subject == f"Product {din} expired")).all())


def long_administered(session: Session, run) -> Product:
    """A product administered in date whose expiry has since passed (the clock moved on)."""
    product, _ = make_product(run, arm="BM-MNC", until="administered")
    session.execute(update(Product).where(col(Product.id) == product.id)
                    .values(expires_at=utcnow() - timedelta(hours=1)))
    session.commit()
    return product


def test_expire_due_cli_expires_what_is_due_notifies_and_leaves_final_products(
        session: Session, cli_db: Engine):
    run = seeded(session)
    overdue, _ = make_product(run, until="received", t0=utcnow() - timedelta(hours=13))
    administered = long_administered(session, run)
    in_date, _ = make_product(run, until="received", t0=utcnow() - timedelta(hours=1))
    session.commit()

    result = CliRunner().invoke(app, ["expire-due"])

    assert result.exit_code == 0, result.output
    assert f"expired {overdue.din}" in result.output
    assert "1 product(s) expired" in result.output
    session.expire_all()
    assert snapshot(session, overdue.din).state == "expired"
    assert snapshot(session, administered.din).state == "administered"
    assert snapshot(session, in_date.din).state == "received"
    # QA and the patient's physician are told, with the expiry, nobody else
    recipients = expiry_notices(session, overdue.din)
    assert "qa1" in recipients and len(recipients) == 2
    assert {u.role for u in session.exec(select(User).where(
        col(User.username).in_(recipients)))} == {"qa", "physician"}
    assert expiry_notices(session, administered.din) == []
    # a second run has nothing to do
    session.rollback()  # SQLite: the test's read must not hold the write lock
    again = CliRunner().invoke(app, ["expire-due"])
    assert again.exit_code == 0 and "0 product(s) expired" in again.output


def test_expire_due_reads_no_final_product(session: Session, engine: Engine):
    run = seeded(session)
    administered = long_administered(session, run)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert expire_due(session, now=utcnow()) == []
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # one query, filtered on the state in SQL; the administered product was never loaded
    assert len(statements) == 1 and "state NOT IN" in statements[0]
    assert session.get(Product, administered.id) is not None


def test_the_expiry_job_expires_and_notifies_in_one_transaction(session: Session,
                                                                  mail_server):
    run = seeded(session)
    overdue, _ = make_product(run, until="received", t0=utcnow() - timedelta(hours=13))
    schedule_expiry(session)

    summary = run_due(session, now=utcnow())

    assert summary.done >= 1
    session.expire_all()
    assert snapshot(session, overdue.din).state == "expired"
    assert len(expiry_notices(session, overdue.din)) == 2
    assert any(f"Product {overdue.din} expired" in m["Subject"]
               for m in mail_server.messages)


def test_temperature_import_cli_imports_once_and_refuses_a_bad_file(
        session: Session, cli_db: Engine, tmp_path):
    run = seeded(session)
    sup = run.user("super1")
    create_location(session, actor=sup, kind="site", name="Site", code="C-SITE")
    create_location(session, actor=sup, kind="room", name="Lab", code="C-ROOM",
                    parent_code="C-SITE")
    create_location(session, actor=sup, kind="freezer", name="Freezer", code="C-FRZ",
                    parent_code="C-ROOM", temperature_max_c=-65)
    register_device(session, actor=sup, device="FRZ-1", location_code="C-FRZ")
    start = utcnow() - timedelta(hours=1)
    good = tmp_path / "good.csv"
    good.write_text("".join(f"FRZ-1,{(start + timedelta(minutes=10 * i)).isoformat()},{t}\n"
                            for i, t in enumerate([-80, -50, -79])))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"FRZ-1,{start.isoformat()},-80\nFRZ-1,yesterday,-80\n")
    sign_in = ["--user", "tech1", "--password", PASSWORDS["tech1"]]

    first = CliRunner().invoke(app, ["temperature", "import", str(good), *sign_in])
    second = CliRunner().invoke(app, ["temperature", "import", str(good), *sign_in])
    refused = CliRunner().invoke(app, ["temperature", "import", str(bad), *sign_in])

    assert first.exit_code == 0, first.output
    assert "3 new reading(s)" in first.output and "excursion" in first.output
    assert second.exit_code == 0 and "0 new reading(s), 3 imported before" in second.output
    assert refused.exit_code == 1 and "line 2:" in refused.output
    session.expire_all()
    assert len(session.exec(select(TemperatureReading)).all()) == 3
    [excursion] = session.exec(select(TemperatureExcursion)).all()
    assert excursion.max_c == -50
