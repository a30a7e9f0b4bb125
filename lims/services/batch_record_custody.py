"""The chain of custody: who had each container, from when until when, collection to infusion.

Derived from what the LIMS already records, never typed twice: the container rows (who
made each, at which step), the step records (the operator and witness who handled the
container a step scanned), the label prints and their scan-backs, the QC results drawn
from the sample tubes, and the decisions that ended a container's story (discard, expiry).
Each container's events follow one another; an event lasts until the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

import labels.batch_record as br
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Container, PrintJob, Product, QcResult, StepRecord, User
from lims.services.batch_record_qc import label_scans
from lims.services.batch_record_story import full_name
from workflows.identity import KIND_LABELS, STEP_OUTPUTS, ContainerKind
from workflows.specifications import QC_TESTS
from workflows.steps import STEPS
from workflows.words import LABEL_KINDS

Names = Mapping[int | None, User]
# What handling a container at each step means for its custody.
_HANDLED: Mapping[str, str] = {
    "harvest": "Collected at the bone-marrow harvest",
    "receive": "Received in the laboratory",
    "issue": "Issued to the procedure room",
    "administer": "Administered to the patient",
}


@dataclass(frozen=True)
class _Event:
    at: datetime
    event: str
    by: str


def container_name(container: Container) -> str:
    code = container.product_code
    return (f"{KIND_LABELS[ContainerKind(container.kind)]} "
            f"{code[:5]} {code[5:6]} {code[6:]}/{container.flags}")


def _people(users: Names, operator: int | None, witness: int | None, role: str) -> str:
    who = full_name(users, operator)
    return f"{who}; {role} {full_name(users, witness)}" if witness else who


def _step_events(record: StepRecord, by_id: Mapping[int | None, Container],
                 users: Names) -> list[tuple[int, _Event]]:
    """The container the step handled, and the containers it filled."""
    label = STEPS[record.step].label
    found: list[tuple[int, _Event]] = []
    handled = by_id.get(record.container_id)
    if handled is not None and handled.id is not None:
        outputs = STEP_OUTPUTS.get(record.step, ())
        what = _HANDLED.get(record.step, f"Processed at {label}")
        if outputs:
            what += " into the " + " and the ".join(KIND_LABELS[k] for k in outputs)
        if outputs and handled.status == "consumed":
            what += "; used up"
        role = "received by" if record.step == "issue" else "witness"
        by = _people(users, record.operator_id, record.witness_id, role)
        physician = record.values.get("harvesting_physician")
        if physician:
            by = f"{_full_name_of(users, str(physician))} (harvesting physician); recorded by {by}"
        found.append((handled.id, _Event(record.performed_at, what, by)))
    return found


def _full_name_of(users: Names, username: str) -> str:
    return next((u.full_name for u in users.values() if u.username == username), username)


def _made(container: Container, by_id: Mapping[int | None, Container], users: Names) -> _Event:
    parent = by_id.get(container.parent_id)
    if parent is None:
        what = "Prepared and labelled for the harvest"
    elif container.kind == ContainerKind.QC_SAMPLE:
        what = "Drawn from the final product for QC"
    else:
        what = f"Filled from the {KIND_LABELS[ContainerKind(parent.kind)]}"
    return _Event(container.created_at, what, full_name(users, container.created_by_id))


def _label_events(session: Session, product: Product, users: Names) -> list[tuple[int, _Event]]:
    scans = label_scans(session, product)
    found = []
    for job in session.exec(select(PrintJob).where(PrintJob.product_id == product.id)
                            .order_by(col(PrintJob.id))):
        kind = LABEL_KINDS.get(job.label_kind, job.label_kind)
        what = f"{'Reprinted' if job.reprint else 'Printed'}: {kind}"
        found.append((job.container_id, _Event(job.printed_at, what,
                                               full_name(users, job.printed_by_id))))
        scan = scans.get(job.id) if job.id is not None else None
        if scan is not None:
            found.append((job.container_id, _Event(scan.at, f"Scanned back: {kind}",
                                                   full_name(users, scan.user_id))))
    return found


def _qc_events(session: Session, product: Product, samples: list[Container],
               users: Names) -> list[tuple[int, _Event]]:
    """QC results name no tube; every sample tube shows who tested the product's samples."""
    rows = list(session.exec(select(QcResult).where(QcResult.product_id == product.id,
                                                    col(QcResult.superseded).is_(False))
                             .order_by(col(QcResult.entered_at))))
    if not rows:
        return []
    analysts = ", ".join(dict.fromkeys(full_name(users, r.analyst_id) for r in rows))
    tests = ", ".join(dict.fromkeys(QC_TESTS[r.test].label for r in rows if r.test in QC_TESTS))
    first = min(r.sample_drawn_at or r.tested_at or r.entered_at for r in rows)
    return [(tube.id, _Event(first, f"Tested in QC: {tests}", analysts))
            for tube in samples if tube.id is not None]


def _end_events(session: Session, product: Product, containers: list[Container],
                users: Names) -> list[tuple[int, _Event]]:
    """A discard or expiry ends the story of every container still in use."""
    events = session.exec(select(AuditEvent).where(
        AuditEvent.action == AuditAction.STATE_CHANGED, AuditEvent.entity == "product",
        AuditEvent.entity_id == product.din,
        col(AuditEvent.new_value).in_(("discarded", "expired"))))
    found = []
    for event in events:
        what = ("Discarded" if event.new_value == "discarded" else "Expired") + (
            f": {event.reason}" if event.reason and event.new_value == "discarded" else "")
        found += [(c.id, _Event(event.at, what, full_name(users, event.user_id)))
                  for c in containers if c.id is not None and c.status != "consumed"]
    return found


def custody(session: Session, product: Product, records: list[StepRecord],
            users: Names) -> tuple[br.CustodyLine, ...]:
    containers = list(session.exec(select(Container).where(Container.product_id == product.id)
                                   .order_by(col(Container.id))))
    by_id: dict[int | None, Container] = {c.id: c for c in containers}
    events: list[tuple[int, _Event]] = [(c.id, _made(c, by_id, users))
                                        for c in containers if c.id is not None]
    for record in records:
        events += _step_events(record, by_id, users)
    events += _label_events(session, product, users)
    samples = [c for c in containers if c.kind == ContainerKind.QC_SAMPLE]
    events += _qc_events(session, product, samples, users)
    events += _end_events(session, product, containers, users)
    lines = []
    for container in containers:
        own = sorted((e for cid, e in events if cid == container.id), key=lambda e: e.at)
        for n, event in enumerate(own):
            end = own[n + 1].at if n + 1 < len(own) else None
            lines.append(br.CustodyLine(container_name(container), event.event, event.at, end,
                                        event.by))
    return tuple(lines)
