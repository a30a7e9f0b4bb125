"""`lims audit verify`: the hash chain, then every record reconciled with it, both ways.

First the chain: if it is broken the trail cannot be trusted, so that is the verdict.
Then the trail is read once and every product's history is replayed through the state
machine (an illegal jump, a QA decision or a discard without a valid signature, an
administration without the administering physician's, is reported), and
every record row is compared with the events that wrote it, and every event's row must
still exist. Each problem names the row or event, what was expected and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from lims.audit import verify_chain
from lims.services.audit_trail_index import Trail
from lims.services.bedside_signatures import check_administrations
from lims.services.checkpoints import check_against_checkpoints
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
from lims.services.release_signatures import check_decisions
from lims.services.state_replay import replay_histories
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


def verify_all(session: Session) -> VerifyReport:
    report = VerifyReport()
    chain = verify_chain(session)
    if not chain.ok:
        where = f"event {chain.first_broken_seq}" if chain.first_broken_seq else "audit head"
        report.problems.append(Problem(where, "audit chain", "an intact chain",
                                       str(chain.problem)))
        report.fail(f"audit chain: {chain.problem} (first broken event: {chain.first_broken_seq})")
        return report
    report.lines.append(f"audit chain intact: {chain.events} events")
    if not _anchored(session, report):
        return report
    report.add(reconcile_records(session))
    if report.ok:
        report.lines.append("records match the audit trail; every product's history is a "
                            "path the process allows")
    return report


def _anchored(session: Session, report: VerifyReport) -> bool:
    """The trail against the signed checkpoints outside the database (truncation, rewrite)."""
    anchors = check_against_checkpoints(session)
    report.lines.extend(anchors.lines)
    for problem in anchors.problems:
        report.problems.append(Problem("audit checkpoints", "anchor",
                                       "the trail the signed checkpoints vouch for", problem))
        report.fail(f"audit checkpoints: {problem}")
    return anchors.ok


def reconcile_records(session: Session) -> list[Problem]:
    """Every record row against its events and back, and every history replayed.

    Read through a session of its own on the caller's connection (same transaction, so
    no second lock on SQLite): what the database holds, never objects the caller's session
    loaded earlier and may not have refreshed."""
    with Session(bind=session.connection()) as fresh:
        return _reconcile(fresh)


def _reconcile(session: Session) -> list[Problem]:
    trail = Trail.load(session)
    replay = replay_histories(trail)
    return [*replay.problems,
            *check_decisions(session, replay),
            *check_administrations(session, trail, replay),
            *reconcile_products(session, trail, replay.products),
            *reconcile_containers(session, trail),
            *reconcile_steps(session, trail),
            *reconcile_qc(session, trail),
            *reconcile_signatures(session, trail),
            *reconcile_prints(session, trail),
            *reconcile_deviations(session, trail),
            *reconcile_alerts(session, trail),
            *reconcile_users(session, trail)]
