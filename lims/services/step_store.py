"""Prebuilt Core statements for the scan-and-advance hot path.

Performing a step is the most frequent write in the lab. It reads the product,
its patient and protocol in one statement, its in-use containers and earlier
step results in two more, and writes with a handful of prebuilt statements,
so the cost stays close to the durable commit itself (see bench/transition.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from lims.models import Container, Patient, Product, Protocol, QcResult, Signature, StepRecord
from workflows.balance import holdings
from workflows.identity import STEP_OUTPUTS, ContainerKind
from workflows.protocol import ProtocolParameters
from workflows.qc_methods import drawn_from_final
from workflows.step_model import StepContext, StepSpec
from workflows.step_times import ReportedTime, earlier_steps, reported_times
from workflows.steps import STEPS

P: Table = Product.__table__  # type: ignore[attr-defined]
PA: Table = Patient.__table__  # type: ignore[attr-defined]
PR: Table = Protocol.__table__  # type: ignore[attr-defined]
C: Table = Container.__table__  # type: ignore[attr-defined]
SR: Table = StepRecord.__table__  # type: ignore[attr-defined]
SG: Table = Signature.__table__  # type: ignore[attr-defined]
QC: Table = QcResult.__table__  # type: ignore[attr-defined]
# A corrected record stays for the history but counts no more: every read of what the
# steps recorded takes the current records only (lims.services.corrections).
_CURRENT = SR.c.superseded.is_(False)

_CONTEXT = (select(P, PA.c.subject_id, PA.c.mrn, PA.c.weight_kg, PR.c.parameters,
                   PR.c.product_codes)
            .join(PA, PA.c.id == P.c.patient_id).join(PR, PR.c.id == P.c.protocol_id)
            .where(P.c.din == bindparam("din")))
_IN_USE = select(C).where(C.c.product_id == bindparam("pid"), C.c.status == "in_use")
_PREVIOUS = select(SR.c.step, SR.c.computed).where(SR.c.product_id == bindparam("pid"),
                                                   _CURRENT)
_OUTPUTS = select(SR.c.step, SR.c["values"], SR.c.computed).where(
    SR.c.product_id == bindparam("pid"), _CURRENT)
_FAMILY = select(C.c.id, C.c.parent_id, C.c.kind, C.c.volume_ml).where(
    C.c.product_id == bindparam("pid"))
_TIMES = select(SR.c.step, SR.c["values"]).where(SR.c.product_id == bindparam("pid"), _CURRENT)
_QC_DRAWS = select(QC.c.sample_volume_ml).where(QC.c.product_id == bindparam("pid"),
                                               QC.c.superseded.is_(False))
_RELEASED = select(SG.c.signed_at).where(SG.c.product_id == bindparam("pid"),
                                         SG.c.meaning == "Released")
_MOVE = update(P).where(P.c.id == bindparam("pid"), P.c.version == bindparam("old_version"))
_INSERT_RECORD = insert(SR).returning(SR.c.id)
_INSERT_CONTAINER = insert(C).returning(C.c.id)
_SET_CONTAINER = update(C).where(C.c.id == bindparam("cid"))


@dataclass
class StepContextRow:
    """The product as one step sees it, with its patient and protocol."""

    product: Product
    subject_id: str
    mrn: str
    weight_kg: float
    params: ProtocolParameters
    product_codes: Mapping[str, str]


def load_context(conn: Connection, din: str) -> StepContextRow | None:
    row = conn.execute(_CONTEXT, {"din": din}).mappings().first()
    if row is None:
        return None
    product = Product(**{c.name: row[c.name] for c in P.columns})
    return StepContextRow(product=product, subject_id=row["subject_id"], mrn=row["mrn"],
                          weight_kg=row["weight_kg"], params=parameters(row["parameters"]),
                          product_codes=row["product_codes"])


def parameters(data: Mapping[str, Any]) -> ProtocolParameters:
    return _parse_parameters(json.dumps(data, sort_keys=True))


@lru_cache(maxsize=32)
def _parse_parameters(text: str) -> ProtocolParameters:
    # Validating 40 parameters on every scan would cost more than the scan itself.
    return ProtocolParameters.from_mapping(json.loads(text))


def containers_in_use(conn: Connection, product_id: int) -> list[Container]:
    return [Container(**row) for row in
            conn.execute(_IN_USE, {"pid": product_id}).mappings()]


def previous_results(conn: Connection, product_id: int) -> dict[str, Mapping[str, float]]:
    return {step: computed for step, computed in conn.execute(_PREVIOUS, {"pid": product_id})}


def earlier_times(conn: Connection, product_id: int, step: str,
                  specs: Mapping[str, StepSpec]) -> list[ReportedTime]:
    """Every time the product's earlier steps reported, and its release once issued."""
    before = earlier_steps(step)
    times = [t for name, values in conn.execute(_TIMES, {"pid": product_id})
             if name in before for t in reported_times(specs[name], values)]
    if "formulate" in before:  # issue and administration follow QA's release
        times += [ReportedTime("QA's release", at) for (at,) in
                  conn.execute(_RELEASED, {"pid": product_id})]
    return times


def step_context(conn: Connection, ctx: StepContextRow) -> StepContext:
    """What a step of this product knows beyond its own form: the earlier steps' results
    and what each container filled so far holds (for the balance and carried inputs)."""
    product = ctx.product
    assert product.id is not None
    records = {step: (values, computed) for step, values, computed in
               conn.execute(_OUTPUTS, {"pid": product.id})}
    return context_of(ctx, records, drawn_volumes(conn, product.id))


def context_of(ctx: StepContextRow, records: Mapping[str, tuple[Mapping[str, Any],
                                                                  Mapping[str, Any]]],
               drawn: Mapping[ContainerKind, float]) -> StepContext:
    """The StepContext of the product given its current records ((values, computed) by
    step) and what each container gave to its other children."""
    product = ctx.product
    previous = {step: computed for step, (_, computed) in records.items()}
    outputs = {step: {**values, **computed} for step, (values, computed) in records.items()}
    return StepContext(arm=product.arm, weight_kg=ctx.weight_kg,
                       harvest_end=product.harvest_end, previous=previous,
                       holdings=holdings(STEPS, outputs, drawn))


# What a step puts out is its container's content, not something drawn from its parent.
_STEP_PRODUCTS = frozenset(kind for kinds in STEP_OUTPUTS.values() for kind in kinds)


def drawn_volumes(conn: Connection, product_id: int) -> dict[ContainerKind, float]:
    """Volume each container gave to its other children: samples, containers added later."""
    rows = list(conn.execute(_FAMILY, {"pid": product_id}))
    kinds = {row.id: row.kind for row in rows}
    drawn: dict[ContainerKind, float] = {}
    for row in rows:
        parent = kinds.get(row.parent_id)
        if parent is None or not row.volume_ml or row.kind in _STEP_PRODUCTS:
            continue
        drawn[ContainerKind(parent)] = drawn.get(ContainerKind(parent), 0.0) + row.volume_ml
    # QC results' samples come out of those drawn at formulation first, then the product.
    results = [v for (v,) in conn.execute(_QC_DRAWS, {"pid": product_id}) if v]
    final = ContainerKind.FINAL_PRODUCT
    unmeasured = any(row.kind == ContainerKind.QC_SAMPLE.value and row.volume_ml is None
                     for row in rows)
    if results:
        drawn[final] = drawn_from_final(None if unmeasured else drawn.get(final, 0.0),
                                        results)
    return drawn


def move_product(conn: Connection, product_id: int, old_version: int,
                 changes: Mapping[str, Any]) -> bool:
    """Write the new state if nobody else did since it was read (optimistic lock)."""
    result = conn.execute(_MOVE.values(**changes), {"pid": product_id,
                                                    "old_version": old_version})
    return result.rowcount == 1


def insert_record(conn: Connection, record: Mapping[str, Any]) -> int:
    return int(conn.execute(_INSERT_RECORD, dict(record)).scalar_one())


def insert_containers(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    return [int(conn.execute(_INSERT_CONTAINER, dict(row)).scalar_one()) for row in rows]


def set_container(conn: Connection, container_id: int, **values: Any) -> None:
    conn.execute(_SET_CONTAINER.values(**values), {"cid": container_id})


def as_stored_moment(value: object) -> datetime | None:
    """A time as a step record stores it (ISO-8601 text with its zone), or None."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def as_datetime(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value
