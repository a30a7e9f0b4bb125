"""Which labels are due: the containers in use whose current label is unprinted, or printed
and not yet scanned back (the worklist's and the product page's next action, the
scan box's scan-back).

The worklist asks this of every product in process on every load, so it is read with
prepared statements (lims.prepared) whose text never changes: one for the containers with
the latest print of each label kind, one for the prints a correction superseded (recorded
in the audit trail), one per protocol for its parameters. They are read from the
connection, as every Core read is: the caller has flushed what it changed.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, bindparam, cast, func, literal_column
from sqlalchemy import select as core_select
from sqlmodel import Session

from labels import LabelKind
from lims.audit_actions import AuditAction
from lims.models import AuditEvent, Container, PrintJob, Product, Protocol
from lims.prepared import Prepared, instance
from lims.services.label_content import current_label_kind
from lims.services.label_generations import container_ref_sql
from lims.services.step_store import protocol_from_text
from workflows.errors import NotFound
from workflows.identity import ContainerKind
from workflows.product import FINAL_STATES, ProductState
from workflows.protocol import ProtocolParameters

_C: Table = Container.__table__  # type: ignore[attr-defined]
_P: Table = Product.__table__  # type: ignore[attr-defined]
_J: Table = PrintJob.__table__  # type: ignore[attr-defined]
_A: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_PR: Table = Protocol.__table__  # type: ignore[attr-defined]
_CONTAINER_FIELDS = tuple(c.name for c in _C.columns)


@dataclass(frozen=True)
class PendingLabel:
    """A container in use whose current label is not yet printed, or not yet scanned back."""

    container: Container
    kind: LabelKind
    printed: bool


def _in_process() -> ColumnElement[bool]:
    # The states written into the statement (our own words, no quoting needed): a bound
    # list would make its text change, and the statement could not be prepared.
    states = sorted(s.value for s in ProductState if s not in FINAL_STATES)
    assert all(s.replace("_", "").isalpha() for s in states)
    return _P.c.state.in_([literal_column(f"'{s}'") for s in states])


def _containers(which: ColumnElement[bool]) -> Prepared:
    """In-use containers of the products `which` selects, with their product's facts and
    the latest print of each label kind: one row per container and kind printed (one
    with no kind when never printed), in container id order."""
    return Prepared(
        core_select(_C, _P.c.din, _P.c.state.label("product_state"), _P.c.held_from,
                    _P.c.protocol_id, _J.c.label_kind, func.max(_J.c.id).label("latest"))
        .join_from(_C, _P, _P.c.id == _C.c.product_id)
        .outerjoin(_J, _J.c.container_id == _C.c.id)
        .where(_C.c.status == "in_use", which)
        .group_by(_C.c.id, _P.c.id, _J.c.label_kind).order_by(_C.c.id, _J.c.label_kind))


def _superseded(which: ColumnElement[bool]) -> Prepared:
    """The supersessions recorded against in-use containers of the products `which`
    selects (the audit entity of a container is DIN/product code/flags)."""
    refs = (core_select(container_ref_sql())
            .join_from(_C, _P, _P.c.id == _C.c.product_id)
            .where(_C.c.status == "in_use", which))
    return Prepared(core_select(_A.c.entity_id, _A.c.old_value).where(
        _A.c.action == AuditAction.LABEL_SUPERSEDED.value, _A.c.entity == "container",
        _A.c.entity_id.in_(refs)))


_IN_PROCESS = _in_process()
_ONE = _P.c.id == bindparam("pid")
_CONTAINERS_IN_PROCESS, _CONTAINERS_OF = _containers(_IN_PROCESS), _containers(_ONE)
_SUPERSEDED_IN_PROCESS, _SUPERSEDED_OF = _superseded(_IN_PROCESS), _superseded(_ONE)
_PARAMETERS = Prepared(core_select(cast(_PR.c.parameters, Text))
                       .where(_PR.c.id == bindparam("pid")))


def pending_labels_of(session: Session, product_id: int) -> list[PendingLabel]:
    """The pending labels of one product (none once it is final)."""
    conn = session.connection()
    rows = _CONTAINERS_OF.mappings(conn, {"pid": product_id})
    if not rows or rows[0]["product_state"] in FINAL_STATES:
        return []
    return _pending(session, rows, _SUPERSEDED_OF.rows(conn, {"pid": product_id})).get(
        product_id, [])


def pending_labels_many(session: Session,
                        product_ids: Collection[int]) -> dict[int, list[PendingLabel]]:
    """`pending_labels_of` many products at once (the worklist's): product id -> its
    pending labels, in container id order; a product with none (or final) is left out.

    Read for every product in process (a lab's bench: a few hundred at most) with the
    same three statements whatever the products asked for, then kept to those."""
    wanted = set(product_ids)
    if not wanted:
        return {}
    conn = session.connection()
    rows = [row for row in _CONTAINERS_IN_PROCESS.mappings(conn, {})
            if row["product_id"] in wanted]
    if not rows:
        return {}
    return _pending(session, rows, _SUPERSEDED_IN_PROCESS.rows(conn, {}))


def pending_labels_read(session: Session, product: Product, containers: Collection[Container],
                        prints: Collection[PrintJob]) -> list[PendingLabel]:
    """`pending_labels_of` a product whose containers and print jobs the caller has just
    read (the product page), without reading them again."""
    if product.state in FINAL_STATES or product.id is None:
        return []
    facts = {"din": product.din, "product_state": product.state,
             "held_from": product.held_from, "protocol_id": product.protocol_id}
    latest: dict[tuple[int, str], int] = {}
    for job in prints:
        if job.id is not None:
            key = (job.container_id, job.label_kind)
            latest[key] = max(latest.get(key, 0), job.id)
    rows: list[dict[str, Any]] = []
    for container in sorted(containers, key=lambda c: c.id or 0):
        if container.status != "in_use":
            continue
        base = {**container.model_dump(), **facts, "label_kind": None, "latest": None}
        kinds = sorted(kind for cid, kind in latest if cid == container.id)
        rows.extend({**base, "label_kind": k, "latest": latest[(container.id or 0, k)]}
                    for k in kinds)
        if not kinds:
            rows.append(base)
    if not rows:
        return []
    return _pending(session, rows, _SUPERSEDED_OF.rows(session.connection(),
                                                       {"pid": product.id})).get(product.id, [])


def _pending(session: Session, rows: Sequence[Mapping[str, Any]],
             supersessions: Sequence[tuple[Any, ...]]) -> dict[int, list[PendingLabel]]:
    """The pending labels of in-use containers given as rows of `_containers` (container
    id order), and the supersessions recorded against them."""
    superseded: dict[str, set[int]] = {}  # container ref -> print job ids superseded
    for ref, old in supersessions:
        job = json.loads(old or "{}").get("print_job")
        if isinstance(job, int):
            superseded.setdefault(ref, set()).add(job)
    params: dict[int, ProtocolParameters] = {}
    latest: dict[int, dict[str, int]] = {}  # container id -> label kind -> latest print
    containers: dict[int, Mapping[str, Any]] = {}
    for row in rows:
        containers.setdefault(row["id"], row)
        if row["label_kind"] is not None:
            latest.setdefault(row["id"], {})[row["label_kind"]] = row["latest"]
    found: dict[int, list[PendingLabel]] = {}
    for cid, row in containers.items():
        if row["protocol_id"] not in params:
            params[row["protocol_id"]] = _parameters(session, row["protocol_id"])
        # A held product keeps the label of the state it was held from (LabelSubject.state).
        state = (row["held_from"] if row["product_state"] == ProductState.ON_HOLD
                 and row["held_from"] else row["product_state"])
        kind = current_label_kind(ContainerKind(row["kind"]), state, params[row["protocol_id"]])
        # A print a correction superseded no longer counts: the label is due again.
        current = latest.get(cid, {}).get(kind.value)
        ref = f"{row['din']}/{row['product_code']}/{row['flags']}"  # container_ref
        printed = current is not None and current not in superseded.get(ref, set())
        if not printed or row["label_verified_at"] is None:
            container = instance(Container, {name: row[name] for name in _CONTAINER_FIELDS})
            found.setdefault(row["product_id"], []).append(PendingLabel(container, kind,
                                                                        printed))
    return found


def _parameters(session: Session, protocol_id: int) -> ProtocolParameters:
    text = _PARAMETERS.scalar(session.connection(), {"pid": protocol_id})
    if text is None:
        raise NotFound(f"no protocol {protocol_id}")
    return protocol_from_text(text)
