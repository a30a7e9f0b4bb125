"""Patients: enrolment into the trial and look-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from lims.api.deps import Reader, SessionDep, SettingsDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas import PatientIn, PatientOut
from lims.models import User
from lims.services.enrolment import ENROLLERS, enrol_patient, treating_physician_of
from lims.services.queries import patient

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["patients"])
Enroller = Annotated[User, Depends(require_roles(*ENROLLERS, action="enrol patients"))]
SubjectId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f]+$")]


@router.post("/patients", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def enrol(body: PatientIn, actor: Enroller, session: SessionDep,
          settings: SettingsDep) -> PatientOut:
    """Enrol an eligible, consented patient in the arm randomisation gave."""
    data = body.model_dump(exclude={"protocol_code"})
    enrolled = enrol_patient(session, actor=actor,
                             protocol_code=body.protocol_code or settings.protocol_code, **data)
    return PatientOut.of(enrolled, treating_physician_of(session, enrolled))


@router.get("/patients/{subject_id}", responses=errors(401, 403, 404, 422))
def get_patient(subject_id: SubjectId, _user: Reader, session: SessionDep) -> PatientOut:
    """An enrolled patient by subject ID."""
    found = patient(session, subject_id)
    return PatientOut.of(found, treating_physician_of(session, found))
