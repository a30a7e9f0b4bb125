"""Product, container, step-record and QC-result rows reconciled with their events.

Both ways: every row must match the events that wrote it, and every event's row must
still exist. A QC result's pass/fail judgement is recomputed from the product's
specification version and the result value, never taken from the row (a result judged
again after a step correction, on the formulation current when it was written).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from lims.audit import content_hash
from lims.audit_actions import AuditAction as A
from lims.models import Container, Patient, Product, QcResult, StepRecord
from lims.services.audit_trail_index import Trail
from lims.services.qc import qc_content
from lims.services.specifications import specification_of
from lims.services.state_replay import Replayed
from lims.services.steps import step_content
from lims.services.verdicts import Problem, missing_row, unaudited_row
from workflows.identity import ContainerKind
from workflows.specifications import Specification, judge, parse_result


def reconcile_products(session: Session, trail: Trail,
                       replayed: dict[str, Replayed]) -> list[Problem]:
    problems: list[Problem] = []
    patients = {p.id: p.subject_id for p in session.exec(select(Patient))}
    created = trail.first(A.PRODUCT_CREATED, field="patient")
    rows = list(session.exec(select(Product)))
    for product in rows:
        where = f"product {product.din}"
        history = replayed.get(product.din)
        if history is None:
            problems.append(unaudited_row(where, A.PRODUCT_CREATED))
            continue
        for name in ("state", "held_from", "suspended_from"):
            expected, found = getattr(history, name), getattr(product, name)
            if expected != found:
                problems.append(Problem(where, name, f"{expected} (from its audit history)",
                                        str(found)))
        event = created.get(product.din)
        audited = event.new_json().get("patient_id") if event else None
        if audited != product.patient_id:
            problems.append(Problem(
                where, "patient",
                f"patient {patients.get(audited, audited)} (recorded when the harvest was "
                f"scheduled{f', event {event.seq}' if event else ''})",
                f"patient {patients.get(product.patient_id, product.patient_id)}"))
    present = {p.din for p in rows}
    problems += [missing_row(f"product {e.entity_id}", e.seq, e.action)
                 for e in trail.first(A.PRODUCT_CREATED).values() if e.entity_id not in present]
    return problems


def reconcile_containers(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    dins = {p.id: p.din for p in session.exec(select(Product))}
    created = trail.first(A.CONTAINER_CREATED)
    seen = set()
    for container in session.exec(select(Container)):
        ref = f"{dins.get(container.product_id)}/{container.product_code}/{container.flags}"
        where = f"container {ref} (id {container.id})"
        seen.add(ref)
        event = created.get(ref)
        if event is None:
            problems.append(unaudited_row(where, A.CONTAINER_CREATED))
        elif event.new != container.kind:
            problems.append(Problem(where, "kind", f"{event.new} (event {event.seq})",
                                    container.kind))
    problems += [missing_row(f"container {ref}", e.seq, e.action)
                 for ref, e in created.items() if ref not in seen]
    return problems


def reconcile_steps(session: Session, trail: Trail) -> list[Problem]:
    """Each step record against the event that wrote it: a step's record against its
    `step_recorded` event (with the state change just before), a correction's against its
    `step_corrected` event (naming the record it corrects). A superseded record and its
    correction are consistent; a record superseded by nothing, or corrected but still
    current, is not."""
    problems: list[Problem] = []
    recorded = trail.first(A.STEP_RECORDED)
    changes = {e.seq: e for e in trail.of(A.STATE_CHANGED)}
    dins = {p.id: p.din for p in session.exec(select(Product))}
    records = list(session.exec(select(StepRecord)))
    seen = set()
    for record in records:
        seen.add(str(record.id))
        if record.corrects_id is not None:
            continue
        where = f"step record {record.id} ({record.step})"
        event = recorded.get(str(record.id))
        if event is None:
            problems.append(unaudited_row(where, A.STEP_RECORDED))
            continue
        actual = content_hash(step_content(record))
        if actual != event.new:
            problems.append(Problem(where, "content", f"content hashing to {_short(event.new)} "
                                    f"(event {event.seq})", f"content hashing to "
                                    f"{_short(actual)}: its values, computed figures or "
                                    "findings were changed"))
        elif actual != record.content_hash:
            problems.append(Problem(where, "stored hash", f"{_short(actual)} (of its content)",
                                    _short(record.content_hash)))
        change = changes.get(event.seq - 1)  # a step's state change is written just before
        for what, expected, found, said_by in (
                ("step", event.field, record.step, f"event {event.seq}"),
                ("operator (user id)", event.user_id, record.operator_id, f"event {event.seq}"),
                ("product", change.entity_id if change else None,
                 dins.get(record.product_id), f"event {event.seq - 1}")):
            if expected != found:
                problems.append(Problem(where, what, f"{expected} ({said_by})", str(found)))
    problems += [missing_row(f"step record {key} ({e.field})", e.seq, e.action)
                 for key, e in recorded.items() if key not in seen]
    return problems + reconcile_corrections(records, trail)


def reconcile_corrections(records: list[StepRecord], trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    corrected = trail.first(A.STEP_CORRECTED)
    by_id = {r.id: r for r in records}
    corrected_ids = {r.corrects_id for r in records if r.corrects_id is not None}
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
        old = by_id.get(record.corrects_id)
        actual = content_hash(step_content(record))
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
    present = {str(r.id) for r in records}
    problems += [missing_row(f"step record {key} ({e.field})", e.seq, e.action)
                 for key, e in corrected.items() if key not in present]
    return problems


def reconcile_qc(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    written = trail.first(A.QC_RESULT, A.QC_CORRECTED, A.QC_REJUDGED)
    verified = trail.first(A.QC_VERIFIED)
    judges = _Judges(session)
    seen = set()
    for row in session.exec(select(QcResult)):
        where = f"QC result {row.id} ({row.test})"
        seen.add(str(row.id))
        event = written.get(str(row.id))
        if event is None:
            problems.append(unaudited_row(where, A.QC_RESULT))
            continue
        actual = content_hash(qc_content(row))
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
        if (row.verified_at is not None) != (str(row.id) in verified):
            problems.append(Problem(where, "verification",
                                    "verified" if str(row.id) in verified else "not verified",
                                    "verified" if row.verified_at else "not verified"))
    problems += [missing_row(f"QC result {key} ({e.field})", e.seq, e.action)
                 for key, e in written.items() if key not in seen]
    return problems


def _short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else str(digest)


def _verdict(passed: bool | str | None) -> str:
    if isinstance(passed, str):
        return passed
    return {True: "passed", False: "failed", None: "pending"}[passed]


class _Judges:
    """A QC value judged as the QC service judged it, per product (spec, weight, volume)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.products = {p.id: p for p in session.exec(select(Product))}
        self.weights = {p.id: p.weight_kg for p in session.exec(select(Patient))}
        self.volumes: dict[int, float | None] = {}
        self.specifications: dict[tuple[int | None, int, str], Specification] = {}
        for container in session.exec(select(Container).where(
                Container.kind == ContainerKind.FINAL_PRODUCT).order_by(col(Container.id))):
            self.volumes.setdefault(container.product_id, container.volume_ml)
        # The formulation records of each product, oldest first: a result was judged on the
        # weight and volume of the formulation current when it was entered.
        self.formulations: dict[int, list[StepRecord]] = {}
        for record in session.exec(select(StepRecord).where(
                StepRecord.step == "formulate").order_by(col(StepRecord.id))):
            self.formulations.setdefault(record.product_id, []).append(record)

    def _basis(self, row: QcResult, product: Product) -> tuple[float, float | None]:
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

    def judge(self, row: QcResult) -> bool | str | None:
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
