"""Read-only assembly of what the product page shows. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from lims.models import Container, Patient, PrintJob, Product, StepRecord, User
from lims.services.alerts import open_alerts
from lims.services.common import product_by_din
from lims.services.deviations import deviations_of
from lims.services.notifications import delivery_record
from lims.services.qc import replaced_among
from lims.services.queries import coi_events_of, container_scan_text, history_of, qc_results_of
from lims.services.record_reads import rows_of, users_by_id
from lims.services.records_present import records_present
from lims.services.signatures import signatures_of
from lims.services.storage import storage_history
from lims.services.temperature_excursions import excursions
from lims.web.render import local
from lims.web.vocab import computed_rows
from workflows.fields import Quantity
from workflows.registry import find
from workflows.specifications import QC_TESTS
from workflows.steps import STEPS


@dataclass
class ContainerRow:
    container: Container
    prints: list[PrintJob]
    scan_text: str
    children: list[ContainerRow] = field(default_factory=list)

    @property
    def printed(self) -> bool:
        return bool(self.prints)

    @property
    def verified(self) -> bool:
        return self.container.label_verified_at is not None


def user_names(session: Session) -> dict[int, User]:
    return users_by_id(session)


def container_rows(session: Session, product: Product) -> list[ContainerRow]:
    assert product.id is not None
    containers = rows_of(session, Container, product.id)
    jobs = rows_of(session, PrintJob, product.id)
    rows = {c.id: ContainerRow(c, [j for j in jobs if j.container_id == c.id],
                               container_scan_text(product, c)) for c in containers}
    return list(rows.values())


def lineage(rows: list[ContainerRow]) -> list[ContainerRow]:
    """The containers as a tree: the collection bag at the root, each output under its input."""
    by_id = {row.container.id: row for row in rows}
    for row in rows:
        row.children = []
    roots: list[ContainerRow] = []
    for row in rows:
        parent = by_id.get(row.container.parent_id)
        (parent.children if parent is not None else roots).append(row)
    return roots


def step_records(session: Session, product: Product) -> list[StepRecord]:
    """Every step record of the product, superseded ones too, oldest first."""
    assert product.id is not None
    return rows_of(session, StepRecord, product.id)


def step_rows(session: Session, product: Product, users: dict[int, User] | None = None,
              every: list[StepRecord] | None = None) -> list[dict[str, Any]]:
    """Each current step record with its values and computed figures in words, units and
    local time (`users`: `user_names`, `every`: `step_records`, when the caller has read
    them)."""
    every = step_records(session, product) if every is None else every
    records = [record for record in every if not record.superseded]
    people = {u.username: u.full_name
              for u in (users if users is not None else user_names(session)).values()}
    out = []
    for record in records:
        spec = STEPS.get(record.step)
        values = []
        for name, value in record.values.items():
            if value in (None, ""):
                continue
            known = find(record.step, name)  # label and unit from the one registry
            if known is not None and known.kind == "datetime" and isinstance(value, str):
                value = local(datetime.fromisoformat(value))
            elif known is not None and known.quantity is Quantity.PERSON:
                value = people.get(str(value), value)  # the printed name, not the user name
            values.append((known.label if known else name.replace("_", " ").capitalize(),
                           value, known.unit if known else None))
        out.append({"record": record, "title": spec.label if spec else record.step,
                    "values": values, "computed": computed_rows(record.computed, record.step)})
    return out


def _subject(session: Session, product: Product) -> str:
    patient = session.get(Patient, product.patient_id)
    return patient.subject_id if patient else "?"


def product_page(session: Session, din: str) -> dict[str, Any]:
    product = product_by_din(session, din)
    assert product.id is not None
    rows = container_rows(session, product)
    every_qc = qc_results_of(session, product, include_superseded=True)  # one read
    qc = [q for q in every_qc if not q.superseded]
    users = user_names(session)
    records = step_records(session, product)
    # The occasional records (most products have none of them) read only where they exist.
    present = records_present(session, product.id)
    return {
        "product": product,
        "patient": session.get(Patient, product.patient_id),
        "containers": rows,
        "lineage": lineage(rows),
        "steps": step_rows(session, product, users, records),
        "qc": qc,
        # What each correction replaced, shown as old → new beside its reason.
        "qc_replaced": {q.id: replaced_among(every_qc, q) for q in qc if q.reason},
        "qc_tests": QC_TESTS,
        "subject_id": _subject(session, product),
        "signatures": signatures_of(session, product.id) if present.signatures else [],
        "deviations": deviations_of(session, product) if present.deviations else [],
        "coi": coi_events_of(session, product) if present.coi_events else [],
        "audit": history_of(session, product, records),
        "alerts": open_alerts(session, product.id) if present.open_alerts else [],
        "notifications": delivery_record(session, product) if present.notifications else [],
        "users": users,
        "storage": storage_history(session, product) if present.storage else [],
        "temperature_excursions": (excursions(session, product=product)
                                   if present.excursions else []),
    }
