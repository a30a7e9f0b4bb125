"""`lims storage add-location|locations`: the tree built from the command line, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from lims.audit_actions import AuditAction
from lims.cli import app
from tests.factories import PASSWORDS, audit_count, seeded


@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's sessions use the test database."""
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


def test_a_supervisor_builds_the_tree_from_the_command_line(cli_db, session: Session):
    seeded(session)
    session.commit()
    runner = CliRunner()
    sign = ["--user", "super1", "--password", PASSWORDS["super1"]]
    for args in (["site", "SITE1", "--name", "Hospital"],
                 ["room", "ROOM1", "--name", "Cell lab", "--parent", "SITE1"],
                 ["fridge", "FRG1", "--name", "Fridge", "--parent", "ROOM1", "--min-c", "2",
                  "--max-c", "8"],
                 ["box", "BOX1", "--name", "Box 1", "--parent", "FRG1", "--rows", "2",
                  "--columns", "2"]):
        done = runner.invoke(app, ["storage", "add-location", *args, *sign])
        assert done.exit_code == 0, done.output
    refused = runner.invoke(app, ["storage", "add-location", "box", "BOX2", "--name", "B",
                                  "--parent", "ROOM1", "--rows", "1", "--columns", "1", *sign])
    assert refused.exit_code == 1 and "a box cannot be inside a room" in refused.output
    by_technician = runner.invoke(app, ["storage", "add-location", "site", "SITE2", "--name",
                                        "S", "--user", "tech1", "--password",
                                        PASSWORDS["tech1"]])
    assert by_technician.exit_code == 1 and "forbidden" in by_technician.output
    listed = runner.invoke(app, ["storage", "locations"]).output.splitlines()
    assert [line.split()[0] for line in listed] == ["SITE1", "ROOM1", "FRG1", "BOX1"]
    assert "[2 to 8 °C]" in listed[3] and "0 of 4 occupied" in listed[3]
    assert audit_count(session, AuditAction.STORAGE_LOCATION_CREATED) == 4
