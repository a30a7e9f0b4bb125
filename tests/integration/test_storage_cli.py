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


def test_a_supervisor_takes_a_box_out_of_use_and_back_from_the_command_line(cli_db,
                                                                             session: Session):
    run = seeded(session)
    from lims.services.storage_locations import create_location

    sup = run.user("super1")
    create_location(session, actor=sup, kind="site", name="Hospital", code="SITE1")
    create_location(session, actor=sup, kind="room", name="Cell lab", code="ROOM1",
                    parent_code="SITE1")
    create_location(session, actor=sup, kind="fridge", name="Fridge", code="FRG1",
                    parent_code="ROOM1", temperature_min_c=2, temperature_max_c=8)
    create_location(session, actor=sup, kind="box", name="Box 1", code="BOX1",
                    parent_code="FRG1", rows=1, columns=2)
    session.commit()
    runner = CliRunner()
    sign = ["--user", "super1", "--password", PASSWORDS["super1"]]

    no_reason = runner.invoke(app, ["storage", "deactivate-location", "BOX1", "--reason", " ",
                                    *sign])
    assert no_reason.exit_code == 1 and "reason_required" in no_reason.output
    done = runner.invoke(app, ["storage", "deactivate-location", "BOX1", "--reason",
                               "Cracked lid", *sign])
    assert done.exit_code == 0, done.output
    assert "box BOX1 (Box 1) is now out of use" in done.output
    listed = runner.invoke(app, ["storage", "locations"]).output.splitlines()
    assert listed[3].split()[0] == "BOX1" and listed[3].endswith("(out of use)")
    assert not listed[2].endswith("(out of use)")
    back = runner.invoke(app, ["storage", "reactivate-location", "BOX1", "--reason",
                               "New lid", *sign])
    assert back.exit_code == 0 and "is now in use" in back.output, back.output
    assert audit_count(session, AuditAction.STORAGE_LOCATION_DEACTIVATED) == 3  # box + 2
    assert audit_count(session, AuditAction.STORAGE_LOCATION_REACTIVATED) == 3
