"""Scheduling a harvest: a DIN is assigned and the collection bag comes to exist."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from lims.audit import PendingEvent, append
from lims.config import get_settings
from lims.models import Container, DinSequence, Patient, Product, Protocol, User
from lims.services.common import aware, require_role
from lims.services.specifications import current_specification_set
from workflows.errors import NotFound
from workflows.identity import ContainerKind, product_code_key
from workflows.isbt128 import make_din
from workflows.product import ProductState

SCHEDULERS = frozenset({"technician", "supervisor", "physician"})


def allocate_din(session: Session, *, facility: str, year: int) -> str:
    """Next DIN of the facility's nominal year, under a row lock (never reused)."""
    statement = select(DinSequence).where(
        DinSequence.facility == facility, DinSequence.year == year).with_for_update()
    sequence = session.exec(statement).first()
    if sequence is None:
        sequence = DinSequence(facility=facility, year=year, last_sequence=0)
    sequence.last_sequence += 1
    session.add(sequence)
    session.flush()
    return make_din(facility, year, sequence.last_sequence).text


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
        PendingEvent("product_created", "product", din, "state", None, product.state),
        PendingEvent("container_created", "container", f"{din}/{bag.product_code}", "kind",
                     None, bag.kind),
    ], user_id=actor.id, username=actor.username)
    session.commit()
    return product
