"""The audit chain is keyed with a secret outside the database: someone who can write the
database but not read the key cannot forge an event, and the key can be rotated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from lims.audit import stored_time_text
from lims.audit_keys import AuditKey, current_key, key_id_of
from lims.config import Settings, get_settings
from lims.models import AuditEvent
from lims.secret_keys import new_secret_key
from lims.services.checkpoints import write_checkpoint
from tests.factories import make_product, seeded
from tests.integration.audit_attacks import broken, forge_event, intact
from tests.production import LAB_SETTINGS

ROTATED_KEY = "the-second-audit-key-of-the-lab-0123456789"


@pytest.fixture
def lab(session: Session) -> tuple[Session, str]:
    """A released product with an intact, keyed trail."""
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")
    intact(session)
    session.close()  # end the session's transaction before the attacker connects
    return session, product.din


def test_every_event_names_the_key_that_chained_it(lab):
    session, _ = lab
    key_ids = set(session.scalars(select(AuditEvent.key_id)))
    assert key_ids == {current_key().key_id}
    assert current_key().key_id == key_id_of(get_settings().audit_key)


@pytest.mark.parametrize("forger", ["unkeyed SHA-256", "a key of the attacker's own"])
def test_an_event_forged_without_the_key_is_named_even_after_the_latest_checkpoint(
        lab, engine: Engine, forger):
    # given a checkpoint of the intact trail
    session, din = lab
    write_checkpoint(session, reason="test")
    session.close()

    # when someone with only the application's write rights appends a correctly linked
    # event (the product "released" again) and moves the audit head to it
    key = None if forger.startswith("unkeyed") else AuditKey(current_key().key_id, b"guess")
    seq = forge_event(engine, key=key, key_id=current_key().key_id, entity_id=din)

    # then verification fails and names that event
    lines = broken(session)
    assert f"event {seq} was altered after writing, or forged without the audit key" in lines[0]
    assert f"first broken event: {seq})" in lines[0]


def test_an_event_claiming_an_unknown_key_is_named(lab, engine: Engine):
    session, din = lab
    seq = forge_event(engine, key=AuditKey("0badc0de", b"mallory"), key_id="0badc0de",
                      entity_id=din)

    lines = broken(session)
    assert f"event {seq} was not chained with a known audit key (key id 0badc0de)" in lines[0]


def test_an_event_appended_beyond_the_head_is_reported_as_such_not_as_a_deletion(
        lab, engine: Engine):
    # an insider with the key appends a correct event but cannot move the head unnoticed
    session, din = lab
    seq = forge_event(engine, key=current_key(), key_id=current_key().key_id,
                      entity_id=din, move_head=False)

    lines = broken(session)
    assert f"events {seq} to {seq} were appended beyond the audit head (head says {seq - 1})" \
        in lines[0]
    assert "deleted" not in lines[0]


def _rotate(monkeypatch: pytest.MonkeyPatch, new: str, old: str) -> None:
    monkeypatch.setenv("LIMS_AUDIT_KEY", new)
    monkeypatch.setenv("LIMS_AUDIT_OLD_KEYS", old)
    get_settings.cache_clear()


def test_after_a_key_rotation_events_before_and_after_it_verify(
        lab, monkeypatch: pytest.MonkeyPatch):
    # given a trail chained with the first key, checkpointed
    session, _ = lab
    first = get_settings().audit_key
    before = write_checkpoint(session, reason="before rotation").seq

    # when the key is rotated (the old one kept for verification) and work goes on
    _rotate(monkeypatch, ROTATED_KEY, first)
    run = seeded(session)
    make_product(run, arm="CD133", until="released")

    # then events of both keys verify, each naming its own key
    intact(session)
    by_key = {seq: key_id for seq, key_id in session.execute(
        select(AuditEvent.seq, AuditEvent.key_id))}
    assert {by_key[s] for s in by_key if s <= before} == {key_id_of(first)}
    assert {by_key[s] for s in by_key if s > before} == {key_id_of(ROTATED_KEY)}

    # and without the old key the first event it chained is named
    _rotate(monkeypatch, ROTATED_KEY, "")
    lines = broken(session)
    assert f"event 1 was not chained with a known audit key (key id {key_id_of(first)})" \
        in lines[0]


def test_outside_development_the_default_audit_key_is_refused(tmp_path):
    signing = tmp_path / "signing.pem"
    signing.write_text("placeholder")
    production = {"environment": "production", "secret_key": new_secret_key(),
                  "password_hashing": "standard", "audit_signing_key_file": str(signing),
                  **LAB_SETTINGS}
    audit_key = new_secret_key()
    with pytest.raises(RuntimeError, match="LIMS_AUDIT_KEY must be set"):
        Settings(**production).check_production_ready()
    with pytest.raises(RuntimeError, match="LIMS_AUDIT_KEY must be set"):
        current_key(Settings(**production))
    Settings(**production, audit_key=audit_key).check_production_ready()
    with pytest.raises(RuntimeError, match="no audit signing key"):
        Settings(**{**production, "audit_signing_key_file": str(tmp_path / "none.pem")},
                 audit_key=audit_key).check_production_ready()


@pytest.mark.parametrize("at", [datetime(2026, 11, 30, 6, 1, 2, 345678, tzinfo=UTC),
                                datetime(2026, 11, 30, 6, 1, 2, tzinfo=UTC)])
def test_an_event_time_as_the_database_returns_it_gives_the_text_the_writer_hashed(at):
    sqlite_text = at.strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy stores it in SQLite

    assert stored_time_text(sqlite_text) == at.isoformat()
    assert stored_time_text(sqlite_text[:19]) == at.replace(microsecond=0).isoformat()
    assert stored_time_text(at.astimezone(timezone(timedelta(hours=2)))) == at.isoformat()
    assert stored_time_text(at.replace(tzinfo=None)) == at.isoformat()
