"""What QA's review of a product is made of, read for many products at once.

The review (lims.services.review) turns one product's facts into its exceptions; the facts
are read here in a fixed number of statements whatever the number of products (IN lists),
so the QA queue counts the exceptions of a page of products with the review's own rules
instead of reading each product's records one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Table, Text
from sqlalchemy import cast as cast_
from sqlalchemy import select as core_select
from sqlmodel import Session

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
from lims.prepared import Prepared, instance
from lims.services.alerts import open_alerts
from lims.services.label_generations import supersession_events, supersession_lines
from lims.services.notifications import delivery_records
from lims.services.record_reads import rows_by_product
from lims.services.specifications import specifications_of
from lims.services.step_store import protocol_from_text
from lims.services.suspensions import printed_names, suspension_events, suspension_lines
from lims.sql_lists import one_of_bound
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
    # Rows made instances without the ORM's loading, in no session: the review only reads
    # them (lims.services.record_reads).
    qc = rows_by_product(session, QcResult, ids)
    steps = rows_by_product(session, StepRecord, ids)
    deviations = rows_by_product(session, Deviation, ids)
    coi = rows_by_product(session, CoiEvent, ids)
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


def _prints(session: Session, ids: list[int], superseded: list[int]
            ) -> tuple[dict[int, list[PrintJob]], dict[int, dict[int, Container]]]:
    """Product id -> its reprints, and every print of a product with a superseded label
    (what the review names), each with its container: one statement."""
    prints: dict[int, list[PrintJob]] = defaultdict(list)
    containers: dict[int, dict[int, Container]] = defaultdict(dict)
    session.flush()  # read from the connection: what the session holds is written first
    for row in _PRINTS.mappings(session.connection(), {"ids": ids, "superseded": superseded}):
        job = instance(PrintJob, {name: row[name] for name in _JOB_FIELDS})
        container = instance(Container, {name: row[f"c_{name}"] for name in _CONTAINER_FIELDS})
        prints[job.product_id].append(job)
        containers[job.product_id][container.id or 0] = container
    return prints, containers


_J: Table = PrintJob.__table__  # type: ignore[attr-defined]
_C: Table = Container.__table__  # type: ignore[attr-defined]
_JOB_FIELDS = tuple(c.name for c in _J.columns)
_CONTAINER_FIELDS = tuple(c.name for c in _C.columns)
_PRINTS = Prepared(core_select(_J, *(c.label(f"c_{c.name}") for c in _C.columns))
                   .join_from(_J, _C, _C.c.id == _J.c.container_id)
                   .where(one_of_bound(_J.c.product_id, "ids"),
                          _J.c.reprint.is_(True) | one_of_bound(_J.c.product_id, "superseded"))
                   .order_by(_J.c.id))


def _parameters(session: Session, protocol_ids: set[int]) -> dict[int, ProtocolParameters]:
    """Protocol id -> its parameters (as `parameters_of` reads them), one statement."""
    found = {pid: protocol_from_text(text) for pid, text in
             _PROTOCOLS.rows(session.connection(), {"ids": sorted(protocol_ids)})}
    for missing in protocol_ids - set(found):
        raise NotFound(f"protocol {missing} not found")
    return found


_PR: Table = Protocol.__table__  # type: ignore[attr-defined]
_PROTOCOLS = Prepared(core_select(_PR.c.id, cast_(_PR.c.parameters, Text))
                      .where(one_of_bound(_PR.c.id, "ids")))
