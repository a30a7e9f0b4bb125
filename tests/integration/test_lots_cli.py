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
