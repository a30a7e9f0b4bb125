"""Read-only views: worklist, product history, containers. Nothing here writes."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Table, bindparam, cast
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from lims.models import AuditEvent, CoiEvent, Container, Patient, Product, QcResult, StepRecord
from lims.prepared import Prepared, instances
from lims.services.common import product_by_din
from lims.services.record_reads import qc_results_read
from lims.sql_lists import one_of_bound
from workflows.errors import NotFound
from workflows.identity import container_code
from workflows.product import FINAL_STATES, ProductState

# Every state but the final ones, named (an IN list the state index answers, where NOT IN
# the few final states would read every product the lab ever made).
IN_PROCESS_STATES = sorted(s.value for s in ProductState if s not in FINAL_STATES)


@dataclass(frozen=True)
class WorklistItem:
    din: str
    subject_id: str
    arm: str
    state: str
    version: int
    harvest_end: datetime | None
    expires_at: datetime | None
    product_id: int = 0


def worklist(session: Session, *, include_final: bool = False) -> dict[str, list[WorklistItem]]:
    """Products grouped by state, in process order, oldest harvest first."""
    query = select(Product, Patient.subject_id).join(Patient, col(Patient.id) == Product.patient_id)
    if not include_final:
        query = query.where(col(Product.state).in_(IN_PROCESS_STATES))
    grouped: dict[str, list[WorklistItem]] = {s.value: [] for s in ProductState}
    for product, subject in session.exec(query.order_by(col(Product.id))):
        grouped[product.state].append(WorklistItem(product.din, subject, product.arm,
                                                   product.state, product.version,
                                                   product.harvest_end, product.expires_at,
                                                   product.id or 0))
    return {state: items for state, items in grouped.items() if items}


# How the worklist page orders its products: by the step they wait for (process order,
# oldest harvest first in each), or in one list by harvest, by expiry (due) or by DIN.
WORKLIST_SORTS = ("step", "harvest", "due", "din")
_PROCESS_ORDER = {state.value: index for index, state in enumerate(ProductState)}


def worklist_items(session: Session, *, sort: str = "step", state: str | None = None,
                   arm: str | None = None) -> list[WorklistItem]:
    """Products in process (or in one state), of one arm or both, in the order `sort`
    names (WORKLIST_SORTS); an unknown sort is the default, by step."""
    # The item's columns only: no Product instances for every product in process.
    query = core_select(col(Product.din), col(Patient.subject_id), col(Product.arm),
                        col(Product.state), col(Product.version), col(Product.harvest_end),
                        col(Product.expires_at), col(Product.id)).join(
        Patient, col(Patient.id) == Product.patient_id)
    if state is not None:
        query = query.where(col(Product.state) == state)
    else:
        query = query.where(col(Product.state).in_(IN_PROCESS_STATES))
    if arm is not None:
        query = query.where(col(Product.arm) == arm)
    rows = session.connection().execute(query.order_by(col(Product.id)))
    items = [WorklistItem(din, subject, arm_, state_, version, harvest_end, expires_at, id_ or 0)
             for din, subject, arm_, state_, version, harvest_end, expires_at, id_ in rows]
    return sorted(items, key=_sort_key(sort))


def _sort_key(sort: str) -> Callable[[WorklistItem], tuple[Any, ...]]:
    never = datetime.max.replace(tzinfo=UTC)

    def harvest(item: WorklistItem) -> tuple[Any, ...]:
        # Not yet harvested (scheduled) last: no clock runs for them yet.
        return (item.harvest_end or never,)

    if sort == "harvest":
        return harvest
    if sort == "due":
        return lambda item: (item.expires_at or never, *harvest(item))
    if sort == "din":
        return lambda item: (item.din,)
    return lambda item: (_PROCESS_ORDER.get(item.state, 99), *harvest(item))


def history(session: Session, din: str) -> list[AuditEvent]:
    """Every audit event about the product, its containers and its step records."""
    return history_of(session, product_by_din(session, din))


def history_of(session: Session, product: Product,
               records: Collection[StepRecord] | None = None) -> list[AuditEvent]:
    """`history` of a product already read; `records`: every one of its step records
    (superseded ones too), when the caller has read them. The events are read as they
    are in the database (what the session changed is flushed first), in no session: an
    audit event is never changed."""
    # Its step records' ids read first, as a list: given as a subquery, PostgreSQL read
    # every step_record event of the trail and filtered them (250 ms at 1M events).
    record_ids = ([str(record.id) for record in records] if records is not None else list(
        session.exec(select(cast(col(StepRecord.id), String)).where(
            StepRecord.product_id == product.id))))
    session.flush()
    # Prepared: the product page reads its sixty-odd events at every load; the ORM's
    # loading of them was a tenth of the page's CPU.
    return instances(AuditEvent, _HISTORY.mappings(session.connection(), {
        "din": product.din, "din_prefix": product.din, "record_ids": record_ids}))


_AE: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_HISTORY = Prepared(core_select(_AE).where(
    ((_AE.c.entity == "product") & (_AE.c.entity_id == bindparam("din")))
    | ((_AE.c.entity == "container") & _AE.c.entity_id.startswith(bindparam("din_prefix")))
    | ((_AE.c.entity == "step_record") & one_of_bound(_AE.c.entity_id, "record_ids"))
).order_by(_AE.c.seq))


def containers(session: Session, din: str) -> list[Container]:
    product = product_by_din(session, din)
    return list(session.exec(select(Container).where(Container.product_id == product.id)
                             .order_by(col(Container.id))))


def container_scan_text(product: Product, container: Container) -> str:
    """What the 2-D code of the label the container wears now carries (DIN, product code,
    print serial): the scan of the square code that confirms it."""
    return container_code(product.din, container.product_code, container.flags,
                          container.label_serial)


def coi_events(session: Session, din: str) -> list[CoiEvent]:
    return coi_events_of(session, product_by_din(session, din))


def coi_events_of(session: Session, product: Product) -> list[CoiEvent]:
    return list(session.exec(select(CoiEvent).where(CoiEvent.product_id == product.id)))


def patient(session: Session, subject_id: str) -> Patient:
    found = session.exec(select(Patient).where(Patient.subject_id == subject_id)).first()
    if found is None:
        raise NotFound(f"no enrolled patient with subject ID {subject_id}")
    return found


def qc_results(session: Session, din: str, *, include_superseded: bool = False
               ) -> list[QcResult]:
    """The product's QC results in entry order (corrected ones only when asked)."""
    return qc_results_of(session, product_by_din(session, din),
                         include_superseded=include_superseded)


def qc_results_of(session: Session, product: Product, *, include_superseded: bool = False
                  ) -> list[QcResult]:
    """`qc_results` of a product already read (in no session: lims.services.record_reads)."""
    assert product.id is not None
    return qc_results_read(session, product.id, include_superseded=include_superseded)
