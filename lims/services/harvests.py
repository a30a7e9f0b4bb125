"""Scheduling a harvest: a DIN is assigned and the collection bag comes to exist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.config import get_settings
from lims.models import Container, DinSequence, Patient, Product, Protocol, User
from lims.services.common import aware, require_role
from lims.services.specifications import current_specification_set
from workflows.errors import NotFound
from workflows.identity import ContainerKind, product_code_key
from workflows.isbt128 import make_din
from workflows.product import ProductState
from workflows.roles import Role

SCHEDULERS = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.PHYSICIAN})
_SEQUENCE: Table = DinSequence.__table__  # type: ignore[attr-defined]
_UPSERT: dict[str, Callable[[Table], Any]] = {"postgresql": postgresql.insert,
                                               "sqlite": sqlite.insert}


def allocate_din(session: Session, *, facility: str, year: int) -> str:
    """Next DIN of the facility's nominal year (never reused), safe under concurrency.

    One upsert statement: the first harvest of a year inserts the counter at 1, any other
    (or one that lost the race to insert it) increments it. The database serialises both
    on the row, so two first-of-year harvests never collide on its primary key.
    """
    upsert = _UPSERT[session.get_bind().dialect.name]
    statement = upsert(_SEQUENCE).values(facility=facility, year=year, last_sequence=1)
    statement = statement.on_conflict_do_update(
        index_elements=[_SEQUENCE.c.facility, _SEQUENCE.c.year],
        set_={"last_sequence": _SEQUENCE.c.last_sequence + 1},
    ).returning(_SEQUENCE.c.last_sequence)
    number = session.connection().execute(statement).scalar_one()
    return make_din(facility, year, number).text


def schedule_harvest(session: Session, *, actor: User, subject_id: str,
                     now: datetime | None = None) -> Product:
    """Open a product for a new harvest of an enrolled patient (a patient may have several)."""
    require_role(actor, SCHEDULERS, "schedule harvests")
    now = aware(now)
    patient = session.exec(select(Patient).where(Patient.subject_id == subject_id)).first()
    if patient is None:
        raise NotFound(f"no enrolled patient with subject ID {subject_id}")
    protocol = session.get(Protocol, patient.protocol_id)
    assert protocol is not None and protocol.id is not None and patient.id is not None
    din = allocate_din(session, facility=get_settings().facility_fin, year=now.year % 100)
    spec = current_specification_set(session, protocol.id, patient.arm)
    product = Product(din=din, patient_id=patient.id, protocol_id=protocol.id, arm=patient.arm,
                      state=ProductState.SCHEDULED.value, created_at=now, updated_at=now,
                      specification_set_id=spec.id)
    session.add(product)
    session.flush()
    assert product.id is not None and actor.id is not None
    bag = Container(product_id=product.id, kind=ContainerKind.MARROW_BAG.value,
                    product_code=protocol.product_codes[product_code_key(ContainerKind.MARROW_BAG,
                                                                         patient.arm)],
                    created_at=now, created_by_id=actor.id)
    session.add(bag)
    session.flush()
    append(session, [
        PendingEvent(AuditAction.PRODUCT_CREATED, "product", din, "state", None, product.state),
        # Whose product it is: reconciliation compares the row's patient with this.
        PendingEvent(AuditAction.PRODUCT_CREATED, "product", din, "patient", None,
                     {"patient_id": patient.id, "subject_id": patient.subject_id}),
        PendingEvent(AuditAction.CONTAINER_CREATED, "container",
                     f"{din}/{bag.product_code}/{bag.flags}", "kind", None, bag.kind),
    ], user_id=actor.id, username=actor.username)
    session.commit()
    return product
