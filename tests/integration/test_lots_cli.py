"""`lims lot add|list`: lots registered from the command line carry their material."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from lims.cli import app
from lims.models import ReagentLot
from tests.factories import PASSWORDS, seeded


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's sessions use the test database."""
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


def test_a_supervisor_registers_a_filter_lot_from_the_command_line(cli_db, session: Session):
    seeded(session)
    session.commit()
    runner = CliRunner()

    done = runner.invoke(app, ["lot", "add", "FLT2511", "--reagent", "Marrow filter set",
                               "--material", "filter", "--expires", "2030-06-30",
                               "--user", "super1", "--password", PASSWORDS["super1"]])
    listed = runner.invoke(app, ["lot", "list"])

    assert done.exit_code == 0, done.output
    assert "registered lot FLT2511: Marrow filter set (filter)" in done.output
    assert any(line.startswith("FLT2511") and "filter" in line
               for line in listed.output.splitlines())
    row = session.exec(select(ReagentLot).where(ReagentLot.lot == "FLT2511")).one()
    assert row.material == "filter"


def test_a_technician_cannot_register_a_lot_from_the_command_line(cli_db, session: Session):
    seeded(session)
    session.commit()

    done = CliRunner().invoke(app, ["lot", "add", "FP2512", "--reagent", "Ficoll-Paque",
                                    "--material", "density_gradient_medium",
                                    "--expires", "2030-06-30", "--user", "tech1",
                                    "--password", PASSWORDS["tech1"]])

    assert done.exit_code == 1
    assert "forbidden" in done.output


def test_qa_releases_a_lot_registered_from_the_command_line(cli_db, session: Session):
    # given a supervisor registers a lot: it waits in quarantine
    seeded(session)
    session.commit()
    runner = CliRunner()
    added = runner.invoke(app, ["lot", "add", "FP2613", "--reagent", "Ficoll-Paque",
                                "--material", "density_gradient_medium",
                                "--expires", "2030-06-30", "--user", "super1",
                                "--password", PASSWORDS["super1"]])
    assert "in quarantine" in added.output, added.output

    # when the supervisor tries to release it, then QA does
    by_supervisor = runner.invoke(app, ["lot", "release", "FP2613", "--user", "super1",
                                        "--password", PASSWORDS["super1"]])
    by_qa = runner.invoke(app, ["lot", "release", "FP2613", "--reason", "CoA checked",
                                "--user", "qa1", "--password", PASSWORDS["qa1"]])
    quarantined = runner.invoke(app, ["lot", "list", "--status", "quarantine"])

    # then only QA's release counts, and the lot is listed as released
    assert by_supervisor.exit_code == 1 and "forbidden" in by_supervisor.output
    assert by_qa.exit_code == 0, by_qa.output
    assert "lot FP2613 (Ficoll-Paque) is now released for use" in by_qa.output
    assert "FP2613" not in quarantined.output
    session.expire_all()
    row = session.exec(select(ReagentLot).where(ReagentLot.lot == "FP2613")).one()
    assert (row.status, row.status_reason) == ("released", "CoA checked")


def test_qa_rejects_a_lot_from_the_command_line_with_the_reason(cli_db, session: Session):
    seeded(session)
    session.commit()
    runner = CliRunner()
    runner.invoke(app, ["lot", "add", "FP2614", "--reagent", "Ficoll-Paque",
                        "--material", "density_gradient_medium", "--expires", "2030-06-30",
                        "--user", "super1", "--password", PASSWORDS["super1"]])

    blank = runner.invoke(app, ["lot", "reject", "FP2614", "--reason", " ", "--user", "qa1",
                                "--password", PASSWORDS["qa1"]])
    done = runner.invoke(app, ["lot", "reject", "FP2614", "--reason", "seal broken",
                               "--user", "qa1", "--password", PASSWORDS["qa1"]])

    assert blank.exit_code == 1 and "reason_required" in blank.output
    assert done.exit_code == 0 and "is now rejected" in done.output, done.output
