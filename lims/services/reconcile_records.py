"""Product, container, step-record and QC-result rows reconciled with their events.

Both ways: every row must match the events that wrote it, and every event's row must
still exist. A QC result's pass/fail judgement is recomputed from the product's
specification version and the result value, never taken from the row (a result judged
again after a step correction, on the formulation current when it was written).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, or_
from sqlmodel import Session, col, select

from lims.audit import content_hash
from lims.audit_actions import AuditAction as A
from lims.models import Container, Patient, Product, QcResult, StepRecord
from lims.services.audit_trail_index import Event, Present, Trail
from lims.services.common import chunks_of, ids_present, rows_by_id
from lims.services.qc import qc_content
from lims.services.specifications import specification_of
from lims.services.state_replay import Replayed
from lims.services.steps import step_content
from lims.services.verdicts import Problem, missing_row, unaudited_row
from lims.sql_lists import one_of
from workflows.identity import ContainerKind
from workflows.specifications import Specification, judge, parse_result


def reconcile_products(session: Session, trail: Trail,
                       replayed: dict[str, Replayed]) -> list[Problem]:
    problems: list[Problem] = []
    patients = dict(session.exec(select(Patient.id, Patient.subject_id)).all())
    for rows in chunks_of(session, _PRODUCT, trail.chunk):
        created = trail.first_for({p.din for p in rows}, A.PRODUCT_CREATED, field="patient")
        for product in rows:
            problems += _product_problems(product, replayed.get(product.din),
                                          created.get(product.din), patients)
    problems += [missing_row(f"product {e.entity_id}", e.seq, e.action)
                 for e in trail.unmatched(_dins_present(session), A.PRODUCT_CREATED)]
    return problems


# The columns each check compares (plain rows, no ORM objects); the id first.
_PRODUCT = (col(Product.id), col(Product.din), col(Product.state), col(Product.held_from),
            col(Product.suspended_from), col(Product.patient_id))
_CONTAINER = (col(Container.id), col(Container.product_id), col(Container.product_code),
              col(Container.flags), col(Container.kind))
# What step_content hashes, and what the record is checked against.
_STEP = (col(StepRecord.id), col(StepRecord.product_id), col(StepRecord.step),
         col(StepRecord.values), col(StepRecord.computed), col(StepRecord.findings),
         col(StepRecord.operator_id), col(StepRecord.content_hash), col(StepRecord.superseded),
         col(StepRecord.corrects_id), col(StepRecord.reason))
_QC = (col(QcResult.id), col(QcResult.product_id), col(QcResult.test), col(QcResult.value),
       col(QcResult.passed), col(QcResult.content_hash), col(QcResult.entered_at),
       col(QcResult.verified_at))


def _product_problems(product: Row[Any], history: Replayed | None, event: Event | None,
                      patients: dict[int | None, str]) -> list[Problem]:
    where = f"product {product.din}"
    if history is None:
        return [unaudited_row(where, A.PRODUCT_CREATED)]
    problems = []
    for name in ("state", "held_from", "suspended_from"):
        expected, found = getattr(history, name), getattr(product, name)
        if expected != found:
            problems.append(Problem(where, name, f"{expected} (from its audit history)",
                                    str(found)))
    audited = event.new_json().get("patient_id") if event else None
    if audited != product.patient_id:
        problems.append(Problem(
            where, "patient",
            f"patient {patients.get(audited, audited)} (recorded when the harvest was "
            f"scheduled{f', event {event.seq}' if event else ''})",
            f"patient {patients.get(product.patient_id, product.patient_id)}"))
    return problems


def _dins(session: Session) -> dict[int | None, str]:
    """Each product's DIN by its id (two short strings a product, not its row)."""
    return dict(session.exec(select(Product.id, Product.din)).all())


def _dins_present(session: Session) -> Present:
    def present(keys: set[str]) -> set[str]:
        return set(session.exec(select(Product.din).where(one_of(col(Product.din), sorted(keys)))))
    return present


def reconcile_containers(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    dins = _dins(session)
    for containers in chunks_of(session, _CONTAINER, trail.chunk):
        refs = {c.id: f"{dins.get(c.product_id)}/{c.product_code}/{c.flags}"
                for c in containers}
        created = trail.first_for(set(refs.values()), A.CONTAINER_CREATED)
        for container in containers:
            where = f"container {refs[container.id]} (id {container.id})"
            event = created.get(refs[container.id])
            if event is None:
                problems.append(unaudited_row(where, A.CONTAINER_CREATED))
            elif event.new != container.kind:
                problems.append(Problem(where, "kind", f"{event.new} (event {event.seq})",
                                        container.kind))
    problems += [missing_row(f"container {e.entity_id}", e.seq, e.action)
                 for e in trail.unmatched(_refs_present(session, dins), A.CONTAINER_CREATED)]
    return problems


def _refs_present(session: Session, dins: dict[int | None, str]) -> Present:
    """Container references ("DIN/product code/flags") of containers that exist, looked up
    by the DINs they name (a container whose product is gone is named "None/...")."""
    ids = {din: product_id for product_id, din in dins.items()}

    def present(keys: set[str]) -> set[str]:
        named = {key.split("/", 1)[0] for key in keys}
        owners = sorted(ids[din] or 0 for din in named if din in ids)
        query = select(Container.product_id, Container.product_code, Container.flags)
        where: ColumnElement[bool] = one_of(col(Container.product_id), owners)
        if "None" in named:  # containers of no product: their product id is not a product's
            where = or_(where, col(Container.product_id).not_in(
                sorted(i for i in dins if i is not None)))
        return {f"{dins.get(product_id)}/{code}/{flags}"
                for product_id, code, flags in session.exec(query.where(where))} & keys
    return present


def reconcile_steps(session: Session, trail: Trail) -> list[Problem]:
    """Each step record against the event that wrote it: a step's record against its
    `step_recorded` event (with the state change just before), a correction's against its
    `step_corrected` event (naming the record it corrects). A superseded record and its
    correction are consistent; a record superseded by nothing, or corrected but still
    current, is not. A chunk of records (and their events) at a time."""
    problems: list[Problem] = []
    corrections: list[Problem] = []
    dins = _dins(session)
    corrected_ids = set(session.exec(select(StepRecord.corrects_id).where(
        col(StepRecord.corrects_id).is_not(None))))
    for records in chunks_of(session, _STEP, trail.chunk):
        recorded = trail.first_for({str(r.id) for r in records if r.corrects_id is None},
                                   A.STEP_RECORDED)
        # a step's state change is written just before it
        changes = trail.at({e.seq - 1 for e in recorded.values()}, A.STATE_CHANGED)
        for record in records:
            if record.corrects_id is None:
                problems += _step_problems(record, recorded.get(str(record.id)), changes,
                                           dins)
        corrections += _correction_problems(session, records, corrected_ids, trail)
    present = ids_present(session, StepRecord)
    problems += [missing_row(f"step record {e.entity_id} ({e.field})", e.seq, e.action)
                 for e in trail.unmatched(present, A.STEP_RECORDED)]
    corrections += [missing_row(f"step record {e.entity_id} ({e.field})", e.seq, e.action)
                    for e in trail.unmatched(present, A.STEP_CORRECTED)]
    return problems + corrections


def _hash_of_step(record: Row[Any]) -> str:
    """step_content's hash, of a row holding the columns it reads."""
    return content_hash(step_content(cast(StepRecord, record)))


def _step_problems(record: Row[Any], event: Event | None, changes: dict[int, Event],
                   dins: dict[int | None, str]) -> list[Problem]:
    where = f"step record {record.id} ({record.step})"
    if event is None:
        return [unaudited_row(where, A.STEP_RECORDED)]
    problems = []
    actual = _hash_of_step(record)
    if actual != event.new:
        problems.append(Problem(where, "content", f"content hashing to {_short(event.new)} "
                                f"(event {event.seq})", f"content hashing to "
                                f"{_short(actual)}: its values, computed figures or "
                                "findings were changed"))
    elif actual != record.content_hash:
        problems.append(Problem(where, "stored hash", f"{_short(actual)} (of its content)",
                                _short(record.content_hash)))
    change = changes.get(event.seq - 1)
    for what, expected, found, said_by in (
            ("step", event.field, record.step, f"event {event.seq}"),
            ("operator (user id)", event.user_id, record.operator_id, f"event {event.seq}"),
            ("product", change.entity_id if change else None,
             dins.get(record.product_id), f"event {event.seq - 1}")):
        if expected != found:
            problems.append(Problem(where, what, f"{expected} ({said_by})", str(found)))
    return problems


def _correction_problems(session: Session, records: Sequence[Row[Any]],
                         corrected_ids: set[int | None], trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    fixes = [r for r in records if r.corrects_id is not None]
    corrected = trail.first_for({str(r.id) for r in fixes}, A.STEP_CORRECTED)
    olds = _corrected_records(session, {r.corrects_id or 0 for r in fixes})
    for record in records:
        where = f"step record {record.id} ({record.step})"
        if record.superseded != (record.id in corrected_ids):
            problems.append(Problem(
                where, "superseded", "superseded" if record.id in corrected_ids else
                "current (no record corrects it)", str(record.superseded).lower()))
        if record.corrects_id is None:
            continue
        event = corrected.get(str(record.id))
        if event is None:
            problems.append(unaudited_row(where, A.STEP_CORRECTED))
            continue
        old = olds.get(record.corrects_id)
        actual = _hash_of_step(record)
        for what, expected, found in (
                ("content", event.new, actual),
                ("stored hash", actual, record.content_hash),
                ("record corrected", event.old, str(record.corrects_id)),
                ("reason", event.reason, record.reason),
                ("step", event.field, record.step),
                ("operator (user id)", event.user_id, record.operator_id),
                ("product", old.product_id if old else None, record.product_id),
                ("step of the corrected record", old.step if old else None, record.step)):
            if expected != found:
                problems.append(Problem(where, what, f"{_short(str(expected))} (event "
                                        f"{event.seq})", _short(str(found))))
    return problems


def _corrected_records(session: Session, ids: set[int]) -> dict[int, Any]:
    """The product and step of the records these corrections correct, by id."""
    if not ids:
        return {}
    query = select(col(StepRecord.id), col(StepRecord.product_id), col(StepRecord.step))
    return {row.id: row for row in session.connection().execute(
        query.where(one_of(col(StepRecord.id), sorted(ids))))}


def reconcile_qc(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    written_by = (A.QC_RESULT, A.QC_CORRECTED, A.QC_REJUDGED)
    specifications: dict[tuple[int | None, int, str], Specification] = {}
    for rows in chunks_of(session, _QC, trail.chunk):
        keys = {str(row.id) for row in rows}
        written = trail.first_for(keys, *written_by)
        verified = trail.first_for(keys, A.QC_VERIFIED)
        judges = _Judges(session, {row.product_id for row in rows}, specifications)
        for row in rows:
            problems += _qc_problems(row, written.get(str(row.id)), str(row.id) in verified,
                                     judges)
    problems += [missing_row(f"QC result {e.entity_id} ({e.field})", e.seq, e.action)
                 for e in trail.unmatched(ids_present(session, QcResult), *written_by)]
    return problems


def _qc_problems(row: Row[Any], event: Event | None, verified: bool,
                 judges: _Judges) -> list[Problem]:
    where = f"QC result {row.id} ({row.test})"
    if event is None:
        return [unaudited_row(where, A.QC_RESULT)]
    problems = []
    actual = content_hash(qc_content(cast(QcResult, row)))  # a row of the columns it reads
    if (event.field, event.new) != (row.test, row.value):
        problems.append(Problem(where, "value", f"{event.field} = {event.new} "
                                f"(event {event.seq})", f"{row.test} = {row.value}"))
    elif actual != row.content_hash:
        problems.append(Problem(where, "stored hash", f"{_short(actual)} (of its content)",
                                _short(row.content_hash)))
    judged = judges.judge(row)
    if judged != row.passed:
        problems.append(Problem(where, "pass/fail", f"{_verdict(judged)} (judged against "
                                "its specification)", _verdict(row.passed)))
    if (row.verified_at is not None) != verified:
        problems.append(Problem(where, "verification",
                                "verified" if verified else "not verified",
                                "verified" if row.verified_at else "not verified"))
    return problems


def _short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else str(digest)


def _verdict(passed: bool | str | None) -> str:
    if isinstance(passed, str):
        return passed
    return {True: "passed", False: "failed", None: "pending"}[passed]


class _Judges:
    """A QC value judged as the QC service judged it, per product (spec, weight, volume):
    what the products of one chunk of results need, and the specifications built so far."""

    def __init__(self, session: Session, product_ids: set[int],
                 specifications: dict[tuple[int | None, int, str], Specification]) -> None:
        self.session = session
        self.products = rows_by_id(session, Product, product_ids)
        owners = sorted(self.products)
        patients = {p.patient_id for p in self.products.values()}
        self.weights = dict(session.exec(select(Patient.id, Patient.weight_kg).where(
            one_of(col(Patient.id), sorted(patients)))).all())
        self.volumes: dict[int, float | None] = {}
        self.specifications = specifications
        read = session.connection().execute
        for product_id, volume in read(select(col(Container.product_id), col(Container.volume_ml))
                                       .where(Container.kind == ContainerKind.FINAL_PRODUCT,
                                              one_of(col(Container.product_id), owners))
                                       .order_by(col(Container.id))):
            self.volumes.setdefault(product_id, volume)
        # The formulation records of each product, oldest first: a result was judged on the
        # weight and volume of the formulation current when it was entered.
        self.formulations: dict[int, list[Row[Any]]] = {}
        for record in read(select(col(StepRecord.product_id), col(StepRecord.performed_at),
                                  col(StepRecord.values))
                           .where(StepRecord.step == "formulate",
                                  one_of(col(StepRecord.product_id), owners))
                           .order_by(col(StepRecord.id))):
            self.formulations.setdefault(record.product_id, []).append(record)

    def _basis(self, row: Row[Any], product: Product) -> tuple[float, float | None]:
        """Body weight and final volume the QC service judged the result on."""
        weight = self.weights.get(product.patient_id, 0.0)
        volume = self.volumes.get(product.id or 0)
        known = [r for r in self.formulations.get(row.product_id, [])
                 if r.performed_at <= row.entered_at]
        if known:
            values = known[-1].values
            weight = _positive(values.get("weight_kg")) or weight
            volume = _positive(values.get("final_volume_ml")) or volume
        return weight, volume

    def _specification(self, product: Product) -> Specification:
        """specification_of, built once per specification set (a million QC results)."""
        key = (product.specification_set_id, product.protocol_id, product.arm)
        if key not in self.specifications:
            self.specifications[key] = specification_of(self.session, product)[0]
        return self.specifications[key]

    def judge(self, row: Row[Any]) -> bool | str | None:
        product = self.products.get(row.product_id)
        if product is None:
            return "no product to judge it against"
        try:
            spec = self._specification(product)
            result = parse_result(row.test, row.value)
        except ValueError as error:
            return f"not a valid result: {error}"
        weight, volume = self._basis(row, product)
        return judge(row.test, result, spec, weight_kg=weight, volume_ml=volume)


def _positive(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None
