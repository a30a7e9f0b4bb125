"""Enrolled patients as the physician, the supervisor and QA read them (nothing is written).

Data minimisation: the list of patients with their names and record numbers is for the
people who enrol, treat and review them; the bench works from subject IDs and DINs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from lims.models import Patient, Product, ProtocolArm, User
from lims.services.common import require_role
from lims.services.enrolment import SCREENINGS
from lims.services.queries import patient
from workflows.eligibility import EXCLUSION, INCLUSION, PROTOCOL_WORDS
from workflows.roles import Role

PATIENT_READERS = frozenset({Role.PHYSICIAN, Role.SUPERVISOR, Role.QA})
_SCREENING_WORDS = {choice.value: choice.words for choice in SCREENINGS}


@dataclass(frozen=True)
class PatientRow:
    """A line of the list of enrolled patients."""

    patient: Patient
    enrolled_by: str  # printed name


@dataclass(frozen=True)
class CriterionAnswer:
    """One checklist question as answered at enrolment."""

    words: str
    answer: bool | None  # None: not recorded
    as_required: bool  # yes for an inclusion, no for an exclusion


@dataclass(frozen=True)
class PatientRecord:
    """An enrolled patient with who enrolled, checked and treats them, and their products."""

    patient: Patient
    arm_name: str
    enrolled_by: User
    checked_by: User
    treating_physician: User | None
    inclusion: tuple[CriterionAnswer, ...]
    exclusion: tuple[CriterionAnswer, ...]
    markers: tuple[tuple[str, str], ...]  # marker or screening record in words, result
    products: tuple[Product, ...]


def enrolled_patients(session: Session, *, actor: User) -> list[PatientRow]:
    """Every enrolled patient by subject ID, with the printed name of who enrolled them."""
    require_role(actor, PATIENT_READERS, "see the enrolled patients")
    rows = session.exec(select(Patient, User).join(User, col(User.id) == Patient.enrolled_by_id)
                        .order_by(col(Patient.subject_id))).all()
    return [PatientRow(found, enroller.full_name) for found, enroller in rows]


def patient_record(session: Session, *, actor: User, subject_id: str) -> PatientRecord:
    """The enrolled patient `subject_id` as recorded (NOT_FOUND when there is none)."""
    require_role(actor, PATIENT_READERS, "see the enrolled patients")
    found = patient(session, subject_id)
    arm = session.exec(select(ProtocolArm).where(ProtocolArm.protocol_id == found.protocol_id,
                                                 ProtocolArm.code == found.arm)).first()
    products = session.exec(select(Product).where(Product.patient_id == found.id)
                            .order_by(col(Product.created_at), col(Product.id))).all()
    return PatientRecord(
        patient=found, arm_name=arm.name if arm is not None else "",
        enrolled_by=_user(session, found.enrolled_by_id),
        checked_by=_user(session, found.eligibility_checked_by_id),
        treating_physician=(_user(session, found.treating_physician_id)
                            if found.treating_physician_id is not None else None),
        inclusion=_answers(found, INCLUSION, True), exclusion=_answers(found, EXCLUSION, False),
        markers=tuple((_SCREENING_WORDS.get(str(key), str(key)), str(result))
                      for key, result in (found.infectious_markers or {}).items()),
        products=tuple(products))


def _answers(found: Patient, criteria: Mapping[str, str], required: bool
             ) -> tuple[CriterionAnswer, ...]:
    """Each criterion in the protocol's words with its recorded answer (`required`: the
    answer an eligible patient has)."""
    answers = found.eligibility or {}
    result = []
    for key in criteria:
        value = answers.get(key)
        answer = value if isinstance(value, bool) else None
        result.append(CriterionAnswer(PROTOCOL_WORDS[key], answer, answer is required))
    return tuple(result)


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    assert user is not None  # a foreign key
    return user
