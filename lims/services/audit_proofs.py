"""Proofs an inspector checks with the public key alone (`lims audit prove`).

* Inclusion: every audit event of a product's records (the product, its containers,
  step records, QC results, deviations, alerts, notifications, and the signatures on
  them), each with its RFC 9162 audit path to the latest signed checkpoint's tree head.
* Consistency: the tree signed in a later checkpoint extends the tree signed in an
  earlier one (nothing before the earlier one was changed or removed).

Both are JSON documents that scripts/verify_audit_proof.py checks without the LIMS.
Read-only: nothing is written. A proof the database can no longer back (its events
differ from what a checkpoint signed) is refused, naming the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from lims.audit_checkpoints import Checkpoint, check_lines, in_force, public_key, read_lines
from lims.audit_merkle import (
    AuditTree,
    AuditTreeError,
    build_tree,
    canonical_event,
    prove_consistency,
    prove_event,
)
from lims.config import Settings, get_settings
from lims.models import (
    AuditEvent,
)
from lims.services.audit_query import of_product
from lims.services.common import din_text
from workflows.errors import Conflict, NotFound


def checkpoints(settings: Settings | None = None) -> list[Checkpoint]:
    """The signed checkpoints still in force, oldest first (bad lines are left out)."""
    settings = settings or get_settings()
    good, _problems = check_lines(read_lines(Path(settings.audit_checkpoint_path)),
                                  public_key(settings))
    return in_force(good)


def product_events(session: Session, din: str) -> list[AuditEvent]:
    """Every audit event about the product's records, in sequence order."""
    query = select(AuditEvent).where(of_product(session, din)).order_by(col(AuditEvent.seq))
    return list(session.exec(query))


def prove_product(session: Session, din: str,
                  settings: Settings | None = None) -> dict[str, Any]:
    """Inclusion proofs of a product's events against the latest checkpoint."""
    events = product_events(session, din)
    anchored = checkpoints(settings)
    if not anchored or anchored[-1].tree_size == 0:
        raise Conflict("no signed checkpoint covers any event yet: run "
                       "`lims audit checkpoint`, then ask for the proof again")
    checkpoint = anchored[-1]
    tree = _tree_matching(session, checkpoint)
    proven = [e for e in events if e.seq <= checkpoint.tree_size]
    return {
        "kind": "inclusion", "din": din_text(din),
        "checkpoint": checkpoint.fields(),
        "events": [{"event": canonical_event(e), **_path(tree, e.seq, checkpoint)}
                   for e in proven],
        "not_yet_anchored": [e.seq for e in events if e.seq > checkpoint.tree_size],
    }


def _path(tree: AuditTree, seq: int, checkpoint: Checkpoint) -> dict[str, Any]:
    proof = prove_event(tree, seq, checkpoint.tree_size)
    return {"leaf_index": proof["leaf_index"], "tree_size": proof["tree_size"],
            "audit_path": proof["audit_path"]}


def prove_checkpoints(session: Session, first: int, second: int,
                      settings: Settings | None = None) -> dict[str, Any]:
    """A consistency proof from checkpoint `first` to checkpoint `second` (their numbers)."""
    by_number = {c.n: c for c in checkpoints(settings)}
    old, new = (_checkpoint(by_number, number) for number in (first, second))
    if old.tree_size == 0:
        raise Conflict(f"{old.describe()} covers no events: every trail extends it")
    if old.tree_size > new.tree_size:
        raise Conflict(f"{old.describe()} covers more events than {new.describe()}: "
                       "give the earlier checkpoint first")
    tree = _tree_matching(session, new)
    if tree.get_root(old.tree_size).hex() != old.tree_head:
        raise Conflict(f"the events 1 to {old.tree_size} in the database are not those "
                       f"sealed by {old.describe()}: the trail was rewritten after it was "
                       "signed; run `lims audit verify` to find where")
    proof = prove_consistency(tree, old.tree_size, new.tree_size)
    return {"kind": "consistency", "from_checkpoint": old.fields(),
            "to_checkpoint": new.fields(), "consistency_path": proof["consistency_path"]}


def _checkpoint(by_number: dict[int, Checkpoint], number: int) -> Checkpoint:
    if number not in by_number:
        known = ", ".join(str(n) for n in sorted(by_number)) or "none"
        raise NotFound(f"no valid checkpoint numbered {number} in force "
                       f"(checkpoints in force: {known})")
    return by_number[number]


def _tree_matching(session: Session, checkpoint: Checkpoint) -> AuditTree:
    """The tree of the checkpoint's events, refused if it is not the one it signed."""
    try:
        tree = build_tree(session.connection(), checkpoint.tree_size)
    except AuditTreeError as error:
        raise Conflict(f"the database cannot back {checkpoint.describe()}: {error}; "
                       "run `lims audit verify`") from error
    if tree.get_root().hex() != checkpoint.tree_head:
        raise Conflict(f"the events 1 to {checkpoint.tree_size} in the database are not "
                       f"those sealed by {checkpoint.describe()}: they were changed after "
                       "it was signed; run `lims audit verify` to find which")
    return tree
