"""Enrolment of a patient into the trial with eligibility, consent and randomised arm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from labels.statements import SCREENING_KEY, TESTING_KEY, required_markers
from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Patient, Protocol, ProtocolArm, User
from lims.services.common import parameters_of, require_role, utcnow
from lims.services.users import check_second_person
from workflows.eligibility import MARKERS, assess
from workflows.errors import DomainError, ErrorCode, InvalidInput, NotFound
from workflows.roles import Role
from workflows.typed_text import free_text_problem, identifier_problem
from workflows.words import role_words

ENROLLERS = frozenset({Role.PHYSICIAN, Role.SUPERVISOR})
ELIGIBILITY_CHECKERS = frozenset({Role.PHYSICIAN})
SUBJECT_ID_MAX, MRN_MAX, NAME_MAX = 40, 40, 200  # as the patient table's columns


@dataclass(frozen=True)
class Choice:
    """One option of a choice the enrolment asks for: the value stored and its words."""

    value: str
    words: str


SEXES = (Choice("F", "F — female"), Choice("M", "M — male"),
         Choice("X", "X — neither, or not stated"))
# A marker's result as recorded; the labels read "negative" and "reactive"
# (labels.statements), and anything else as not evaluated.
MARKER_RESULTS = (Choice("negative", "negative (non-reactive)"),
                  Choice("reactive", "reactive (positive)"), Choice("not tested", "not tested"))
SCREENING_RESULTS = (Choice("done", "done"), Choice("not done", "not done"))
# The donor screening and testing records 21 CFR 1271.75 and 1271.80 ask for (the final
# label says NOT EVALUATED FOR INFECTIOUS SUBSTANCES until both are done).
SCREENINGS = (Choice(SCREENING_KEY, "Donor screening: medical history and risk factors "
                                    "(21 CFR 1271.75)"),
              Choice(TESTING_KEY, "Donor testing: specimen timing, licensed tests, certified "
                                  "laboratory (21 CFR 1271.80)"))


class NotEligible(DomainError):
    """The checklist or the markers exclude the patient: each reason in words."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__(ErrorCode.PATIENT_NOT_ELIGIBLE, "; ".join(reasons))
        self.reasons = tuple(reasons)


@dataclass(frozen=True)
class MarkerQuestion:
    """One infectious-disease marker (or screening record) and the results it may have."""

    key: str
    label: str
    options: tuple[Choice, ...]


@dataclass(frozen=True)
class EnrolmentChoices:
    """What the enrolment form offers: the protocol's arms, the active physicians and the
    markers the protocol requires (HIV, HBV and HCV always, as eligibility needs them)."""

    arms: tuple[Choice, ...]
    physicians: tuple[Choice, ...]
    markers: tuple[MarkerQuestion, ...]


def enrolment_choices(session: Session, protocol_code: str) -> EnrolmentChoices:
    """The arms, physicians and markers of an enrolment into `protocol_code`."""
    protocol = _protocol(session, protocol_code)
    arms = session.exec(select(ProtocolArm).where(ProtocolArm.protocol_id == protocol.id)
                        .order_by(col(ProtocolArm.id))).all()
    physicians = session.exec(select(User).where(User.role == Role.PHYSICIAN,
                                                 col(User.active).is_(True))
                              .order_by(col(User.full_name))).all()
    assert protocol.id is not None
    listed = parameters_of(session, protocol.id).infectious_markers_required
    names = dict.fromkeys([*MARKERS, *required_markers(listed)])
    markers = [MarkerQuestion(name, name, MARKER_RESULTS) for name in names]
    markers += [MarkerQuestion(c.value, c.words, SCREENING_RESULTS) for c in SCREENINGS]
    return EnrolmentChoices(
        arms=tuple(Choice(arm.code, f"{arm.code} — {arm.name}") for arm in arms),
        physicians=tuple(Choice(u.username, u.full_name) for u in physicians),
        markers=tuple(markers))


def _protocol(session: Session, protocol_code: str) -> Protocol:
    protocol = session.exec(select(Protocol).where(Protocol.code == protocol_code)).first()
    if protocol is None:
        raise NotFound(f"protocol {protocol_code} not found")
    return protocol


def enrol_patient(session: Session, *, actor: User, protocol_code: str, subject_id: str,
                  mrn: str, date_of_birth: date, name: str, sex: str, weight_kg: float,
                  consent_date: date, arm: str, eligibility: dict[str, bool],
                  infectious_markers: dict[str, str], checked_by: str,
                  checked_by_password: str, treating_physician: str | None = None) -> Patient:
    """Enrol an eligible, consented patient with the arm randomisation gave.

    The physician who checked the eligibility (`checked_by`, perhaps the enroller) confirms
    it with their password, re-entered like a signature; a wrong one refuses the enrolment.
    `treating_physician` (a user name) is the physician told at once of a failure found
    after release; without one, alerts go to the administering or enrolling physician.
    """
    require_role(actor, ENROLLERS, "enrol patients")
    protocol = _protocol(session, protocol_code)
    arms = session.exec(select(ProtocolArm.code).where(ProtocolArm.protocol_id == protocol.id))
    if arm not in set(arms):
        raise InvalidInput(f"arm {arm!r} is not an arm of {protocol_code}")
    _check_demographics(subject_id, mrn, name, sex, weight_kg, date_of_birth, consent_date)
    result = assess(eligibility, infectious_markers)
    if not result.eligible:
        raise NotEligible(result.reasons)
    physician = _treating_physician(session, treating_physician)
    for column, label, value in (("subject_id", "subject ID", subject_id), ("mrn", "MRN", mrn)):
        found = session.exec(select(Patient).where(getattr(Patient, column) == value)).first()
        if found is not None:
            raise DomainError(ErrorCode.ALREADY_EXISTS,
                              f"{label} {value} is already enrolled (subject {found.subject_id}):"
                              " a patient is enrolled once; check the identifiers")
    # Last before writing: a failed password is recorded (and committed) by itself.
    checker = _eligibility_checker(session, checked_by, checked_by_password)
    checked_at = utcnow()
    assert protocol.id is not None and checker.id is not None and actor.id is not None
    patient = Patient(subject_id=subject_id, protocol_id=protocol.id, arm=arm, mrn=mrn,
                      date_of_birth=date_of_birth, name=name, sex=sex, weight_kg=weight_kg,
                      consent_date=consent_date, eligibility=eligibility,
                      infectious_markers=infectious_markers,
                      eligibility_checked_by_id=checker.id, eligibility_checked_at=checked_at,
                      enrolled_by_id=actor.id,
                      treating_physician_id=physician.id if physician else None)
    session.add(patient)
    session.flush()
    snapshot: dict[str, Any] = {"arm": arm, "mrn": mrn, "dob": date_of_birth.isoformat(),
                                "weight_kg": weight_kg, "consent": consent_date.isoformat(),
                                "treating_physician": treating_physician,
                                "eligibility_checked_by":
                                    f"{checker.full_name} ({checker.username})",
                                "eligibility_checked_at": checked_at.isoformat()}
    append(session, [PendingEvent(AuditAction.PATIENT_ENROLLED, "patient", subject_id, "", None,
                                  snapshot)],
           user_id=actor.id, username=actor.username)
    session.commit()
    return patient


def _eligibility_checker(session: Session, username: str, password: str) -> User:
    """The physician who checked the eligibility, re-authenticated like a signer."""
    if not username.strip() or not password:
        raise DomainError(ErrorCode.SIGNATURE_REQUIRED,
                          "the eligibility checker confirms the check with their own user "
                          "name and password")
    checker = check_second_person(session, username=username.strip(), password=password,
                                  refusal=ErrorCode.SIGNATURE_NOT_AUTHENTICATED,
                                  who="the eligibility checker")
    if checker.role not in ELIGIBILITY_CHECKERS:
        raise DomainError(ErrorCode.FORBIDDEN,
                          f"{checker.full_name} is {_a(role_words(checker.role))}: the "
                          "eligibility is checked by a physician (an investigator)")
    return checker


def _treating_physician(session: Session, username: str | None) -> User | None:
    if username is None:
        return None
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None or user.role != Role.PHYSICIAN or not user.active:
        what = "no user" if user is None else (
            _a(role_words(user.role)) if user.role != Role.PHYSICIAN else "a deactivated account")
        raise DomainError(ErrorCode.TREATING_PHYSICIAN_INVALID,
                          f"the treating physician must be an active physician; "
                          f"{user.full_name if user else repr(username)} is {what}: "
                          "choose the physician who treats "
                          "the patient")
    return user


def treating_physician_of(session: Session, patient: Patient) -> User | None:
    """The patient's treating physician, if one was named at enrolment."""
    if patient.treating_physician_id is None:
        return None
    return session.get(User, patient.treating_physician_id)


def _check_demographics(subject_id: str, mrn: str, name: str, sex: str, weight_kg: float,
                        dob: date, consent: date) -> None:
    problems = []
    if not subject_id.strip() or not mrn.strip() or not name.strip():
        problems.append("subject ID, MRN and name are required")
    # The subject ID and the MRN are matched on wristbands, labels and the hospital's
    # records character by character; a name is written in the patient's own script.
    for label, value, longest in (("subject ID", subject_id, SUBJECT_ID_MAX),
                                  ("MRN", mrn, MRN_MAX), ("name", name, NAME_MAX)):
        if len(value) > longest:  # the columns' widths: PostgreSQL would refuse the row
            problems.append(f"{label} has {len(value)} characters, more than {longest}")
    for label, value in (("subject ID", subject_id), ("MRN", mrn)):
        problem = identifier_problem(value)
        if problem is not None:
            problems.append(f"{label}: {problem}")
    problem = free_text_problem(name)
    if problem is not None:
        problems.append(f"name: {problem}")
    if sex not in {c.value for c in SEXES}:
        problems.append("sex must be F, M or X")
    if not 20 <= weight_kg <= 250:
        problems.append(f"weight {weight_kg} kg is outside 20–250 kg")
    age = (consent - dob).days / 365.25
    if not 18 <= age <= 75:
        problems.append(f"age at consent {age:.0f} years is outside the trial's 18–75")
    if consent > utcnow().date():
        problems.append("consent date is in the future")
    if problems:
        raise InvalidInput("; ".join(problems))


def _a(role: str) -> str:
    """"a technician", "an administrator", "a QA reviewer" (roles in words, lower case)."""
    words = "QA reviewer" if role == "QA" else role.lower()
    return f"an {words}" if words[0] in "aeiou" else f"a {words}"
