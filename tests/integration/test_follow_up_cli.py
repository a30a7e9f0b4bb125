"""`lims follow-up overdue` from the command line (issue 15)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from lims.cli import app
from lims.models import FollowUpVisit
from tests.factories import PASSWORDS, make_product, seeded


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's sessions use the test database."""
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


def test_overdue_lists_nothing_today_and_refuses_a_technician(session: Session, cli_db: Engine):
    run = seeded(session)
    make_product(run, arm="CD133", until="administered")
    assert session.exec(select(FollowUpVisit)).all()
    session.commit()
    runner = CliRunner()

    doc = runner.invoke(app, ["follow-up", "overdue", "--user", "doc1",
                              "--password", PASSWORDS["doc1"]])
    tech = runner.invoke(app, ["follow-up", "overdue", "--user", "tech1",
                               "--password", PASSWORDS["tech1"]])

    assert doc.exit_code == 0, doc.output
    assert "no follow-up visit is overdue" in doc.output  # week 1 is due in 7 days
    assert tech.exit_code == 1 and "forbidden" in tech.output
