"""The audit events as an RFC 9162 Merkle tree: tree heads, inclusion and consistency proofs.

The keyed hash chain (lims/audit.py) needs the secret key to check; this tree needs
nothing but the events, so an inspector can check a signed tree head (a checkpoint)
and the proofs given here with the public key alone (scripts/verify_audit_proof.py).

Leaf ``seq`` of the tree is audit event ``seq`` (events are numbered 1, 2, 3 ... with
no gap; leaf index = seq, tree size = number of events covered).

Canonical event (what a leaf commits to), defined so any language can recompute it:

* a JSON object with exactly these twelve members, the fields the chain hash covers
  except the two hashes: ``seq`` (integer), ``at`` (text), ``user_id`` (integer or
  null), ``username``, ``action``, ``entity``, ``entity_id``, ``field`` (text),
  ``old_value``, ``new_value``, ``reason`` (text or null), and ``version`` = 1
  (the version of this encoding);
* ``at`` is the time the event was recorded, in UTC, written
  ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (always six fraction digits);
* serialised as RFC 8785 (JCS) canonical JSON: members sorted by name, no white
  space, strings in UTF-8 with only ``"`` ``\\`` and control characters escaped
  (Python: ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False).encode("utf-8")``).

Leaf hash = SHA-256(0x00 || canonical event); node hash = SHA-256(0x01 || left ||
right); the tree over n leaves splits at the largest power of two below n; the empty
tree's root is SHA-256 of nothing (RFC 9162 §2.1.1). Proofs are RFC 9162 §2.1.3
(inclusion: the audit path, bottom up) and §2.1.4 (consistency), in hex.

The tree itself is pymerkle's (its subtree-root computation and cache) over leaf
hashes computed here in one pass over the events.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring as _string
from typing import Any

from pymerkle import BaseMerkleTree, verify_consistency, verify_inclusion
from sqlalchemy import Connection
from sqlmodel import Session

from lims.audit import ChainReport, event_rows, stored_time_text, verify_chain

ENCODING_VERSION = 1
EVENT_FIELDS = ("seq", "at", "user_id", "username", "action", "entity", "entity_id",
                "field", "old_value", "new_value", "reason")


class AuditTreeError(Exception):
    """The events cannot form the tree asked for (a gap in the sequence, a size too big)."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


def at_text(at: datetime) -> str:
    """The canonical text of an event time: UTC, microseconds, explicit +00:00."""
    if at.tzinfo is not UTC:
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")


def canonical_event(row: Any) -> dict[str, Any]:
    """The twelve members a leaf commits to, from an event (model, row or mapping)."""
    if isinstance(row, dict):
        values = [row[name] for name in EVENT_FIELDS]
    else:
        values = [getattr(row, name) for name in EVENT_FIELDS]
    event = dict(zip(EVENT_FIELDS, values, strict=True))
    if isinstance(event["at"], datetime):
        event["at"] = at_text(event["at"])
    event["version"] = ENCODING_VERSION
    return event


def canonical_bytes(event: dict[str, Any]) -> bytes:
    """The definition: RFC 8785 canonical JSON of the event (what an inspector runs)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _canonical_text(seq: int, at: datetime | str, user_id: int | None, username: str, action: str,
                    entity: str, entity_id: str, field: str, old_value: str | None,
                    new_value: str | None, reason: str | None) -> str:
    """canonical_bytes(canonical_event(...)) as text, written out member by member in
    name order: the same string (tested), three times faster at a million events."""
    return (f'{{"action":{_string(action)},"at":"{_leaf_time(at)}","entity":{_string(entity)},'
            f'"entity_id":{_string(entity_id)},"field":{_string(field)},'
            f'"new_value":{"null" if new_value is None else _string(new_value)},'
            f'"old_value":{"null" if old_value is None else _string(old_value)},'
            f'"reason":{"null" if reason is None else _string(reason)},"seq":{int(seq)},'
            f'"user_id":{"null" if user_id is None else int(user_id)},'
            f'"username":{_string(username)},"version":{ENCODING_VERSION}}}')


def _leaf_time(at: datetime | str) -> str:
    """at_text of a datetime, or of the chain's text of it (its isoformat, which leaves
    out a zero fraction)."""
    if isinstance(at, datetime):
        return at_text(at)
    return at if len(at) == 32 else f"{at[:19]}.000000{at[19:]}"


def leaf_hash(row: Any) -> bytes:
    """RFC 9162 leaf hash of one event: SHA-256(0x00 || canonical event)."""
    return hashlib.sha256(b"\x00" + canonical_bytes(canonical_event(row))).digest()


class AuditTree(BaseMerkleTree):  # type: ignore[misc]
    """A pymerkle tree whose storage is a plain list of leaf hashes (fast at 10^6 leaves)."""

    def __init__(self, leaves: list[bytes], threshold: int = 128) -> None:
        self.leaves = leaves
        super().__init__("sha256", threshold=threshold)

    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        self.leaves.append(digest)
        return len(self.leaves)

    def _get_leaf(self, index: int) -> bytes:
        return self.leaves[index - 1]

    def _get_leaves(self, offset: int, width: int) -> list[bytes]:
        return self.leaves[offset:offset + width]

    def _get_size(self) -> int:
        return len(self.leaves)

    def warm(self) -> AuditTree:
        """Fill pymerkle's subroot cache in one bottom-up pass over the leaves.

        Every aligned perfect subtree at least ``threshold`` leaves wide is hashed once
        here, so the root of any size and every proof afterwards need only a few hundred
        hashes instead of re-hashing the subtrees beside the path.
        """
        level, width, prefix, sha256 = self.leaves, 1, self.node_prefix, hashlib.sha256
        while len(level) > 1:
            level = [sha256(prefix + level[i] + level[i + 1]).digest()
                     for i in range(0, len(level) - 1, 2)]
            width *= 2
            if width >= self.threshold:
                for offset, digest in enumerate(level):
                    self.cache[(offset * width, width)] = digest
        return self

    def mth(self, start: int, end: int) -> bytes:
        """Merkle tree hash of leaves [start, end) (0-based, end exclusive)."""
        return self._get_root(start, end)  # type: ignore[no-any-return]


def leaf_hashes(conn: Connection | Session, upto_seq: int | None = None,
                batch: int = 20000, after: int = 0,
                advance: Callable[[int], None] | None = None) -> list[bytes]:
    """Leaf hashes of events after+1..upto_seq (to the last if None), refusing any gap;
    `advance` told of each batch read (progress)."""
    leaves: list[bytes] = []
    append, sha256, text, time_text = leaves.append, hashlib.sha256, _canonical_text, \
        stored_time_text
    for row in event_rows(conn, after, batch, upto_seq, advance=advance):
        if row[0] != after + len(leaves) + 1:
            raise AuditTreeError(f"audit event {after + len(leaves) + 1} is missing "
                                 f"(next present is {row[0]})", after + len(leaves) + 1)
        append(sha256(b"\x00" + text(row[0], time_text(row[1]), *row[2:11]).encode()).digest())
    if upto_seq is not None and after + len(leaves) != upto_seq:
        raise AuditTreeError(f"the trail has {after + len(leaves)} events, not {upto_seq}",
                             after + len(leaves) + 1)
    return leaves


def verify_and_build(session: Session, advance: Callable[[int], None] | None = None
                     ) -> tuple[ChainReport, AuditTree | None]:
    """The keyed chain verified and the tree of the same events built, in one read.

    The tree is None when the chain does not verify (the report says where)."""
    leaves: list[bytes] = []
    append, sha256, text = leaves.append, hashlib.sha256, _canonical_text

    def visit(fields: tuple[Any, ...]) -> None:
        append(sha256(b"\x00" + text(*fields).encode()).digest())

    report = verify_chain(session, visit=visit, advance=advance)
    return report, AuditTree(leaves).warm() if report.ok else None


def build_tree(conn: Connection | Session, upto_seq: int | None = None,
               advance: Callable[[int], None] | None = None) -> AuditTree:
    return AuditTree(leaf_hashes(conn, upto_seq, advance=advance)).warm()


def tree_head(conn: Connection | Session, upto_seq: int | None = None,
              advance: Callable[[int], None] | None = None) -> tuple[int, str]:
    """(size, root hex) of the tree over events 1..upto_seq (all events if None), every
    event read from the database: what verification compares with a checkpoint."""
    tree = build_tree(conn, upto_seq, advance)
    remember(tree)
    return tree.get_size(), tree.get_root().hex()


def extend_tree_head(conn: Connection | Session, signed: tuple[int, str],
                     upto_seq: int) -> tuple[int, str]:
    """(size, root hex) of events 1..upto_seq for a new checkpoint, extending the tree a
    signed head (size, root) stands for when this process still holds its frontier.

    Only the events after the signed size are read: a checkpoint at a million events
    costs what the new events cost, and the new head extends the signed one by
    construction (RFC 9162 consistency), so an event changed behind the system's back
    before the signed size is never sealed into a later checkpoint. Without the frontier
    (another process signed it), every event is read (tree_head)."""
    roots = _FRONTIERS.get(signed)
    if roots is None or upto_seq < signed[0]:
        return tree_head(conn, upto_seq)
    size, roots = extend(signed[0], roots, leaf_hashes(conn, upto_seq, after=signed[0]))
    root = _fold(roots).hex()
    _keep((size, root), roots)
    return size, root


# The frontier of a tree (the roots of its perfect subtrees, largest first: RFC 9162's
# compact range) by (size, root hex); the root commits to every leaf, so the key is valid
# whatever database it came from.
_FRONTIERS: OrderedDict[tuple[int, str], tuple[bytes, ...]] = OrderedDict()
_FRONTIERS_KEPT = 64


def _widths(size: int) -> list[int]:
    return [1 << p for p in reversed(range(size.bit_length())) if size >> p & 1]


def remember(tree: AuditTree) -> None:
    offset, roots = 0, []
    for width in _widths(tree.get_size()):
        roots.append(tree.mth(offset, offset + width))
        offset += width
    _keep((tree.get_size(), tree.get_root().hex()), tuple(roots))


def _keep(head: tuple[int, str], roots: tuple[bytes, ...]) -> None:
    _FRONTIERS[head] = roots
    _FRONTIERS.move_to_end(head)
    while len(_FRONTIERS) > _FRONTIERS_KEPT:
        _FRONTIERS.popitem(last=False)


def extend(size: int, roots: tuple[bytes, ...], leaves: list[bytes]) -> tuple[
        int, tuple[bytes, ...]]:
    """The frontier after appending `leaves` to a tree of `size` with frontier `roots`."""
    stack = list(zip(_widths(size), roots, strict=True))
    sha256 = hashlib.sha256
    for leaf in leaves:
        width, digest = 1, leaf
        while stack and stack[-1][0] == width:
            digest = sha256(b"\x01" + stack.pop()[1] + digest).digest()
            width *= 2
        stack.append((width, digest))
    return size + len(leaves), tuple(digest for _width, digest in stack)


def _fold(roots: tuple[bytes, ...]) -> bytes:
    if not roots:
        return hashlib.sha256(b"").digest()
    result = roots[-1]
    for digest in reversed(roots[:-1]):
        result = hashlib.sha256(b"\x01" + digest + result).digest()
    return result


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def consistency_path(tree: AuditTree, m: int, start: int, end: int,
                     whole: bool = True) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[start:end], whole)."""
    n = end - start
    if m == n:
        return [] if whole else [tree.mth(start, end)]
    k = _split(n)
    if m <= k:
        return [*consistency_path(tree, m, start, start + k, whole), tree.mth(start + k, end)]
    return [*consistency_path(tree, m - k, start + k, end, False), tree.mth(start, start + k)]


def prove_event(tree: AuditTree, seq: int, size: int) -> dict[str, Any]:
    """RFC 9162 inclusion proof of event ``seq`` in the tree of ``size`` events.

    pymerkle makes the proof and checks it before it is handed out."""
    if not 0 < seq <= size <= tree.get_size():
        raise AuditTreeError(f"event {seq} is not within the first {size} events "
                             f"(the trail has {tree.get_size()})", seq)
    leaf, root = tree.get_leaf(seq), tree.get_root(size)
    proof = tree.prove_inclusion(seq, size)
    verify_inclusion(leaf, root, proof, index=seq, size=size)
    # pymerkle's path is the leaf followed by the RFC 9162 audit path, bottom up.
    path = proof.path[1:]
    return {"seq": seq, "leaf_index": seq - 1, "tree_size": size, "root": root.hex(),
            "leaf_hash": leaf.hex(), "audit_path": [h.hex() for h in path]}


def inclusion_proof(conn: Connection | Session, seq: int, size: int) -> dict[str, Any]:
    return prove_event(build_tree(conn, size), seq, size)


def prove_consistency(tree: AuditTree, old_size: int, new_size: int) -> dict[str, Any]:
    if not 0 < old_size <= new_size <= tree.get_size():
        raise AuditTreeError(f"cannot prove {old_size} -> {new_size} events "
                             f"(the trail has {tree.get_size()})")
    old_root, new_root = tree.get_root(old_size), tree.get_root(new_size)
    verify_consistency(old_root, new_root, tree.prove_consistency(old_size, new_size))
    path = consistency_path(tree, old_size, 0, new_size)
    return {"old_size": old_size, "new_size": new_size, "old_root": old_root.hex(),
            "new_root": new_root.hex(), "consistency_path": [h.hex() for h in path]}


def consistency_proof(conn: Connection | Session, old_size: int,
                      new_size: int) -> dict[str, Any]:
    return prove_consistency(build_tree(conn, new_size), old_size, new_size)
