"""Signed checkpoints of the audit trail, kept outside the database.

A checkpoint anchors the trail's head where someone who can write the database cannot
reach: one JSON line appended to a file (LIMS_AUDIT_CHECKPOINT_PATH, best on other
storage than the database), signed with an Ed25519 key (LIMS_AUDIT_SIGNING_KEY_FILE,
made by `lims audit keygen`). Only the public key is needed to check one. One line:

    {"n": 12, "kind": "checkpoint", "seq": 480, "chain_hash": "<hex>",
     "tree_size": 480, "tree_head": "<hex>", "at": "2026-11-30T06:00:00.000000+00:00",
     "key_id": "<audit key id>", "signer": "<public key id>", "reason": "release of …",
     "prev": "<hex>", "signature": "<base64>"}

`n` numbers the lines from 1; `seq` and `chain_hash` are the last event covered and its
keyed chain hash; `tree_size`/`tree_head` the RFC 9162 Merkle tree head of events
1..seq (lims/audit_merkle.py), so a checkpoint is a signed tree head; `key_id` the id of
the audit key that chained event `seq`; `signer` the first 16 hex of SHA-256 of the raw
public key; `prev` the SHA-256 of the previous line's bytes (64 zeros for the first), so
a line cut out of the middle shows; `kind` is "restored" for the checkpoint written after
a legitimate restore from backup (`lims audit restore-checkpoint`). The signature is
Ed25519 over the line's canonical JSON without "signature" (keys sorted, no spaces,
UTF-8). Writers take an exclusive advisory lock (fcntl.flock) on the file, so processes
append one whole line at a time.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lims.config import Settings, get_settings

FIRST_PREV = "0" * 64
KINDS = ("checkpoint", "restored")


class CheckpointError(Exception):
    """A checkpoint cannot be written (no signing key, the trail does not verify, ...)."""


@dataclass(frozen=True)
class Checkpoint:
    n: int
    kind: str
    seq: int
    chain_hash: str
    tree_size: int
    tree_head: str
    at: str
    key_id: str
    signer: str
    reason: str | None
    prev: str
    signature: str

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def describe(self) -> str:
        what = "restored checkpoint" if self.kind == "restored" else "checkpoint"
        return f"{what} {self.n} at sequence {self.seq} signed {self.at[:19]}Z"


# --- keys ------------------------------------------------------------------------------------

def public_key_path(settings: Settings) -> Path:
    return Path(settings.audit_public_key_file or f"{settings.audit_signing_key_file}.pub")


def generate_signing_key(private_path: Path, public_path: Path | None = None) -> Path:
    """Write a new Ed25519 key pair (the private key readable by its owner only)."""
    public_path = public_path or Path(f"{private_path}.pub")
    if private_path.exists():
        raise CheckpointError(f"{private_path} exists: a signing key is never overwritten")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # Written whole under a private name, then linked into place: a process that finds the
    # key file finds it complete, and a link never replaces a key another process made.
    draft = private_path.with_name(f".{private_path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    try:
        os.link(draft, private_path)
    except FileExistsError:
        raise CheckpointError(
            f"{private_path} exists: a signing key is never overwritten") from None
    finally:
        draft.unlink()
    public_path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return public_path


def signing_key(settings: Settings | None = None) -> Ed25519PrivateKey:
    """The private key; in development one is made on first use, elsewhere it must exist."""
    settings = settings or get_settings()
    path = Path(settings.audit_signing_key_file)
    if not path.is_file():
        if settings.environment != "development":
            raise CheckpointError(f"no audit signing key at {path}: run `lims audit keygen`")
        with contextlib.suppress(CheckpointError):  # another process made it first
            generate_signing_key(path, public_key_path(settings))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} is not an Ed25519 private key")
    return key


def public_key(settings: Settings | None = None) -> Ed25519PublicKey | None:
    """The key that checks checkpoints: the public key file, else the private key's."""
    settings = settings or get_settings()
    path = public_key_path(settings)
    if path.is_file():
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise CheckpointError(f"{path} is not an Ed25519 public key")
        return key
    if Path(settings.audit_signing_key_file).is_file():
        return signing_key(settings).public_key()
    return None


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- lines -----------------------------------------------------------------------------------

def signed_bytes(fields: dict[str, Any]) -> bytes:
    unsigned = {name: value for name, value in fields.items() if name != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def parse_line(line: bytes) -> Checkpoint:
    fields = json.loads(line)
    return Checkpoint(**fields)


def read_lines(path: Path) -> list[bytes]:
    if not path.is_file():
        return []
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


def check_lines(lines: list[bytes], key: Ed25519PublicKey | None) -> tuple[
        list[Checkpoint], list[str]]:
    """The checkpoints whose line is well-formed, in place and signed; problems with the rest."""
    good: list[Checkpoint] = []
    problems: list[str] = []
    prev = FIRST_PREV
    for number, line in enumerate(lines, start=1):
        problem, checkpoint = _line_problem(number, line, prev, key)
        prev = _line_hash(line)
        if problem:
            problems.append(f"checkpoint file line {number}: {problem}")
        elif checkpoint is not None:
            good.append(checkpoint)
    return good, problems


def _line_problem(number: int, line: bytes, prev: str,
                  key: Ed25519PublicKey | None) -> tuple[str | None, Checkpoint | None]:
    try:
        checkpoint = parse_line(line)
    except (ValueError, TypeError):
        return "is not a checkpoint (malformed or cut short)", None
    if checkpoint.n != number or checkpoint.kind not in KINDS:
        return f"is numbered {checkpoint.n}: lines were removed or inserted", None
    if checkpoint.prev != prev:
        return "does not follow the line before it: lines were removed or changed", None
    if key is None:
        return "cannot be checked: no audit public key is configured", None
    try:
        key.verify(base64.b64decode(checkpoint.signature), signed_bytes(checkpoint.fields()))
    except (InvalidSignature, ValueError):
        return f"{checkpoint.describe()}: the signature does not verify", None
    return None, checkpoint


Builder = Callable[[list[Checkpoint]], dict[str, Any]]


def append_checkpoint(path: Path, build: Builder, key: Ed25519PrivateKey) -> Checkpoint:
    """Append one signed checkpoint under an exclusive lock on the file.

    `build` gets the checkpoints already in the file (verified with `key`'s public half)
    and returns the new one's content (kind, seq, chain_hash, tree_size, tree_head, at,
    key_id, reason); it runs under the lock, so what it reads is what gets signed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            file.seek(0)
            lines = [line for line in file.read().split(b"\n") if line.strip()]
            good, problems = check_lines(lines, key.public_key())
            if problems:
                raise CheckpointError("the checkpoint file does not verify: " + problems[0])
            fields = {**build(good), "n": len(lines) + 1, "signer": key_id(key.public_key()),
                      "prev": _line_hash(lines[-1]) if lines else FIRST_PREV}
            fields["signature"] = base64.b64encode(key.sign(signed_bytes(fields))).decode()
            checkpoint = Checkpoint(**fields)
            file.write(json.dumps(fields, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode("utf-8") + b"\n")
            file.flush()
            os.fsync(file.fileno())
            return checkpoint
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def in_force(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """The checkpoints the database must still match: a restore at sequence N retires the
    earlier checkpoints beyond N (those events were lost with the restore, legitimately)."""
    active: list[Checkpoint] = []
    for checkpoint in checkpoints:
        if checkpoint.kind == "restored":
            active = [a for a in active if a.seq <= checkpoint.seq]
        active.append(checkpoint)
    return active
