"""`lims audit verify`: the hash chain, then every record reconciled with it, both ways.

First the chain: if it is broken the trail cannot be trusted, so that is the verdict.
Then the trail is read, one check's events at a time, and every product's history is
replayed through the state machine (an illegal jump, a QA decision or a discard without a
valid signature, an administration without the administering physician's, an approved
release specification whose limits no longer hash to what QA signed or that names no
approver, is reported), and every record row is compared with the events that wrote it,
and every event's row must still exist (a disclosed patient identity: the patient, and the
product exported being that patient's). Each problem names the row or event, what was
expected and what was found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from lims.audit import verify_chain
from lims.models import AuditHead
from lims.progress import Phases, quiet
from lims.services.audit_trail_index import Trail
from lims.services.bedside_signatures import check_administrations
from lims.services.checkpoints import check_against_checkpoints
from lims.services.reconcile_acknowledgements import reconcile_acknowledgements
from lims.services.reconcile_certificates import reconcile_certificates
from lims.services.reconcile_disclosures import reconcile_disclosures
from lims.services.reconcile_quality import (
    reconcile_alerts,
    reconcile_deviations,
    reconcile_prints,
    reconcile_signatures,
    reconcile_users,
)
from lims.services.reconcile_records import (
    reconcile_containers,
    reconcile_products,
    reconcile_qc,
    reconcile_steps,
)
from lims.services.reconcile_storage import reconcile_storage_locations
from lims.services.release_signatures import DECISIONS, check_decisions
from lims.services.specification_signatures import check_specifications
from lims.services.state_replay import Replay, replay_histories
from lims.services.verdicts import Problem


@dataclass
class VerifyReport:
    lines: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    ok: bool = True

    def fail(self, line: str) -> None:
        self.ok = False
        self.lines.append(f"BROKEN: {line}")

    def add(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.lines.append(problem.line)
            if problem.before_rule:
                self.notes.append(problem)  # old data: told, not a break
                continue
            self.ok = False
            self.problems.append(problem)


def verify_all(session: Session, progress: Phases = quiet) -> VerifyReport:
    """The verdict; `progress` is told of each phase (chain, Merkle tree, reconciliation)."""
    report = VerifyReport()
    with progress("audit chain", _events(session), unit="events") as advance:
        chain = verify_chain(session, advance=advance)
    if not chain.ok:
        where = f"event {chain.first_broken_seq}" if chain.first_broken_seq else "audit head"
        report.problems.append(Problem(where, "audit chain", "an intact chain",
                                       str(chain.problem)))
        report.fail(f"audit chain: {chain.problem} (first broken event: {chain.first_broken_seq})")
        return report
    report.lines.append(f"audit chain intact: {chain.events} events")
    if not _anchored(session, report, progress):
        return report
    report.add(reconcile_records(session, progress))
    if report.ok:
        report.lines.append("records match the audit trail; every product's history is a "
                            "path the process allows")
    return report


def _events(session: Session) -> int | None:
    """How many events the audit head says there are (a plain read: the chain check reads
    the head itself afterwards)."""
    return session.exec(select(AuditHead.last_seq).where(AuditHead.id == 1)).first()


def _anchored(session: Session, report: VerifyReport, progress: Phases = quiet) -> bool:
    """The trail against the signed checkpoints outside the database (truncation, rewrite)."""
    anchors = check_against_checkpoints(session, progress=progress)
    report.lines.extend(anchors.lines)
    for problem in anchors.problems:
        report.problems.append(Problem("audit checkpoints", "anchor",
                                       "the trail the signed checkpoints vouch for", problem))
        report.fail(f"audit checkpoints: {problem}")
    return anchors.ok


def reconcile_records(session: Session, progress: Phases = quiet) -> list[Problem]:
    """Every record row against its events and back, and every history replayed.

    Read through a session of its own on the caller's connection (same transaction, so
    no second lock on SQLite): what the database holds, never objects the caller's session
    loaded earlier and may not have refreshed."""
    with Session(bind=session.connection()) as fresh:
        return _reconcile(fresh, progress)


# After the histories are replayed, each check in turn (one step of progress each).
_CHECKS: tuple[Callable[[Session, Trail, Replay], list[Problem]], ...] = (
    lambda session, trail, replay: check_decisions(session, replay,
                                                   min(trail.chunk, DECISIONS)),
    check_administrations,
    lambda session, trail, replay: reconcile_products(session, trail, replay.products),
    lambda session, trail, _replay: reconcile_containers(session, trail),
    lambda session, trail, _replay: reconcile_steps(session, trail),
    lambda session, trail, _replay: reconcile_qc(session, trail),
    lambda session, trail, _replay: reconcile_signatures(session, trail),
    lambda session, trail, _replay: reconcile_prints(session, trail),
    lambda session, trail, _replay: reconcile_deviations(session, trail),
    lambda session, trail, _replay: reconcile_alerts(session, trail),
    # QA's acknowledgements, the certificates of analysis they lead to, and the patients'
    # identities disclosed in identified FHIR exports: one step
    lambda session, trail, _replay: [*reconcile_acknowledgements(session, trail),
                                     *reconcile_certificates(session, trail),
                                     *reconcile_disclosures(session, trail)],
    # master data: the accounts, and whether each storage location is in use
    lambda session, trail, _replay: [*reconcile_users(session, trail),
                                     *reconcile_storage_locations(session, trail)],
    lambda session, trail, _replay: check_specifications(session, trail))


def _reconcile(session: Session, progress: Phases) -> list[Problem]:
    # Each check reads the events it needs when it runs, a chunk of rows at a time where it
    # compares a table: memory holds one check's share of the trail, not the trail.
    trail = Trail.reader(session)
    with progress("records reconciled", 1 + len(_CHECKS), unit="checks") as advance:
        replay = replay_histories(trail)
        advance()
        problems = list(replay.problems)
        for check in _CHECKS:
            problems.extend(check(session, trail, replay))
            advance()
    return problems
