"""The checkpoint file on its own: signed lines, each linked to the one before it, checked
with the public key alone; a restore retires the checkpoints beyond it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lims.audit_checkpoints import (
    Checkpoint,
    append_checkpoint,
    check_lines,
    in_force,
    read_lines,
)


def content(seq: int, kind: str = "checkpoint") -> Any:
    def build(earlier: list[Checkpoint]) -> dict[str, Any]:
        return {"kind": kind, "seq": seq, "chain_hash": f"{seq:064x}", "tree_size": seq,
                "tree_head": f"{seq + 1:064x}", "at": "2026-11-30T06:00:00.000000+00:00",
                "key_id": "abcd1234", "reason": f"at {seq} after {len(earlier)}"}
    return build


def write(path: Path, key: Ed25519PrivateKey, *seqs: int) -> list[Checkpoint]:
    return [append_checkpoint(path, content(seq), key) for seq in seqs]


def test_checkpoints_verify_with_the_public_key_alone(tmp_path):
    key = Ed25519PrivateKey.generate()
    written = write(tmp_path / "c.jsonl", key, 10, 20, 30)

    good, problems = check_lines(read_lines(tmp_path / "c.jsonl"), key.public_key())

    assert problems == [] and good == written
    assert [c.reason for c in good] == ["at 10 after 0", "at 20 after 1", "at 30 after 2"]


def test_checkpoints_signed_with_another_key_are_named(tmp_path):
    write(tmp_path / "c.jsonl", Ed25519PrivateKey.generate(), 10, 20)

    _, problems = check_lines(read_lines(tmp_path / "c.jsonl"),
                              Ed25519PrivateKey.generate().public_key())

    assert problems == [
        "checkpoint file line 1: checkpoint 1 at sequence 10 signed 2026-11-30T06:00:00Z: "
        "the signature does not verify",
        "checkpoint file line 2: checkpoint 2 at sequence 20 signed 2026-11-30T06:00:00Z: "
        "the signature does not verify"]


def test_a_line_cut_short_is_named(tmp_path):
    path = tmp_path / "c.jsonl"
    write(path, key := Ed25519PrivateKey.generate(), 10, 20)
    path.write_bytes(path.read_bytes()[:-40])

    _, problems = check_lines(read_lines(path), key.public_key())

    assert problems == ["checkpoint file line 2: is not a checkpoint (malformed or cut short)"]


def test_a_restore_retires_the_checkpoints_beyond_it(tmp_path):
    path = tmp_path / "c.jsonl"
    key = Ed25519PrivateKey.generate()
    write(path, key, 10, 20, 30)
    append_checkpoint(path, content(15, kind="restored"), key)
    write(path, key, 25)

    good, _ = check_lines(read_lines(path), key.public_key())

    assert [(c.kind, c.seq) for c in in_force(good)] == [
        ("checkpoint", 10), ("restored", 15), ("checkpoint", 25)]
