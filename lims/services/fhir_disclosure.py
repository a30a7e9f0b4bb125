"""Identified FHIR exports accounted for: who was shown which patient's name, MRN and date
of birth, when, and through which interface (21 CFR 11.10(e); Annex 11 §12.4).

A pseudonymised export (trial subject ID, sex, year of birth) discloses nobody: nothing is
recorded. An identified one is built only for a `Disclosure`, made once the reader's role
is checked, and each patient it names is recorded as PATIENT_IDENTITY_DISCLOSED in the
export's transaction; the service commits it before the export is handed over, so no
identity leaves the system without its record. A refusal (a role that does not read
patient records, or nobody signed in) is refused as every other read of patient records
is, without an event: nothing was disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlmodel import Session

from lims.audit import PendingEvent, append
from lims.audit_actions import AuditAction
from lims.models import Patient, User
from lims.services.common import require_role
from lims.services.patient_records import PATIENT_READERS
from workflows.errors import Forbidden

ENTITY: Final = "patient"
FIELD: Final = "identity"


class Interface(StrEnum):
    """Where an identified export leaves the system."""

    API = "api"  # GET /fhir/Bundle/{DIN} or /fhir/Patient/{subject ID}, identified=true
    CLI = "cli"  # lims fhir export DIN --identified --user NAME


@dataclass(frozen=True)
class Disclosure:
    """Who is shown patients' identities, and through which interface."""

    reader: User
    interface: Interface


def disclosure_for(reader: User | None, *, identified: bool,
                   interface: Interface | None) -> Disclosure | None:
    """None for a pseudonymised export. An identified one only for the roles that read
    patient records (Forbidden, 403, for anyone else or nobody), naming its interface."""
    if not identified:
        return None
    if reader is None:
        raise Forbidden("an identified export names a signed-in physician, supervisor "
                        "or QA user")
    require_role(reader, PATIENT_READERS, "export patients' names (identified FHIR)")
    if interface is None:  # a caller's slip, not the reader's: every caller names it
        raise ValueError("an identified export names the interface it leaves through")
    return Disclosure(reader, interface)


def record_disclosure(session: Session, disclosure: Disclosure, patient: Patient, *,
                      din: str | None, resource: str) -> None:
    """One PATIENT_IDENTITY_DISCLOSED event for `patient`, in the caller's transaction
    (never commits): the product exported (`din`, None for a Patient read), the FHIR
    resource and the interface; who and when are the event's own."""
    reader = disclosure.reader
    append(session, [PendingEvent(AuditAction.PATIENT_IDENTITY_DISCLOSED, ENTITY,
                                  patient.subject_id, FIELD, None,
                                  {"din": din, "resource": resource,
                                   "interface": disclosure.interface.value})],
           user_id=reader.id, username=reader.username)
