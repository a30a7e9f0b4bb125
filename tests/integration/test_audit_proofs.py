"""Merkle proofs of the audit trail (RFC 9162) that an inspector checks with the public
key alone: scripts/verify_audit_proof.py is run as a separate process, as they would."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from pymerkle import InmemoryTree
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from lims.audit_checkpoints import signed_bytes, signing_key
from lims.audit_merkle import (
    EVENT_FIELDS,
    AuditTree,
    AuditTreeError,
    _canonical_text,
    canonical_bytes,
    canonical_event,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    prove_consistency,
    tree_head,
    verify_and_build,
)
from lims.cli import app
from lims.models import AuditEvent, Product
from lims.services.audit_proofs import prove_checkpoints, prove_product
from lims.services.checkpoints import write_checkpoint
from tests.factories import DemoRun, make_product, seeded
from tests.integration.test_audit_tamper import drop_append_only_triggers
from workflows.errors import Conflict

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_audit_proof.py"


def inspector_checks(proof: dict[str, Any], folder: Path, key: Path | None = None
                     ) -> subprocess.CompletedProcess[str]:
    """What the inspector runs: the stand-alone script, the proof and the public key."""
    path = folder / "proof.json"
    path.write_text(json.dumps(proof), encoding="utf-8")
    key = key or folder / "signing-key.pem.pub"
    return subprocess.run([sys.executable, "-I", str(SCRIPT), "--public-key", str(key),
                           str(path)], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def released(session: Session) -> Product:
    """A released BM-MNC product, its events sealed by a signed checkpoint."""
    run = seeded(session)
    product, _ = make_product(run, arm="BM-MNC", until="released")
    write_checkpoint(session, reason="test")
    session.close()  # end the session's transaction before anyone else connects
    return product


def append_events(session: Session) -> Product:
    """More of the lab's work after the first checkpoint: a new product received."""
    product, _ = make_product(DemoRun(session, say=lambda _m: None), arm="BM-MNC")
    return product


def rewrite_event(session: Session, engine: Engine, seq: int) -> None:
    """What a DBA does behind the system's back: edit an event in place."""
    session.close()
    drop_append_only_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET reason = 'rewritten' WHERE seq = :seq"),
                     {"seq": seq})


def checkpoint_numbers(folder: Path) -> list[int]:
    lines = (folder / "checkpoints.jsonl").read_text().splitlines()
    return [json.loads(line)["n"] for line in lines]


def events(session: Session) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))


# --- the tree ---------------------------------------------------------------------------------

def test_the_tree_head_is_the_rfc9162_root_of_the_canonical_events(released, session):
    trail = events(session)
    reference = InmemoryTree.init_from_entries([canonical_bytes(canonical_event(e))
                                                for e in trail])

    size, root = tree_head(session.connection())

    assert size == len(trail) > 50
    assert root == reference.get_root().hex()
    assert leaf_hash(trail[0]) == reference.get_leaf(1)
    assert tree_head(session.connection(), 7) == (7, reference.get_root(7).hex())


def test_the_canonical_event_is_sorted_compact_json_with_a_utc_microsecond_time(released,
                                                                             session):
    first = events(session)[0]

    data = json.loads(canonical_bytes(canonical_event(first)))

    assert list(data) == sorted(data) and data["version"] == 1
    assert data["seq"] == 1 and data["at"].endswith("+00:00") and len(data["at"]) == 32
    assert canonical_bytes({"b": None, "a": "é"}) == '{"a":"é","b":null}'.encode()


@pytest.mark.parametrize("text", ["plain", "é ü 日本 🧬", 'quote " backslash \\ slash /',
                                  "tab\t newline\n nul\x00 unit-separator\x1f", "\u2028\u2029"])
def test_the_fast_leaf_encoding_is_byte_for_byte_the_canonical_json(text):
    at = datetime(2026, 11, 30, 6, 1, 2, 3, tzinfo=UTC)
    values = (42, at, None, "tech1", "step_recorded", "step_record", "7", text, None, text,
              text)
    reference = canonical_bytes(canonical_event(dict(zip(EVENT_FIELDS, values, strict=True))))

    assert _canonical_text(*values).encode() == reference
    assert _canonical_text(*values[:2], 3, *values[3:]).encode() != reference


def test_the_chain_and_the_tree_verified_in_one_read_give_the_tree_head(released, session):
    chain, tree = verify_and_build(session)

    assert chain.ok and tree is not None
    assert (tree.get_size(), tree.get_root().hex()) == tree_head(session.connection())


def test_no_tree_is_built_over_a_chain_that_does_not_verify(released, session, engine):
    rewrite_event(session, engine, 4)

    chain, tree = verify_and_build(session)

    assert not chain.ok and chain.first_broken_seq == 4 and tree is None


def test_a_gap_in_the_sequence_is_refused_naming_the_missing_event(released, session, engine):
    session.close()
    drop_append_only_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 5"))
    session.close()

    with pytest.raises(AuditTreeError, match="audit event 5 is missing"):
        tree_head(session.connection())


# --- inclusion --------------------------------------------------------------------------------

def test_every_event_of_a_released_product_is_proven_in_the_latest_checkpoint(
        released, session, _audit_checkpoints_of_its_own):
    proof = prove_product(session, released.din)

    done = inspector_checks(proof, _audit_checkpoints_of_its_own)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(proof['events'])} event(s) included" in done.stdout
    actions = {item["event"]["action"] for item in proof["events"]}
    assert {"product_created", "state_changed", "step_recorded", "signed"} <= actions
    assert proof["not_yet_anchored"] == []


def test_an_event_changed_after_it_was_proven_fails_the_inspectors_check(
        released, session, _audit_checkpoints_of_its_own):
    proof = prove_product(session, released.din)
    item = next(i for i in proof["events"] if i["event"]["action"] == "state_changed")
    item["event"]["new_value"] = "rejected"

    done = inspector_checks(proof, _audit_checkpoints_of_its_own)

    assert done.returncode == 1
    assert f"FAILED event {item['event']['seq']}: not in the signed tree" in done.stdout


def test_a_tampered_audit_path_or_a_wrong_root_fails(released, session,
                                                     _audit_checkpoints_of_its_own):
    folder = _audit_checkpoints_of_its_own
    proof = prove_product(session, released.din)
    path = proof["events"][0]["audit_path"]
    path[0] = "00" * 32
    assert inspector_checks(proof, folder).returncode == 1

    proof = prove_product(session, released.din)
    proof["checkpoint"]["tree_head"] = "11" * 32  # a root the key never signed
    done = inspector_checks(proof, folder)
    assert done.returncode == 1
    assert "the signature does not match this public key" in done.stdout
    assert "not in the signed tree" in done.stdout


def test_a_proof_signed_by_another_key_fails(released, session, _audit_checkpoints_of_its_own):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = _audit_checkpoints_of_its_own / "other.pub"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    done = inspector_checks(prove_product(session, released.din),
                            _audit_checkpoints_of_its_own, other)

    assert done.returncode == 1 and "signature does not match" in done.stdout


def test_no_proof_is_given_once_an_event_in_the_database_was_modified(released, session,
                                                                      engine):
    first = events(session)[0].seq
    session.close()
    rewrite_event(session, engine, first)

    with pytest.raises(Conflict, match=r"events 1 to \d+ in the database are not those "
                       r"sealed by checkpoint \d+ .* changed after it was signed"):
        prove_product(session, released.din)


def test_events_after_the_latest_checkpoint_are_listed_as_not_yet_anchored(released, session):
    newer = append_events(session)

    proof = prove_product(session, newer.din)

    assert proof["events"] == []
    assert len(proof["not_yet_anchored"]) >= 3


# --- consistency ------------------------------------------------------------------------------

def test_a_later_checkpoint_over_appended_events_is_proven_consistent(
        released, session, _audit_checkpoints_of_its_own):
    append_events(session)
    write_checkpoint(session, reason="test, later")

    earlier, later = checkpoint_numbers(_audit_checkpoints_of_its_own)[-2:]
    proof = prove_checkpoints(session, earlier, later)
    done = inspector_checks(proof, _audit_checkpoints_of_its_own)

    assert proof["to_checkpoint"]["tree_size"] > proof["from_checkpoint"]["tree_size"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK consistency proof verified: the tree of checkpoint")


def test_a_checkpoint_over_a_rewritten_history_is_not_consistent_with_an_earlier_one(
        released, session, engine, _audit_checkpoints_of_its_own):
    """A rogue signer (the signing key stolen) seals a rewritten trail: the earlier
    checkpoint the inspector holds exposes it, and the system refuses to prove it."""
    sealed = json.loads(Path(_audit_checkpoints_of_its_own / "checkpoints.jsonl")
                        .read_text().splitlines()[-1])
    session.close()
    rewrite_event(session, engine, 3)
    append_events(session)
    size, root = tree_head(session.connection())
    key = signing_key()
    rogue = {**sealed, "n": sealed["n"] + 1, "seq": size, "tree_size": size, "tree_head": root}
    rogue["signature"] = base64.b64encode(key.sign(signed_bytes(rogue))).decode()
    proof = {"kind": "consistency", "from_checkpoint": sealed, "to_checkpoint": rogue,
             "consistency_path": consistency_proof(session.connection(), sealed["tree_size"],
                                                   size)["consistency_path"]}

    done = inspector_checks(proof, _audit_checkpoints_of_its_own)

    assert done.returncode == 1
    assert "the trail was rewritten between the two checkpoints" in done.stdout
    with pytest.raises(Conflict, match="are not those sealed by checkpoint"):
        prove_checkpoints(session, sealed["n"], sealed["n"])


def test_an_inclusion_proof_from_a_rewritten_trail_fails_against_the_signed_root(
        released, session, engine, _audit_checkpoints_of_its_own):
    proof = prove_product(session, released.din)
    item = proof["events"][0]
    session.close()
    rewrite_event(session, engine, item["event"]["seq"])
    rewritten = inclusion_proof(session.connection(), item["event"]["seq"], item["tree_size"])
    item["audit_path"] = rewritten["audit_path"]
    item["event"]["reason"] = "rewritten"

    done = inspector_checks(proof, _audit_checkpoints_of_its_own)

    assert done.returncode == 1 and "not in the signed tree" in done.stdout


def latest_checkpoint(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "checkpoints.jsonl").read_text().splitlines()[-1])


def test_a_new_checkpoint_extends_the_signed_tree_to_the_same_head_as_a_full_build(
        released, session, _audit_checkpoints_of_its_own):
    append_events(session)
    write_checkpoint(session, reason="test, later")
    sealed = latest_checkpoint(_audit_checkpoints_of_its_own)

    assert (sealed["tree_size"], sealed["tree_head"]) == tree_head(session.connection(),
                                                                   sealed["seq"])


def test_an_event_changed_before_a_checkpoint_is_never_sealed_into_a_later_one(
        released, session, engine, _audit_checkpoints_of_its_own):
    honest = latest_checkpoint(_audit_checkpoints_of_its_own)
    honest_leaves = leaf_hashes(session.connection())
    rewrite_event(session, engine, 3)
    append_events(session)
    write_checkpoint(session, reason="test, after the rewrite")
    later = latest_checkpoint(_audit_checkpoints_of_its_own)

    # The later checkpoint seals the history as it was written, not the rewritten one ...
    assert later["tree_head"] != tree_head(session.connection(), later["seq"])[1]
    history = AuditTree([*honest_leaves, *leaf_hashes(session.connection(), later["seq"],
                                                      after=len(honest_leaves))]).warm()
    assert history.get_root().hex() == later["tree_head"]
    proof = {"kind": "consistency", "from_checkpoint": honest, "to_checkpoint": later,
             "consistency_path": prove_consistency(history, honest["tree_size"],
                                                   later["tree_size"])["consistency_path"]}
    done = inspector_checks(proof, _audit_checkpoints_of_its_own)
    assert done.returncode == 0, done.stdout
    # ... and the system will not prove anything from the rewritten database.
    with pytest.raises(Conflict, match="are not those sealed by checkpoint"):
        prove_checkpoints(session, honest["n"], later["n"])


# --- the command line -------------------------------------------------------------------------

@pytest.fixture
def cli_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr("lims.db.get_engine", lambda: engine)
    return engine


def test_lims_audit_prove_writes_json_the_inspector_verifies(
        released, cli_db, _audit_checkpoints_of_its_own):
    folder = _audit_checkpoints_of_its_own
    out = folder / "cli-proof.json"

    done = CliRunner().invoke(app, ["audit", "prove", released.din, "--out", str(out)])

    assert done.exit_code == 0, done.output
    proof = json.loads(out.read_text())
    assert proof["kind"] == "inclusion" and proof["din"] == released.din
    assert inspector_checks(proof, folder).returncode == 0


def test_lims_audit_prove_refuses_an_unknown_checkpoint_and_says_which_exist(released, cli_db):
    done = CliRunner().invoke(app, ["audit", "prove", "--from-checkpoint", "1",
                                    "--to-checkpoint", "9"])

    assert done.exit_code == 1
    assert "no valid checkpoint numbered 9" in done.output
    assert re.search(r"checkpoints in force: 1(, \d+)*\)", done.output)
