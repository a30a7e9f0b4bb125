"""Release specification versions: draft, QA-signed approval with an effective time, withdrawal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from lims.api.deps import SessionDep, SettingsDep, require_roles
from lims.api.errors import errors
from lims.api.routing import PREFIX, OneThreadRoute
from lims.api.schemas_specifications import (
    ArmSpecificationsOut,
    SpecificationApproveIn,
    SpecificationDraftIn,
    SpecificationVersionOut,
    SpecificationWithdrawIn,
)
from lims.models import User
from lims.services.specification_history import arm_versions
from lims.services.specifications import (
    APPROVER_ROLES,
    SPEC_ROLES,
    approve_specification,
    new_specification_version,
    withdraw_draft,
)

router = APIRouter(prefix=PREFIX, route_class=OneThreadRoute, tags=["specifications"])
Editor = Annotated[User, Depends(require_roles(*SPEC_ROLES,
                                               action="manage release specifications"))]
Approver = Annotated[User, Depends(require_roles(*APPROVER_ROLES,
                                                 action="approve release specifications"))]
Arm = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9-]+$",
                          description="The arm: CD133 or BM-MNC")]
Version = Annotated[int, Path(ge=1, le=10_000)]


def _version_out(session: SessionDep, code: str, arm: str, version: int
                 ) -> SpecificationVersionOut:
    [found] = arm_versions(session, code, arm)
    return SpecificationVersionOut.of(next(v for v in found.versions
                                           if v.row.version == version))


@router.get("/specifications", responses=errors(401, 403))
def list_versions(_user: Editor, session: SessionDep,
                  settings: SettingsDep) -> list[ArmSpecificationsOut]:
    """Every arm's specification versions with their standing, newest first."""
    return [ArmSpecificationsOut.of(arm)
            for arm in arm_versions(session, settings.protocol_code)]


@router.post("/specifications/{arm}/versions", status_code=status.HTTP_201_CREATED,
             responses=errors(401, 403, 404, 409, 422))
def draft(arm: Arm, body: SpecificationDraftIn, actor: Editor, session: SessionDep,
          settings: SettingsDep) -> SpecificationVersionOut:
    """Draft a new version with changed limits; it takes no effect until QA approves it."""
    row = new_specification_version(session, actor=actor, protocol_code=settings.protocol_code,
                                     arm=arm, changes=body.changes.model_dump(exclude_unset=True),
                                     reason=body.reason)
    return _version_out(session, settings.protocol_code, arm, row.version)


@router.post("/specifications/{arm}/versions/{version}/approve",
             responses=errors(401, 403, 404, 409, 422))
def approve(arm: Arm, version: Version, body: SpecificationApproveIn, actor: Approver,
            session: SessionDep, settings: SettingsDep) -> SpecificationVersionOut:
    """Approve a draft, signed "Approved" (user name and password re-entered)."""
    approve_specification(session, actor=actor, protocol_code=settings.protocol_code, arm=arm,
                          version=version, **body.model_dump())
    return _version_out(session, settings.protocol_code, arm, version)


@router.post("/specifications/{arm}/versions/{version}/withdraw",
             responses=errors(401, 403, 404, 409, 422))
def withdraw(arm: Arm, version: Version, body: SpecificationWithdrawIn, actor: Editor,
             session: SessionDep, settings: SettingsDep) -> SpecificationVersionOut:
    """Withdraw a draft with a reason; it is kept and never takes effect."""
    withdraw_draft(session, actor=actor, protocol_code=settings.protocol_code, arm=arm,
                   version=version, reason=body.reason)
    return _version_out(session, settings.protocol_code, arm, version)
