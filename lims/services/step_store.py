"""Prebuilt statements for the scan-and-advance hot path.

Performing a step is the most frequent write in the lab. It reads the product with its
patient and protocol in one statement, its containers and its current step records in
one more each (every check of the step takes what it needs from those), and writes with
a handful of statements compiled once per database and run on the driver's cursor
(lims.prepared), so the cost stays close to the durable commit itself (see
bench/transition.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Table, Text, bindparam, cast, func, insert, select, update

from lims.models import Container, Patient, Product, Protocol, QcResult, Signature, StepRecord
from lims.prepared import Prepared, PreparedByKeys, instance
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
_PRODUCT_FIELDS = tuple(c.name for c in P.columns)

# QC results that drew a volume (a result without one, or with none, drew nothing).
_DRAWN = (QC.c.superseded.is_(False), QC.c.sample_volume_ml.is_not(None),
          QC.c.sample_volume_ml != 0)
# The protocol as its stored text: the parsed parameters are kept per text (the database
# says which protocol is in force; a process only remembers how it parsed it).
_CONTEXT = Prepared(
    select(P, PA.c.subject_id, PA.c.mrn, PA.c.weight_kg,
           cast(PR.c.parameters, Text).label("parameters"),
           cast(PR.c.product_codes, Text).label("product_codes"),
           select(func.count()).where(QC.c.product_id == P.c.id, *_DRAWN)
           .scalar_subquery().label("qc_draws"))
    .join(PA, PA.c.id == P.c.patient_id).join(PR, PR.c.id == P.c.protocol_id)
    .where(P.c.din == bindparam("din")))
_FAMILY = Prepared(select(C).where(C.c.product_id == bindparam("pid")))
_RECORDS = Prepared(select(SR.c.step, SR.c["values"], SR.c.computed).where(
    SR.c.product_id == bindparam("pid"), _CURRENT))
_QC_DRAWS = Prepared(select(QC.c.sample_volume_ml).where(QC.c.product_id == bindparam("pid"),
                                                        *_DRAWN))
_RELEASED = Prepared(select(SG.c.signed_at).where(SG.c.product_id == bindparam("pid"),
                                                  SG.c.meaning == "Released"))
_MOVE = PreparedByKeys(update(P).where(P.c.id == bindparam("pid"),
                                       P.c.version == bindparam("old_version")))
_INSERT_RECORD = PreparedByKeys(insert(SR).returning(SR.c.id))
_INSERT_CONTAINER = PreparedByKeys(insert(C).returning(C.c.id))
_SET_CONTAINER = PreparedByKeys(update(C).where(C.c.id == bindparam("cid")))

Records = Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any]]]


@dataclass
class StepContextRow:
    """The product as one step sees it, with its patient and protocol.

    What the step's checks read of the product's containers and current step records is
    read once, on first use, and kept here for the rest of the same transaction."""

    product: Product
    subject_id: str
    mrn: str
    weight_kg: float
    params: ProtocolParameters
    product_codes: Mapping[str, str]
    qc_draws: int | None = None  # QC results that drew a volume; None: not read
    family: list[Container] | None = None
    records: Records | None = None


def load_context(conn: Connection, din: str) -> StepContextRow | None:
    row = _CONTEXT.first(conn, {"din": din})
    if row is None:
        return None
    product = instance(Product, {name: row[name] for name in _PRODUCT_FIELDS})
    params, codes = _protocol(row["parameters"], row["product_codes"])
    return StepContextRow(product=product, subject_id=row["subject_id"], mrn=row["mrn"],
                          weight_kg=row["weight_kg"], params=params, product_codes=codes,
                          qc_draws=row["qc_draws"])


def parameters(data: Mapping[str, Any]) -> ProtocolParameters:
    return _protocol(json.dumps(data, sort_keys=True), "{}")[0]


def protocol_from_text(parameters_text: str) -> ProtocolParameters:
    """The parameters of a protocol as the database holds them (JSON text), parsed once."""
    return _protocol(parameters_text, "{}")[0]


@lru_cache(maxsize=32)
def _protocol(parameters_text: str, codes_text: str,
              ) -> tuple[ProtocolParameters, Mapping[str, str]]:
    # Validating 40 parameters on every scan would cost more than the scan itself. Kept
    # by the text the database holds: another protocol (or an edited one) is parsed anew.
    return (ProtocolParameters.from_mapping(json.loads(parameters_text)),
            MappingProxyType(json.loads(codes_text)))


def family_of(conn: Connection, ctx: StepContextRow) -> list[Container]:
    """Every container of the product, read once per step."""
    if ctx.family is None:
        assert ctx.product.id is not None
        ctx.family = [instance(Container, row)
                      for row in _FAMILY.mappings(conn, {"pid": ctx.product.id})]
    return ctx.family


def records_of(conn: Connection, ctx: StepContextRow) -> Records:
    """The product's current step records as (step, values, computed), read once per step."""
    if ctx.records is None:
        assert ctx.product.id is not None
        ctx.records = _records(conn, ctx.product.id)
    return ctx.records


def _records(conn: Connection, product_id: int) -> Records:
    return [(step, values, computed)
            for step, values, computed in _RECORDS.rows(conn, {"pid": product_id})]


def containers_in_use(conn: Connection, product_id: int) -> list[Container]:
    return [instance(Container, row) for row in _FAMILY.mappings(conn, {"pid": product_id})
            if row["status"] == "in_use"]


def previous_results(conn: Connection, product_id: int) -> dict[str, Mapping[str, float]]:
    return {step: computed for step, _, computed in _records(conn, product_id)}


def earlier_times(conn: Connection, product_id: int, step: str,
                  specs: Mapping[str, StepSpec],
                  records: Records | None = None) -> list[ReportedTime]:
    """Every time the product's earlier steps reported, and its release once issued
    (`records`: the current records when already read)."""
    before = earlier_steps(step)
    if records is None:
        records = _records(conn, product_id)
    times = [t for name, values, _ in records
             if name in before for t in reported_times(specs[name], values)]
    if "formulate" in before:  # issue and administration follow QA's release
        times += [ReportedTime("QA's release", at) for (at,) in
                  _RELEASED.rows(conn, {"pid": product_id})]
    return times


def step_context(conn: Connection, ctx: StepContextRow) -> StepContext:
    """What a step of this product knows beyond its own form: the earlier steps' results
    and what each container filled so far holds (for the balance and carried inputs)."""
    product = ctx.product
    assert product.id is not None
    records = {step: (values, computed) for step, values, computed in records_of(conn, ctx)}
    if ctx.family is None and ctx.qc_draws is None:
        return context_of(ctx, records, drawn_volumes(conn, product.id))
    family = family_of(conn, ctx)
    results = _qc_draws(conn, product.id) if ctx.qc_draws != 0 else []
    return context_of(ctx, records, _drawn(family, results))


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
    family = [instance(Container, row) for row in _FAMILY.mappings(conn, {"pid": product_id})]
    return _drawn(family, _qc_draws(conn, product_id))


def _qc_draws(conn: Connection, product_id: int) -> list[float]:
    return [v for (v,) in _QC_DRAWS.rows(conn, {"pid": product_id})]


def _drawn(family: Iterable[Container], results: list[float]) -> dict[ContainerKind, float]:
    kinds = {c.id: c.kind for c in family}
    drawn: dict[ContainerKind, float] = {}
    for c in family:
        parent = kinds.get(c.parent_id)
        if parent is None or not c.volume_ml or c.kind in _STEP_PRODUCTS:
            continue
        drawn[ContainerKind(parent)] = drawn.get(ContainerKind(parent), 0.0) + c.volume_ml
    # QC results' samples come out of those drawn at formulation first, then the product.
    final = ContainerKind.FINAL_PRODUCT
    unmeasured = any(c.kind == ContainerKind.QC_SAMPLE.value and c.volume_ml is None
                     for c in family)
    if results:
        drawn[final] = drawn_from_final(None if unmeasured else drawn.get(final, 0.0),
                                        results)
    return drawn


def move_product(conn: Connection, product_id: int, old_version: int,
                 changes: Mapping[str, Any]) -> bool:
    """Write the new state if nobody else did since it was read (optimistic lock)."""
    return _MOVE(changes).execute(conn, {**changes, "pid": product_id,
                                         "old_version": old_version}) == 1


def insert_record(conn: Connection, record: Mapping[str, Any]) -> int:
    return int(_INSERT_RECORD(record).scalar(conn, record))


def insert_containers(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    return [int(_INSERT_CONTAINER(row).scalar(conn, row)) for row in rows]


def set_container(conn: Connection, container_id: int, **values: Any) -> None:
    _SET_CONTAINER(values).execute(conn, {**values, "cid": container_id})


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
