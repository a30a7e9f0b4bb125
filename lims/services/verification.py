"""`lims audit verify`: the hash chain, then the records reconciled against it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from lims.audit import content_hash, verify_chain
from lims.models import AuditEvent, Product, QcResult, StepRecord
from lims.services.qc import qc_content
from lims.services.steps import step_content


@dataclass
class VerifyReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def fail(self, line: str) -> None:
        self.ok = False
        self.lines.append(f"BROKEN: {line}")


def verify_all(session: Session) -> VerifyReport:
    report = VerifyReport()
    chain = verify_chain(session)
    if not chain.ok:
        report.fail(f"audit chain: {chain.problem} (first broken event: {chain.first_broken_seq})")
        return report
    report.lines.append(f"audit chain intact: {chain.events} events")
    _reconcile_states(session, report)
    _reconcile_steps(session, report)
    _reconcile_qc(session, report)
    if report.ok:
        report.lines.append("records match the audit trail")
    return report


def _audited(session: Session, action: str) -> dict[str, str | None]:
    """Last audited new value per entity id for `action` (later events win)."""
    latest: dict[str, str | None] = {}
    query = select(AuditEvent.entity_id, AuditEvent.new_value).where(
        col(AuditEvent.action) == action).order_by(col(AuditEvent.seq))
    for entity_id, value in session.exec(query):
        latest[entity_id] = value
    return latest


def _reconcile_states(session: Session, report: VerifyReport) -> None:
    audited = _audited(session, "product_created") | _audited(session, "state_changed")
    for din, state in session.exec(select(Product.din, Product.state)):
        if audited.get(din) != state:
            report.fail(f"product {din} is {state} but the audit trail says {audited.get(din)}")


def _reconcile_steps(session: Session, report: VerifyReport) -> None:
    audited = _audited(session, "step_recorded")
    for record in session.exec(select(StepRecord)):
        actual = content_hash(step_content(record))
        if actual != record.content_hash or audited.get(str(record.id)) != actual:
            report.fail(f"step record {record.id} ({record.step}) was changed outside the system")


def _reconcile_qc(session: Session, report: VerifyReport) -> None:
    audited = _audited(session, "qc_result") | _audited(session, "qc_corrected")
    for row in session.exec(select(QcResult)):
        actual = content_hash(qc_content(row))
        if actual != row.content_hash or audited.get(str(row.id)) != row.value:
            report.fail(f"QC result {row.id} ({row.test}) was changed outside the system")
