"""What the follow-up services share: who may record and read, the patient by subject ID,
times checked against the server's clock, and refusals kept in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from sqlmodel import Session, col, select

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import ClinicalEvent, Patient, User
from lims.services.clock import refuse_future
from lims.services.common import parameters_of, require_role
from workflows.characters import for_the_record
from workflows.errors import DomainError, InvalidInput, NotFound
from workflows.roles import Role
from workflows.typed_text import free_text_problem

# The physician records the clinical follow-up; QA reads it (and is told of serious
# adverse events); the lab's technicians and supervisors neither record nor read it.
RECORDERS = frozenset({Role.PHYSICIAN})
READERS = frozenset({Role.PHYSICIAN, Role.QA})
TEXT_MAX = 2000


def patient_by_subject(session: Session, subject_id: str) -> Patient:
    """The enrolled patient with this subject ID; NotFound otherwise."""
    found = session.exec(select(Patient).where(Patient.subject_id == subject_id)).first()
    if found is None:
        raise NotFound(f"no enrolled patient with subject ID {subject_id}")
    return found


def require_reader(actor: User) -> None:
    require_role(actor, READERS, "read the clinical follow-up")


def require_recorder(actor: User, what: str) -> None:
    require_role(actor, RECORDERS, what)


def check_time(session: Session, patient: Patient, when: datetime, what: str) -> datetime:
    """`when`, refused if naive or ahead of the server's clock beyond the protocol's skew."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput(f"{what} must include a timezone (e.g. 2026-05-01T10:30+03:30)")
    refuse_future(when, what=what,
                  skew_minutes=parameters_of(session, patient.protocol_id).clock_skew_minutes)
    return when


def refuse_after_death(session: Session, patient: Patient, on: date, what: str) -> None:
    """A visit, a sample or a finding dated after the patient's recorded death is a slip
    (the wrong patient or the wrong date): refused, naming the date of death."""
    death = session.exec(select(ClinicalEvent).where(
        ClinicalEvent.patient_id == patient.id, ClinicalEvent.kind == "death",
        col(ClinicalEvent.superseded).is_(False))).first()
    if death is not None and on > death.occurred_on:
        raise InvalidInput(f"{what} ({on.isoformat()}) is after the death of patient "
                           f"{patient.subject_id} on {death.occurred_on.isoformat()}")


def clean_text(text: str, what: str, *, required: bool = False,
               limit: int = TEXT_MAX) -> str:
    """Free text for the record: trimmed, bounded, no control characters."""
    text = text.strip()
    if required and not text:
        raise InvalidInput(f"{what} is required")
    if len(text) > limit:
        raise InvalidInput(f"{what} must be at most {limit} characters, got {len(text)}")
    problem = free_text_problem(text, lines=True)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}")
    return text


@contextmanager
def refusals_recorded(session: Session, actor: User, entity: str, entity_id: str,
                      what: str, *, record: bool = True) -> Iterator[None]:
    """Run a write; if it is refused, nothing of it stays and the refusal itself is
    audited (who tried what, and why) in a transaction of its own, then re-raised.
    `record` False: the write is part of a larger one whose caller does this."""
    try:
        yield
    except DomainError as error:
        if not record:
            raise
        session.rollback()
        _record_refusal(session, actor, entity, entity_id, what, error.detail)
        raise


def _record_refusal(session: Session, actor: User, entity: str, entity_id: str, what: str,
                    detail: str) -> None:
    append(session, [PendingEvent(AuditAction.FOLLOW_UP_REFUSED, entity,
                                  for_the_record(entity_id, limit=100), "refused", None, what,
                                  reason=for_the_record(detail, limit=1000))],
           user_id=actor.id, username=actor.username)
    session.commit()


def finish(session: Session, commit: bool) -> None:
    """Commit a write, or only flush it when it is one part of a caller's transaction."""
    if commit:
        session.commit()
    else:
        session.flush()
