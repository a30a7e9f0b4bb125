"""Identified FHIR exports reconciled with the records they name.

A PATIENT_IDENTITY_DISCLOSED event writes no row of its own (lims.services.fhir_disclosure):
the patient it names must still exist, and the product it names (a bundle's DIN) must be
that patient's. Read a chunk of events at a time, with only the patients and products those
events name.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session, col, select

from lims.audit_actions import AuditAction as A
from lims.models import Patient, Product
from lims.services.audit_trail_index import Event, Trail
from lims.services.verdicts import Problem, missing_row
from lims.sql_lists import one_of


def reconcile_disclosures(session: Session, trail: Trail) -> list[Problem]:
    problems: list[Problem] = []
    for events in _chunks(trail.each(A.PATIENT_IDENTITY_DISCLOSED), trail.chunk):
        subjects = sorted({e.entity_id for e in events})
        dins = sorted({din for e in events if (din := _din(e))})
        patients = set(session.exec(select(Patient.subject_id).where(
            one_of(col(Patient.subject_id), subjects))))
        owners = dict(session.exec(select(Product.din, Patient.subject_id).join(
            Patient, col(Patient.id) == col(Product.patient_id)).where(
            one_of(col(Product.din), dins))).all()) if dins else {}
        for event in events:
            where = f"patient {event.entity_id} disclosed by event {event.seq}"
            if event.entity_id not in patients:
                problems.append(missing_row(f"patient {event.entity_id}", event.seq,
                                            event.action))
                continue
            din = _din(event)
            if din and owners.get(din) != event.entity_id:
                problems.append(Problem(where, "product", f"a product of patient "
                                        f"{event.entity_id} (DIN {din})",
                                        f"DIN {din} is of patient {owners[din]}"
                                        if din in owners else f"no product with DIN {din}"))
    return problems


def _din(event: Event) -> str:
    value = event.new_json().get("din")
    return value if isinstance(value, str) else ""


def _chunks(events: Iterator[Event], size: int) -> Iterator[list[Event]]:
    chunk: list[Event] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
