"""The physician's enrolment screen: eligibility checklist, consent and arm; the enrolled
patients and each patient's page (lims.services.enrolment writes, patient_records reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lims.api.errors import status_of
from lims.api.routing import OneThreadRoute
from lims.config import get_settings
from lims.models import User
from lims.services.enrolment import (
    ENROLLERS,
    SEXES,
    NotEligible,
    enrol_patient,
    enrolment_choices,
)
from lims.services.patient_records import PATIENT_READERS, enrolled_patients, patient_record
from lims.web.deps import DbSession, Form, require
from lims.web.enrolment_form import criterion_field, marker_field, read_enrolment
from lims.web.render import redirect, render
from workflows.eligibility import EXCLUSION, INCLUSION, NOTES, PROTOCOL_WORDS
from workflows.errors import DomainError, ErrorCode
from workflows.roles import Role

router = APIRouter(route_class=OneThreadRoute)
Enroller = Annotated[User, Depends(require(ENROLLERS, "the enrolment of patients"))]
PatientReader = Annotated[User, Depends(require(PATIENT_READERS, "the enrolled patients"))]
# Refusals of the eligibility checker's signature: shown beside the user name and password.
SIGNATURE_REFUSALS = frozenset({ErrorCode.SIGNATURE_NOT_AUTHENTICATED,
                                ErrorCode.SIGNATURE_REQUIRED, ErrorCode.FORBIDDEN})


def _questions(criteria: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "field": criterion_field(key), "words": PROTOCOL_WORDS[key],
             "note": NOTES.get(key, "")} for key in criteria]


def _form(request: Request, db: DbSession, *, typed: dict[str, str],
          errors: dict[str, str] | None = None, reasons: tuple[str, ...] = (),
          error: str = "", signature_error: str = "", status_code: int = 200) -> HTMLResponse:
    protocol_code = get_settings().protocol_code
    choices = enrolment_choices(db, protocol_code)
    return render(request, "enrolment_new.html", {
        "protocol_code": protocol_code, "typed": typed, "errors": errors or {},
        "reasons": reasons, "error": error, "signature_error": signature_error,
        "sexes": SEXES, "arms": choices.arms, "physicians": choices.physicians,
        "markers": [{"field": marker_field(m.key), "label": m.label, "options": m.options}
                    for m in choices.markers],
        "inclusion": _questions(INCLUSION), "exclusion": _questions(EXCLUSION),
    }, status_code=status_code)


@router.get("/patients")
def patient_list(request: Request, user: PatientReader, db: DbSession) -> HTMLResponse:
    """The enrolled patients: subject ID, name, MRN, arm, when and by whom enrolled."""
    return render(request, "enrolment_list.html", {
        "rows": enrolled_patients(db, actor=user), "can_enrol": user.role in ENROLLERS})


@router.get("/patients/new")
def new_patient(request: Request, user: Enroller, db: DbSession) -> HTMLResponse:
    """The enrolment form; a physician enrolling is offered as the eligibility checker."""
    typed = {"checked_by": user.username} if user.role == Role.PHYSICIAN else {}
    return _form(request, db, typed=typed)


@router.post("/patients")
def enrol(request: Request, user: Enroller, db: DbSession, form: Form) -> Response:
    """Enrol the patient when every answer can be read and the patient is eligible."""
    entry = read_enrolment(form, enrolment_choices(db, get_settings().protocol_code))
    if entry.errors:
        count = len(entry.errors)
        what = "1 answer marked below needs" if count == 1 else f"{count} answers marked below need"
        return _form(request, db, typed=entry.typed, errors=entry.errors, status_code=422,
                     error=f"Nothing was enrolled: {what} attention.")
    try:
        patient = enrol_patient(db, actor=user, protocol_code=get_settings().protocol_code,
                                **entry.arguments)
    except NotEligible as refused:
        return _form(request, db, typed=entry.typed, reasons=refused.reasons,
                     status_code=status_of(refused.code))
    except DomainError as refused:
        message = f"Nothing was enrolled: {refused.detail}."
        on_signature = refused.code in SIGNATURE_REFUSALS
        return _form(request, db, typed=entry.typed, status_code=status_of(refused.code),
                     error="" if on_signature else message,
                     signature_error=message if on_signature else "")
    return redirect(f"/patients/{quote(patient.subject_id, safe='')}",
                    f"{patient.subject_id} enrolled in the {patient.arm} arm.")


@router.get("/patients/{subject_id}")
def patient_page(request: Request, subject_id: str, user: PatientReader,
                 db: DbSession) -> HTMLResponse:
    """An enrolled patient as recorded: demographics, eligibility, consent, arm, products."""
    record = patient_record(db, actor=user, subject_id=subject_id)
    return render(request, "enrolment_patient.html", {"record": record,
                                                      "patient": record.patient})
