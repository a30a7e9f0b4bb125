#!/usr/bin/env python3
"""Check the LIMS audit-trail proofs with the public key alone, without trusting the LIMS.

Needs Python 3.11+ and the `cryptography` package; it does not use the LIMS code.

    python verify_audit_proof.py --public-key audit-checkpoint.pub proof.json

`proof.json` is the output of `lims audit prove DIN` (inclusion: the product's events
are in the signed tree) or of `lims audit prove --from-checkpoint A --to-checkpoint B`
(consistency: the later signed tree extends the earlier one, nothing was rewritten).
The key file is the Ed25519 public key, PEM or 64 hex digits. Exit status 0 means
every check passed; 1 means something failed (each failure is printed); 2 means the
files could not be read.

What is checked (RFC 9162, Certificate Transparency 2.0, §2.1):
1. Each checkpoint's Ed25519 signature (base64) over its canonical JSON without the
   "signature" member (members sorted by name, no white space, UTF-8); the checkpoint
   is a signed tree head: "tree_size" events, Merkle root "tree_head" (hex).
2. For each event: its leaf hash is recomputed here from the event's fields,
   SHA-256(0x00 || canonical event), where the canonical event is the JSON object of
   seq, at, user_id, username, action, entity, entity_id, field, old_value,
   new_value, reason and version, serialised the same way (RFC 8785); the audit path
   must lead from that leaf, at index seq - 1, to the checkpoint's tree root
   (§2.1.3.2). Node hashes are SHA-256(0x01 || left || right).
3. For two checkpoints: the consistency path must lead to both roots (§2.1.4.2).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

EVENT_FIELDS = ("seq", "at", "user_id", "username", "action", "entity", "entity_id",
                "field", "old_value", "new_value", "reason", "version")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def leaf_hash(event: dict[str, Any]) -> bytes:
    if sorted(event) != sorted(EVENT_FIELDS):
        raise ValueError(f"event fields are {sorted(event)}, expected {sorted(EVENT_FIELDS)}")
    return hashlib.sha256(b"\x00" + canonical_json(event)).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_root(leaf_index: int, tree_size: int, leaf: bytes,
                   path: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root the audit path leads to, or None if it is malformed."""
    if not 0 <= leaf_index < tree_size:
        return None
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def consistent(first: int, second: int, first_hash: bytes, second_hash: bytes,
               path: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does the tree of `second` leaves extend the tree of `first`?"""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_hash and sr == second_hash and sn == 0


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = path.read_bytes().strip()
    if data.startswith(b"-----BEGIN"):
        key = load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(data.decode()))


def check_checkpoint(key: Ed25519PublicKey, checkpoint: dict[str, Any],
                     name: str) -> list[str]:
    unsigned = {k: v for k, v in checkpoint.items() if k != "signature"}
    try:
        key.verify(base64.b64decode(str(checkpoint.get("signature", "")), validate=True),
                   canonical_json(unsigned))
    except (InvalidSignature, ValueError):
        return [f"{name} (sequence {checkpoint.get('seq')}): the signature does not match "
                "this public key — the checkpoint was altered or not signed by this key"]
    return []


def tree_of(checkpoint: dict[str, Any]) -> tuple[int, bytes]:
    return int(checkpoint["tree_size"]), bytes.fromhex(checkpoint["tree_head"])


def check_event(item: dict[str, Any], size: int, root: bytes) -> list[str]:
    event = item["event"]
    seq = event.get("seq")
    try:
        leaf = leaf_hash(event)
    except ValueError as err:
        return [f"event {seq}: {err}"]
    if item.get("tree_size") != size:
        return [f"event {seq}: proof is for a tree of {item.get('tree_size')} events, "
                f"the checkpoint covers {size}"]
    path = [bytes.fromhex(h) for h in item["audit_path"]]
    if inclusion_root(int(seq) - 1, size, leaf, path) != root:
        return [f"event {seq}: not in the signed tree — its fields or its proof were "
                "altered (the recomputed root differs from the checkpoint's)"]
    return []


def check_inclusion(key: Ed25519PublicKey, proof: dict[str, Any]) -> tuple[list[str], int]:
    checkpoint = proof["checkpoint"]
    problems = check_checkpoint(key, checkpoint, "checkpoint")
    size, root = tree_of(checkpoint)
    for item in proof["events"]:
        problems += check_event(item, size, root)
    return problems, len(proof["events"])


def check_consistency(key: Ed25519PublicKey, proof: dict[str, Any]) -> tuple[list[str], int]:
    old, new = proof["from_checkpoint"], proof["to_checkpoint"]
    problems = check_checkpoint(key, old, "earlier checkpoint")
    problems += check_checkpoint(key, new, "later checkpoint")
    (m, old_root), (n, new_root) = tree_of(old), tree_of(new)
    path = [bytes.fromhex(h) for h in proof["consistency_path"]]
    if not consistent(m, n, old_root, new_root, path):
        problems.append(f"the tree of {n} events does not extend the tree of {m} events: "
                        "the trail was rewritten between the two checkpoints")
    return problems, 1


def describe(checkpoint: dict[str, Any]) -> str:
    return (f"checkpoint {checkpoint.get('n')} ({checkpoint.get('tree_size')} events, "
            f"signed {checkpoint.get('at')})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--public-key", type=Path, required=True)
    parser.add_argument("proof", type=Path)
    args = parser.parse_args(argv)
    try:
        key = load_public_key(args.public_key)
        proof = json.loads(args.proof.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"cannot read the inputs: {err}", file=sys.stderr)
        return 2
    check = check_inclusion if proof.get("kind") == "inclusion" else check_consistency
    try:
        problems, count = check(key, proof)
    except (KeyError, TypeError, ValueError) as err:
        problems, count = [f"the proof file is malformed: {err!r}"], 0
    for problem in problems:
        print(f"FAILED {problem}")
    if problems:
        return 1
    if proof["kind"] == "inclusion":
        print(f"OK inclusion proof verified: {count} event(s) included in the tree of "
              f"{describe(proof['checkpoint'])}, its signature valid")
    else:
        print(f"OK consistency proof verified: the tree of {describe(proof['to_checkpoint'])} "
              f"extends that of {describe(proof['from_checkpoint'])}, both signatures valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
