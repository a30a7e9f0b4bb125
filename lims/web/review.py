"""Review by exception: what QA must look at first, gathered from the records.

Read-only. Each exception names where it comes from so the reviewer can find it in
the full record below it on the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from lims.models import CoiEvent, PrintJob, Product, QcResult, StepRecord, User
from lims.services.deviations import deviations_of
from lims.services.qc import qc_status
from lims.services.release import is_independent
from workflows.specifications import QC_TESTS
from workflows.steps import STEPS


@dataclass(frozen=True)
class ReviewException:
    kind: str  # out of specification, warning, wrong scan, correction, ...
    where: str
    detail: str
    severity: str = "major"  # major (red) or minor (amber) or info


def exceptions(session: Session, product: Product) -> list[ReviewException]:
    found: list[ReviewException] = []
    missing, failed = qc_status(session, product)
    found += [ReviewException("Out of specification", QC_TESTS[t].label, "QC result fails the "
                              "specification") for t in failed]
    found += [ReviewException("Missing QC result", QC_TESTS[t].label, "no result entered")
              for t in missing]
    results = session.exec(select(QcResult).where(QcResult.product_id == product.id)
                           .order_by(col(QcResult.id))).all()
    for row in results:
        label = QC_TESTS[row.test].label if row.test in QC_TESTS else row.test
        if row.reason:
            found.append(ReviewException("Correction", label,
                                         f"corrected to {row.value}: {row.reason}", "minor"))
        if row.late:
            found.append(ReviewException("Late entry", label, "entered long after the test",
                                         "minor"))
        if not row.superseded and row.passed is None:
            found.append(ReviewException("Pending", label, f"{row.value} at review", "info"))
    records = session.exec(select(StepRecord).where(StepRecord.product_id == product.id)
                           .order_by(col(StepRecord.id))).all()
    for record in records:
        title = STEPS[record.step].label if record.step in STEPS else record.step
        for finding in record.findings:
            if finding.get("action") == "warn":
                found.append(ReviewException("Warning accepted", title,
                                             str(finding.get("message")), "minor"))
    for event in session.exec(select(CoiEvent).where(CoiEvent.product_id == product.id)):
        where = STEPS[event.step].label if event.step in STEPS else event.step.replace("_", " ")
        found.append(ReviewException("Wrong scan refused", where,
                                     f"{event.detail} (scanned {event.scanned[:40]})", "minor"))
    for job in session.exec(select(PrintJob).where(PrintJob.product_id == product.id,
                                                   col(PrintJob.reprint).is_(True))):
        found.append(ReviewException("Label reprinted",
                                     f"{job.label_kind.replace('_', '-')} label",
                                     job.reason or "", "minor"))
    for deviation in deviations_of(session, product):
        step = STEPS[deviation.step].label if deviation.step in STEPS else deviation.step
        found.append(ReviewException(f"Deviation ({deviation.classification})", step,
                                     f"{deviation.description} — {deviation.status}",
                                     "major" if deviation.status == "open" else "minor"))
    order = {"major": 0, "minor": 1, "info": 2}
    return sorted(found, key=lambda e: order.get(e.severity, 3))


def independent(session: Session, product: Product, user: User) -> bool:
    return is_independent(session, product, user)
