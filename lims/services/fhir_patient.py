"""The FHIR Patient of an export: pseudonymised unless the reader may see names.

Pseudonymised (the default): the trial subject ID with the trial's identifier system, the
sex and the year of birth. No name, no MRN, no full date of birth: what leaves the lab in
a bundle identifies the patient to the trial, not to the world. The identified form (name,
MRN, date of birth) is only for the roles that read patient records
(lims.services.patient_records PATIENT_READERS), asked for explicitly.
"""

from __future__ import annotations

from typing import Any

from lims.models import Patient, Protocol
from lims.services.fhir_common import (
    IDENTIFIER_TYPE,
    MRN,
    Entry,
    concept,
    entry,
    identifier,
    subject_system,
    without_empty,
)

_GENDER = {"m": "male", "male": "male", "f": "female", "female": "female"}


def patient_entry(patient: Patient, protocol: Protocol, *, identified: bool) -> Entry:
    subject = identifier(subject_system(protocol.code), patient.subject_id)
    found = entry("Patient", subject)
    identifiers = [subject | {"type": {"text": f"{protocol.code} trial subject ID"}}]
    resource: dict[str, Any] = {
        "gender": _GENDER.get(patient.sex.strip().lower(), "unknown"),
        # The year alone unless identified: enough for age at treatment, not to single
        # anyone out.
        "birthDate": (patient.date_of_birth.isoformat() if identified
                      else f"{patient.date_of_birth.year:04d}"),
    }
    if identified:
        identifiers.append(identifier(MRN, patient.mrn)
                           | {"type": concept(IDENTIFIER_TYPE, "MR", "Medical record number")})
        resource["name"] = [{"text": patient.name}]
    found.resource = without_empty({"resourceType": "Patient", "identifier": identifiers,
                                    **resource})
    return found
