"""A product's records as pages show them, read with prepared statements (lims.prepared).

The product page reads a dozen kinds of record at every load, the QA queue the same for
every product awaiting review; through the ORM, building the statement, executing it and
loading each row into the session cost about a millisecond of CPU per kind before any row
was shown (bench/scale.py), and ORM loading was a quarter of the QA queue's time. The
records read here are shown, never changed in the request: each is an instance in no
session, as the database holds it now (what the session changed is flushed first), so a
row another request wrote through Core (lims.services.step_store) is never stale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy import select as core_select
from sqlmodel import Session

from lims.models import (
    CoiEvent,
    Container,
    Deviation,
    PrintJob,
    QcResult,
    Signature,
    StepRecord,
    User,
)
from lims.prepared import Prepared, instances
from lims.sql_lists import one_of_bound

M = TypeVar("M")


def _rows_of(model: type[Any]) -> Prepared:
    table: Table = model.__table__
    return Prepared(core_select(table).where(one_of_bound(table.c.product_id, "ids"))
                    .order_by(table.c.id))


# Compiled once each: one statement whatever the number of products (lims.sql_lists).
_ROWS_OF: dict[type[Any], Prepared] = {model: _rows_of(model) for model in (
    QcResult, StepRecord, Deviation, CoiEvent, Container, PrintJob, Signature)}
_USERS = Prepared(core_select(User.__table__))  # type: ignore[attr-defined]


def rows_by_product(session: Session, model: type[M], ids: Collection[int]
                    ) -> dict[int, list[M]]:
    """Product id -> its rows of `model`, oldest first: one statement for all."""
    session.flush()
    found: dict[int, list[M]] = defaultdict(list)
    rows = _ROWS_OF[model].mappings(session.connection(), {"ids": list(ids)})
    for made in instances(model, rows):
        found[made.product_id or 0].append(made)  # type: ignore[attr-defined]
    return found


def rows_of(session: Session, model: type[M], product_id: int) -> list[M]:
    """The product's rows of `model` (containers, print jobs, step records, QC results,
    signatures...), oldest first."""
    return rows_by_product(session, model, [product_id])[product_id]


def qc_results_read(session: Session, product_id: int, *,
                    include_superseded: bool = False) -> list[QcResult]:
    every = rows_of(session, QcResult, product_id)
    return every if include_superseded else [result for result in every
                                             if not result.superseded]


def users_by_id(session: Session) -> dict[int, User]:
    """Every account (a lab's staff: tens), by id: the names records are shown with."""
    session.flush()
    return {user.id: user for user in instances(User, _USERS.mappings(session.connection(), {}))
            if user.id is not None}
