"""Signed checkpoints outside the database catch what a consistent chain cannot: the newest
events deleted with the head moved back, or the trail rewritten from a point; a
legitimate restore from backup is recorded as such."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, delete
from sqlmodel import Session

from lims.audit_checkpoints import CheckpointError, check_lines, public_key, read_lines
from lims.audit_keys import current_key
from lims.config import get_settings
from lims.jobs import run_once
from lims.models import User
from lims.services.checkpoints import restore_checkpoint, write_checkpoint
from lims.services.users import create_user
from tests.factories import make_product, seeded
from tests.integration.audit_attacks import (
    broken,
    cut_tail,
    event_at,
    intact,
    last_event,
    rechain_from,
)

USERS: Table = User.__table__  # type: ignore[attr-defined]


@pytest.fixture
def lab(session: Session) -> Session:
    """Two released products (each release wrote a checkpoint), trail intact."""
    run = seeded(session)
    make_product(run, arm="BM-MNC", until="released")
    make_product(run, arm="CD133", until="released")
    intact(session)
    session.close()
    return session


def checkpoint_file() -> Path:
    return Path(get_settings().audit_checkpoint_path)


def checkpoints() -> list[dict[str, object]]:
    return [json.loads(line) for line in read_lines(checkpoint_file())]


def test_each_release_writes_a_signed_checkpoint_of_the_head(lab, engine: Engine):
    written = checkpoints()
    assert [c["reason"] for c in written][-2:] == [f"released {d}" for d in _dins(written)]
    last = written[-1]
    assert last["seq"] == last["tree_size"]
    assert last["chain_hash"] == event_at(engine, int(last["seq"]))["hash"]
    assert event_at(engine, int(last["seq"]))["action"] == "state_changed"
    assert last["key_id"] == current_key().key_id
    good, problems = check_lines(read_lines(checkpoint_file()), public_key())
    assert problems == [] and len(good) == len(written)


def _dins(written: list[dict[str, object]]) -> list[str]:
    return [str(c["reason"]).split(" ", 1)[1] for c in written][-2:]


def test_deleting_the_newest_events_and_moving_the_head_back_is_named(lab, engine: Engine):
    # given a checkpoint at the head
    session = lab
    checkpoint = write_checkpoint(session, reason="test")
    session.close()

    # when the newest ten events are deleted and the head moved back (a consistent chain)
    cut_tail(engine, checkpoint.seq - 10)

    # then verification names the checkpoint and where the database now ends
    lines = broken(session)
    assert len(lines) == 1
    assert (f"checkpoint {checkpoint.n} at sequence {checkpoint.seq} signed "
            f"{checkpoint.at[:19]}Z but the database ends at {checkpoint.seq - 10}") in lines[0]


def test_rewriting_the_trail_from_a_point_with_the_key_is_named_at_a_checkpoint(
        lab, engine: Engine):
    # an insider holding the audit key re-chains everything after a middle event
    session = lab
    first, latest = checkpoints()[0], checkpoints()[-1]
    rechain_from(engine, int(first["seq"]) + 3, current_key())

    lines = broken(session)
    assert len(lines) == 1
    assert f"event {latest['seq']} differs from checkpoint {latest['n']} at sequence " \
           f"{latest['seq']}" in lines[0]
    assert "rewritten" in lines[0]
    assert f"after event {first['seq']} (checkpoint {first['n']} at sequence" in lines[0]


def test_rewriting_the_trail_from_a_point_without_the_key_names_that_event(
        lab, engine: Engine):
    session = lab
    start = int(checkpoints()[0]["seq"]) + 3
    rechain_from(engine, start, type(current_key())("deadbeef", b"not the key"))

    lines = broken(session)
    assert f"event {start} was " in lines[0] and f"first broken event: {start})" in lines[0]


def test_an_edited_or_removed_checkpoint_line_is_named(lab):
    session = lab
    write_checkpoint(session, reason="third")
    lines = checkpoint_file().read_bytes().split(b"\n")
    edited = json.loads(lines[0])
    edited["seq"] -= 1  # a checkpoint moved back, signature kept
    tampered = [json.dumps(edited).encode(), *lines[2:]]  # and line 2 removed
    checkpoint_file().write_bytes(b"\n".join(tampered))

    problems = broken(session)
    assert "checkpoint file line 1: checkpoint 1 at sequence" in problems[0]
    assert "the signature does not verify" in problems[0]
    assert "checkpoint file line 2: is numbered 3: lines were removed or inserted" \
        in problems[1]


def _add_user(session: Session, username: str) -> None:
    create_user(session, actor=None, username=username, full_name=f"User {username}",
                role="technician", password=f"{username} keeps the bench tidy")
    session.close()


def _restore_backup(engine: Engine, backup_end: int, username: str) -> None:
    """Put the database back as the backup had it: without the later user, and without
    the events written after the backup."""
    with engine.begin() as conn:
        conn.execute(delete(USERS).where(USERS.c.username == username))
    cut_tail(engine, backup_end)


def test_a_legitimate_restore_is_clean_and_an_illegitimate_rollback_is_not(
        lab, engine: Engine):
    # given a backup taken at a checkpointed head, then more work, checkpointed too
    session = lab
    backup_end = write_checkpoint(session, reason="nightly backup").seq
    _add_user(session, "tech7")
    write_checkpoint(session, reason="after the backup")
    session.close()

    # when the database is restored from the backup, verification reports a rollback
    _restore_backup(engine, backup_end, "tech7")
    assert "but the database ends at" in broken(session)[0]

    # until the restore is recorded with a signed "restored at sequence N" checkpoint
    restored = restore_checkpoint(session, sequence=backup_end,
                                  reason="restored last night's backup after a disk failure")
    session.close()

    # then verification is clean, names the restore, and work goes on from it
    lines = intact(session)
    assert any(f"restored checkpoint {restored.n} at sequence {backup_end}" in line
               and "disk failure" in line for line in lines)
    _add_user(session, "tech8")
    write_checkpoint(session, reason="after the restore")
    intact(session)
    session.close()

    # and a rollback after that, with no restore recorded, is reported
    _restore_backup(engine, backup_end, "tech8")
    assert "but the database ends at" in broken(session)[0]


def test_a_restore_checkpoint_is_refused_unless_the_database_ends_there(lab, engine: Engine):
    session = lab
    last = last_event(engine)
    with pytest.raises(CheckpointError, match=f"the database ends at event {last['seq']}, "
                                              f"not {int(last['seq']) - 5}"):
        restore_checkpoint(session, sequence=int(last["seq"]) - 5, reason="wrong backup")
    with pytest.raises(CheckpointError, match="give the reason"):
        restore_checkpoint(session, sequence=int(last["seq"]), reason=" ")


def test_no_checkpoint_is_written_over_a_trail_that_does_not_verify(lab, engine: Engine):
    session = lab
    cut_tail(engine, int(checkpoints()[-1]["seq"]) - 1)
    count = len(checkpoints())

    with pytest.raises(CheckpointError, match="but the database ends at"):
        write_checkpoint(session, reason="would seal the deletion")
    assert len(checkpoints()) == count


def test_the_checkpoint_job_runs_with_the_job_runner_and_queues_its_next_run(
        lab, engine: Engine):
    from lims.services.checkpoints import schedule_checkpoints

    session = lab
    schedule_checkpoints(session)
    schedule_checkpoints(session)  # queued once only
    session.close()
    count = len(checkpoints())

    summary = run_once(engine)

    assert summary.done == 1
    assert len(checkpoints()) == count + 1 and checkpoints()[-1]["reason"] == "scheduled"
    assert run_once(engine).ran == 0  # the next one waits for its interval


def test_concurrent_checkpoint_writers_leave_a_well_formed_file(lab, engine: Engine):
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with Session(engine) as own:
                for _ in range(4):
                    write_checkpoint(own, reason="concurrent")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    good, problems = check_lines(read_lines(checkpoint_file()), public_key())
    assert problems == []
    assert [c.n for c in good] == list(range(1, len(good) + 1))
    assert sum(c.reason == "concurrent" for c in good) == 12
    signature = base64.b64decode(good[-1].signature)
    assert len(signature) == 64  # Ed25519
    assert event_at(engine, good[-1].seq)["hash"] == good[-1].chain_hash


@pytest.fixture(scope="session")
def audit_files_of_session_fixtures() -> tuple[str, str]:
    """Where a session-scoped fixture (a template database) would write checkpoints."""
    settings = get_settings()
    return settings.audit_checkpoint_path, settings.audit_signing_key_file


def test_session_fixtures_keep_audit_files_out_of_the_working_directory(
        audit_files_of_session_fixtures: tuple[str, str]) -> None:
    # The fuzz test's template releases a product, which writes a signed checkpoint: once
    # that went to the working directory, where `lims serve` on the demo database then
    # found another trail's checkpoint and reported its own trail rewritten.
    here = Path.cwd().resolve()
    for path in audit_files_of_session_fixtures:
        assert not Path(path).resolve().is_relative_to(here), path
