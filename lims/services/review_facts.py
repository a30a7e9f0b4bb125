"""What QA's review of a product is made of, read for many products at once.

The review (lims.services.review) turns one product's facts into its exceptions; the facts
are read here in a fixed number of statements whatever the number of products (IN lists),
so the QA queue counts the exceptions of a page of products with the review's own rules
instead of reading each product's records one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from lims.models import (
    Alert,
    CoiEvent,
    Container,
    Deviation,
    PrintJob,
    Product,
    Protocol,
    QcResult,
    StepRecord,
)
from lims.prepared import instances
from lims.services.alerts import open_alerts
from lims.services.label_generations import supersession_events, supersession_lines
from lims.services.notifications import delivery_records
from lims.services.specifications import specifications_of
from lims.services.suspensions import printed_names, suspension_events, suspension_lines
from lims.sql_lists import one_of
from workflows.errors import NotFound
from workflows.protocol import ProtocolParameters
from workflows.specifications import Specification

R = TypeVar("R", QcResult, Deviation, StepRecord, CoiEvent)


@dataclass
class ReviewFacts:
    """One product's rows the review reads (each list oldest first)."""

    product: Product
    subject_id: str
    specification: Specification
    version: str
    parameters: ProtocolParameters
    qc: list[QcResult]
    deviations: list[Deviation]
    steps: list[StepRecord]
    coi: list[CoiEvent]
    prints: list[PrintJob]  # its reprints; every print once a correction superseded one
    containers: dict[int, Container]  # the containers of those prints
    suspensions: list[str]  # the suspension history, in words
    superseded: list[str]  # the labels a correction superseded, in words
    alerts: list[Alert]  # its open alerts
    notifications: list[tuple[bool, str]]  # (delivered, what became of it)
    names: dict[int | None, str]  # printed names of the people its QC corrections name


def review_facts(session: Session, products: Sequence[tuple[Product, str]],
                 alerts: list[Alert] | None = None) -> list[ReviewFacts]:
    """The facts of each (product, its patient's subject ID), in the order given;
    `alerts`: every open alert, when the caller has already read them."""
    if not products:
        return []
    ids = [p.id or 0 for p, _ in products]
    dins = [p.din for p, _ in products]
    alerts = open_alerts(session) if alerts is None else alerts
    specs = specifications_of(session, [p for p, _ in products])
    parameters = _parameters(session, {p.protocol_id for p, _ in products})
    qc = _by_product(session, QcResult, ids)
    steps = _by_product(session, StepRecord, ids)
    deviations = _by_product(session, Deviation, ids)
    coi = _by_product(session, CoiEvent, ids)
    suspended = suspension_events(session, dins)
    superseded = supersession_events(session, dins)
    prints, containers = _prints(session, ids, [p.id or 0 for p, _ in products
                                                if p.din in superseded])
    notifications = delivery_records(session, ids)
    people = {e.user_id for events in suspended.values() for e in events}
    people |= {r.verified_by_id for rows in qc.values() for r in rows if r.reason is not None}
    names = printed_names(session, people)
    facts = []
    for product, subject_id in products:
        pid, din = product.id or 0, product.din
        spec, version = specs[pid]
        jobs = {job.id or 0: job for job in prints[pid]}
        held = containers[pid]
        facts.append(ReviewFacts(
            product=product, subject_id=subject_id, specification=spec, version=version,
            parameters=parameters[product.protocol_id], qc=qc[pid],
            deviations=deviations[pid], steps=steps[pid], coi=coi[pid],
            prints=prints[pid], containers=held,
            suspensions=suspension_lines(suspended.get(din, []), names),
            superseded=supersession_lines(session, superseded.get(din, []), jobs, held),
            alerts=[a for a in alerts if a.product_id == pid],
            notifications=notifications.get(pid, []), names=names))
    return facts


def _by_product(session: Session, model: type[R], ids: list[int]) -> dict[int, list[R]]:
    """Product id -> its rows of `model`, oldest first: one statement for all.

    Rows made instances without the ORM's loading (lims.prepared.instance), in no
    session: the review only reads them, and a queue of products has thousands of step
    records and results (ORM loading was a quarter of the QA queue's time). Anything the
    session holds unflushed is flushed first, so what is read is what the session sees."""
    session.flush()
    table: Table = model.__table__  # type: ignore[attr-defined]
    found: dict[int, list[R]] = defaultdict(list)
    rows = session.connection().execute(
        core_select(table).where(one_of(table.c.product_id, ids)).order_by(table.c.id))
    for made in instances(model, cast(Iterable[Mapping[str, Any]], rows.mappings())):
        found[made.product_id or 0].append(made)
    return found


def _prints(session: Session, ids: list[int], superseded: list[int]
            ) -> tuple[dict[int, list[PrintJob]], dict[int, dict[int, Container]]]:
    """Product id -> its reprints, and every print of a product with a superseded label
    (what the review names), each with its container: one statement."""
    prints: dict[int, list[PrintJob]] = defaultdict(list)
    containers: dict[int, dict[int, Container]] = defaultdict(dict)
    for job, container in session.exec(select(PrintJob, Container).join(
            Container, col(Container.id) == col(PrintJob.container_id)).where(
            one_of(col(PrintJob.product_id), ids),
            col(PrintJob.reprint).is_(True) | one_of(col(PrintJob.product_id), superseded))
            .order_by(col(PrintJob.id))):
        prints[job.product_id].append(job)
        containers[job.product_id][container.id or 0] = container
    return prints, containers


def _parameters(session: Session, protocol_ids: set[int]) -> dict[int, ProtocolParameters]:
    """Protocol id -> its parameters (as `parameters_of` reads them), one statement."""
    found = {row.id or 0: ProtocolParameters.from_mapping(row.parameters) for row in session.exec(
        select(Protocol).where(one_of(col(Protocol.id), protocol_ids)))}
    for missing in protocol_ids - set(found):
        raise NotFound(f"protocol {missing} not found")
    return found
