"""Writing signed checkpoints of the audit trail and checking the database against them.

A checkpoint is written on a schedule (job kind "audit_checkpoint", which queues its
next run), after every release, before every batch record is printed, and by
`lims audit checkpoint`. It seals only a trail that verifies: the events since the
previous checkpoint must chain, under the audit key, from that checkpoint's hash. After
a legitimate restore from backup, `lims audit restore-checkpoint` writes a "restored"
checkpoint; without one, a database behind its checkpoints is a rollback and is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from lims.audit import verify_chain
from lims.audit_checkpoints import (
    Checkpoint,
    CheckpointError,
    append_checkpoint,
    check_lines,
    in_force,
    public_key,
    read_lines,
    signing_key,
)
from lims.audit_merkle import extend_tree_head, tree_head
from lims.config import Settings, get_settings
from lims.models import AuditEvent, AuditHead
from lims.progress import Phases, quiet
from lims.services.jobs import ClaimedJob, enqueue, queue_unless_waiting, register_job_kind

log = logging.getLogger("lims.audit")
JOB_KIND = "audit_checkpoint"


def write_checkpoint(session: Session, *, reason: str,
                     settings: Settings | None = None) -> Checkpoint:
    """Sign and append a checkpoint of the trail as committed now (reads, never writes).

    Any transaction the session has open is ended first (rolled back: callers commit
    their changes before a checkpoint). Nobody may wait for the checkpoint file's lock
    while holding the database (SQLite's write lock is taken by every transaction here),
    or the writer holding the file, waiting for the database, would wait for them."""
    settings = settings or get_settings()
    session.rollback()

    def build(earlier: list[Checkpoint]) -> dict[str, Any]:
        _snapshot(session)
        active = in_force(earlier)
        previous = active[-1] if active else None
        seq = _sealable_head(session, previous)
        return _content(session, "checkpoint", seq, reason, previous)

    return append_checkpoint(Path(settings.audit_checkpoint_path), build,
                             signing_key(settings))


def restore_checkpoint(session: Session, *, sequence: int, reason: str,
                       settings: Settings | None = None) -> Checkpoint:
    """Record that the database was legitimately restored from a backup ending at
    `sequence`: the whole trail must verify and end exactly there."""
    settings = settings or get_settings()
    if not reason.strip():
        raise CheckpointError("give the reason for the restore (which backup, why)")
    session.rollback()  # see write_checkpoint

    def build(earlier: list[Checkpoint]) -> dict[str, Any]:
        _snapshot(session)
        chain = verify_chain(session)
        if not chain.ok:
            raise CheckpointError(f"the restored trail does not verify: {chain.problem}")
        last = _last_seq(session)
        if last != sequence:
            raise CheckpointError(f"the database ends at event {last}, not {sequence}: "
                                  "give the sequence the restored database ends at")
        return _content(session, "restored", sequence, reason.strip())

    return append_checkpoint(Path(settings.audit_checkpoint_path), build,
                             signing_key(settings))


def _snapshot(session: Session) -> None:
    """One consistent view of events and head for the whole checkpoint. PostgreSQL: a
    REPEATABLE READ transaction, so events committed meanwhile do not move the head under
    the check; SQLite: every transaction here holds the write lock already."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _sealable_head(session: Session, previous: Checkpoint | None) -> int:
    """The head to seal, once the events since `previous` are shown to chain from it."""
    after = (0, "0" * 64)
    if previous is not None:
        found = _hash_at(session, previous.seq)
        if found != previous.chain_hash:
            raise CheckpointError(_differs(previous, found, _last_seq(session)))
        after = (previous.seq, previous.chain_hash)
    chain = verify_chain(session, after=after)
    if not chain.ok:
        raise CheckpointError(f"the audit trail does not verify: {chain.problem}; "
                              "run `lims audit verify`")
    head = session.get(AuditHead, 1, populate_existing=True)
    assert head is not None
    return head.last_seq


def _content(session: Session, kind: str, seq: int, reason: str,
             previous: Checkpoint | None = None) -> dict[str, Any]:
    # Extending the previous signed tree reads only the newer events (lims/audit_merkle.py).
    size, root = (extend_tree_head(session.connection(), (previous.tree_size,
                                                          previous.tree_head), seq)
                  if previous is not None else tree_head(session.connection(), seq))
    event = session.get(AuditEvent, seq) if seq else None
    return {"kind": kind, "seq": seq, "chain_hash": event.hash if event else "0" * 64,
            "tree_size": size, "tree_head": root,
            "at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "key_id": (event.key_id or "") if event else "", "reason": reason}


def _hash_at(session: Session, seq: int) -> str | None:
    if seq == 0:
        return "0" * 64
    return session.exec(select(AuditEvent.hash).where(col(AuditEvent.seq) == seq)).first()


def _last_seq(session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.max(AuditEvent.seq), 0))).one())


def _differs(checkpoint: Checkpoint, found: str | None, last: int) -> str:
    if found is None:
        return (f"{checkpoint.describe()} but the database ends at {last}: the newest "
                "events were deleted (after a legitimate restore from backup, run "
                "`lims audit restore-checkpoint`)")
    return (f"event {checkpoint.seq} differs from {checkpoint.describe()}: the trail was "
            f"rewritten at or before event {checkpoint.seq}")


# --- verification ----------------------------------------------------------------------------

@dataclass
class AnchorReport:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_against_checkpoints(session: Session, settings: Settings | None = None,
                              progress: Phases = quiet) -> AnchorReport:
    """Every checkpoint's signature, then the database against those still in force
    (`progress`: the Merkle tree's, read event by event)."""
    settings = settings or get_settings()
    report = AnchorReport()
    lines = read_lines(Path(settings.audit_checkpoint_path))
    if not lines:
        report.lines.append("no audit checkpoint written yet: the trail is not anchored "
                            "outside the database (run `lims audit checkpoint`)")
        return report
    good, report.problems = check_lines(lines, public_key(settings))
    for restore in (c for c in good if c.kind == "restored"):
        report.lines.append(f"{restore.describe()}: {restore.reason}")
    active = in_force(good)
    if active:
        _check_active(session, active, report, progress)
    return report


def _check_active(session: Session, active: list[Checkpoint], report: AnchorReport,
                  progress: Phases = quiet) -> None:
    last = _last_seq(session)
    beyond = [c for c in active if c.seq > last]
    if beyond:  # the newest events were deleted: name the furthest checkpoint they reached
        report.problems.append(_differs(max(beyond, key=lambda c: (c.seq, c.n)), None, last))
        return
    hashes = _hashes_at(session, sorted({c.seq for c in active if c.seq > 0}))
    matched: Checkpoint | None = None
    for checkpoint in active:
        found = "0" * 64 if checkpoint.seq == 0 else hashes.get(checkpoint.seq)
        if found != checkpoint.chain_hash:
            since = (f" and after event {matched.seq} ({matched.describe()} still matches)"
                     if matched is not None else "")
            report.problems.append(_differs(checkpoint, found, last) + since)
            return
        matched = checkpoint
    assert matched is not None
    with progress(f"Merkle tree of events 1 to {matched.seq:,}", matched.seq,
                  unit="events") as advance:
        size, root = tree_head(session.connection(), matched.seq, advance)
    if (size, root) != (matched.tree_size, matched.tree_head):
        report.problems.append(f"the Merkle tree head of events 1 to {matched.seq} differs "
                               f"from {matched.describe()}")
        return
    newer = last - matched.seq
    report.lines.append(f"trail matches {matched.describe()} ({len(active)} in force); "
                        f"{newer} newer event(s) not yet anchored")


def _hashes_at(session: Session, seqs: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(seqs), 500):
        chunk = seqs[start:start + 500]
        query = select(AuditEvent.seq, AuditEvent.hash).where(col(AuditEvent.seq).in_(chunk))
        found.update({seq: digest for seq, digest in session.exec(query)})
    return found


# --- when checkpoints are written ------------------------------------------------------------

def checkpoint_after_commit(session: Session, *, reason: str) -> Checkpoint | None:
    """A checkpoint right after a committed change (a release). If it cannot be written
    now, the change stands and a checkpoint job is queued to try again (commits it)."""
    try:
        return write_checkpoint(session, reason=reason)
    except (CheckpointError, OSError) as error:
        log.error("audit checkpoint after %s not written: %s", reason, error)
        session.rollback()
        enqueue(session, kind=JOB_KIND, payload={"reason": reason, "once": True})
        session.commit()
        return None


def checkpoint_for_print(session: Session, *, din: str) -> str:
    """Write a checkpoint before a batch record is printed; what each page says of it."""
    try:
        checkpoint = write_checkpoint(session, reason=f"batch record {din} printed")
    except (CheckpointError, OSError) as error:
        log.error("audit checkpoint before printing %s not written: %s", din, error)
        return f"NO AUDIT CHECKPOINT could be written before printing ({error})"
    return (f"Audit checkpoint {checkpoint.n}, signed {checkpoint.at[:19]}Z: events 1–"
            f"{checkpoint.seq}, Merkle tree head {checkpoint.tree_head}")


def schedule_checkpoints(session: Session, *, now: datetime | None = None) -> None:
    """Queue the periodic checkpoint job unless one is already waiting (commits)."""
    queue_unless_waiting(session, kind=JOB_KIND, payload={"reason": "scheduled"}, run_at=now)


def _run(session: Session, job: ClaimedJob, now: datetime) -> None:
    write_checkpoint(session, reason=str(job.payload.get("reason", "scheduled")))
    session.rollback()  # end the read before the runner stages what comes next
    if not job.payload.get("once"):
        _queue_next(session, now)


def _failed(session: Session, job: ClaimedJob, error: str, retry_at: datetime | None) -> None:
    log.error("audit checkpoint failed: %s", error)
    if retry_at is None and not job.payload.get("once"):
        _queue_next(session, datetime.now(UTC))  # the schedule goes on after a failure


def _queue_next(session: Session, now: datetime) -> None:
    interval = timedelta(seconds=get_settings().audit_checkpoint_interval_seconds)
    enqueue(session, kind=JOB_KIND, payload={"reason": "scheduled"}, run_at=now + interval)


register_job_kind(JOB_KIND, _run, _failed)
