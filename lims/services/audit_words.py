"""The records an audit trail names, in the lab's words ("RBC sedimentation record",
"Final product of DIN X9999 26 000003", "Endotoxin result"), for the audit viewer.

Events name a record by its table and id ("step_record", "12"): the machine record that
the export keeps. A person reads what the record is; the number stays beside it so the
inspector can still match the export line for line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from lims.models import Container, Product, QcResult, StepRecord, User
from lims.services.audit_query import AuditLine
from workflows.identity import container_words
from workflows.isbt128 import parse_din
from workflows.registry import find
from workflows.specifications import QC_TESTS
from workflows.words import action_words, field_words

# Records named by a noun and their own id (a lot number, an equipment ID, a subject ID).
_NOUNS: Mapping[str, str] = {
    "product": "Product", "patient": "Patient", "deviation": "Deviation", "alert": "Alert",
    "notification": "Notification", "equipment": "Equipment", "reagent_lot": "Reagent lot",
    "protocol": "Protocol", "specification_set": "Specification set",
    "signature": "Signature", "qc_result": "QC result", "step_record": "Step record",
    "container": "Container", "user": "User account",
    "review_acknowledgement": "QA review acknowledgement"}


@dataclass(frozen=True)
class RecordName:
    """What a record is (`what`) and its number or identifier (`ident`, may be empty)."""

    what: str
    ident: str = ""


@dataclass(frozen=True)
class LineWords:
    """An event's record and field as people read them."""

    record: RecordName
    field: str


def line_words(session: Session, lines: Iterable[AuditLine]) -> dict[int, LineWords]:
    """The record and field of every line in words, keyed by the event's number."""
    lines = list(lines)
    keys = {(line.entity, line.entity_id) for line in lines}
    ids: dict[str, list[str]] = {}
    for entity, ident in keys:
        ids.setdefault(entity, []).append(ident)
    steps = _by_id(session, StepRecord, ids.get("step_record", []), "step")
    tests = _by_id(session, QcResult, ids.get("qc_result", []), "test")
    kinds = _container_kinds(session, ids.get("container", []))
    names = {u.username: u.full_name for u in session.exec(select(User).where(
        col(User.username).in_(ids.get("user", []))))} if ids.get("user") else {}
    records = {key: _record(*key, steps, tests, kinds, names) for key in keys}
    return {line.seq: LineWords(records[(line.entity, line.entity_id)],
                                _field(line, steps.get(line.entity_id)
                                       if line.entity == "step_record" else None))
            for line in lines}


def _record(entity: str, ident: str, steps: Mapping[str, str], tests: Mapping[str, str],
            kinds: Mapping[str, str], names: Mapping[str, str]) -> RecordName:
    if entity == "step_record" and ident in steps:
        return RecordName(f"{action_words(steps[ident])} record", f"no. {ident}")
    if entity == "qc_result" and ident in tests:
        test = tests[ident]
        label = QC_TESTS[test].label if test in QC_TESTS else field_words(test)
        return RecordName(f"{label} result", f"no. {ident}")
    if entity == "container" and ident in kinds:
        din = ident.split("/", 1)[0]
        kind = container_words(kinds[ident])  # "RBC-reduced bag": keep its capitals
        return RecordName(kind[:1].upper() + kind[1:], f"DIN {_eye(din)}")
    if entity == "user":  # its id is the user name: people read the printed name
        return RecordName("User account", names.get(ident, "of a removed user"))
    if entity == "product":
        return RecordName("Product", f"DIN {_eye(ident)}")
    return RecordName(_NOUNS.get(entity, field_words(entity)), ident)


def _field(line: AuditLine, step: str | None) -> str:
    """The recorded field in words: a step's value by its registry label."""
    if not line.field:
        return ""
    if step is not None:
        if line.field == step:  # a step record's event names its step in the field
            return ""
        known = find(step, line.field)
        if known is not None:
            return known.label
    return field_words(line.field)


def _by_id(session: Session, model: type[StepRecord] | type[QcResult], ids: list[str],
           attribute: str) -> dict[str, str]:
    """The `attribute` (the step, the test) of each row of `model` by its id as text."""
    numbers = [int(i) for i in ids if i.isdigit() and len(i) < 10]
    if not numbers:
        return {}
    key, value = model.id, getattr(model, attribute)
    rows = session.exec(select(key, value).where(col(key).in_(numbers)))
    return {str(row_id): str(found) for row_id, found in rows}


def _container_kinds(session: Session, refs: list[str]) -> dict[str, str]:
    """Container refs ("DIN/product code/flags") to the containers' kinds."""
    dins = {ref.split("/", 1)[0] for ref in refs}
    if not dins:
        return {}
    rows = session.exec(select(Product.din, Container.product_code, Container.flags,
                               Container.kind).join(
        Product, col(Product.id) == col(Container.product_id)).where(col(Product.din).in_(dins)))
    return {f"{din}/{code}/{flags}": kind for din, code, flags, kind in rows}


def _eye(din: str) -> str:
    """The DIN as its label prints it; a stored id that is no DIN as it is."""
    try:
        return parse_din(din).eye_readable()
    except ValueError:
        return din
