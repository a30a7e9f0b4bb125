"""Request and response models of release specification versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from lims.api.schemas import In, Out
from lims.api.schemas_quality import Password
from lims.services.specification_history import ArmVersions, VersionView
from workflows.specification_limits import FIELDS_BY_NAME

MAX_CELLS = 1e13  # far above any dose: a bound on what is sent, the rules judge the rest


def _described(name: str) -> str:
    found = FIELDS_BY_NAME[name]
    return found.label + (f", in {found.unit}" if found.unit else "")


class SpecificationChangesIn(In):
    """The limits to change; a limit not sent stays as in the newest approved version."""

    viability_min_pct: float | None = Field(default=None, ge=0, le=100,
                                            description=_described("viability_min_pct"))
    dose_min_cells: float | None = Field(default=None, gt=0, le=MAX_CELLS,
                                         description=_described("dose_min_cells"))
    dose_max_cells: float | None = Field(default=None, gt=0, le=MAX_CELLS,
                                         description=_described("dose_max_cells"))
    cd133_purity_min_pct: float | None = Field(default=None, ge=0, le=100, description=(
        _described("cd133_purity_min_pct") + "; null: not a test of this arm"))
    endotoxin_basis: Literal["per_kg", "per_ml"] | None = Field(
        default=None, description="per_kg: K × body weight ÷ product volume; per_ml: the "
                                  "fixed limit")
    endotoxin_k_eu_per_kg: float | None = Field(default=None, ge=0, le=1e6,
                                                description=_described("endotoxin_k_eu_per_kg"))
    endotoxin_eu_per_ml: float | None = Field(default=None, ge=0, le=1e6,
                                              description=_described("endotoxin_eu_per_ml"))
    mycoplasma_required: bool | None = Field(default=None,
                                             description=_described("mycoplasma_required"))


class SpecificationDraftIn(In):
    changes: SpecificationChangesIn
    reason: str = Field(min_length=1, max_length=500, description="Why the limits change")


class SpecificationApproveIn(In):
    username: str = Field(min_length=1, max_length=64,
                          description="Your user name, re-entered to sign")
    password: str = Password
    effective_from: AwareDatetime | None = Field(default=None, description=(
        "When the version takes effect (default: now); not in the past beyond the clock "
        "skew; may be in the future"))


class SpecificationWithdrawIn(In):
    reason: str = Field(min_length=1, max_length=500, description="Why the draft is withdrawn")


class SpecificationVersionOut(Out):
    arm: str
    version: int
    status: str = Field(description="draft, approved or withdrawn")
    standing: str = Field(description="The version's standing in words, e.g. 'in force'")
    in_force: bool
    limits: dict[str, Any]
    changed: list[str] = Field(description="Limits that differ from the version in force")
    reason: str
    drafted_by: str
    created_at: datetime
    effective_from: datetime | None
    approved_by: str = Field(description="The approver's printed name")
    approved_at: datetime | None
    approved_hash: str = Field(description="SHA-256 of the limits the approval signs")
    meaning: str = Field(description="The signature's meaning ('Approved')")

    @classmethod
    def of(cls, view: VersionView) -> SpecificationVersionOut:
        row = view.row
        return cls(arm=row.arm, version=row.version, status=row.status,
                   standing=view.standing, in_force=view.in_force, limits=row.limits,
                   changed=list(view.changed), reason=row.reason, drafted_by=view.drafted_by,
                   created_at=row.created_at, effective_from=row.effective_from,
                   approved_by=row.approved_printed_name, approved_at=row.approved_at,
                   approved_hash=row.approved_hash, meaning=view.meaning)


class ArmSpecificationsOut(Out):
    arm: str
    in_force: int | None = Field(description="The version in force now")
    versions: list[SpecificationVersionOut] = Field(description="Newest first")

    @classmethod
    def of(cls, arm: ArmVersions) -> ArmSpecificationsOut:
        return cls(arm=arm.arm, in_force=arm.in_force.version if arm.in_force else None,
                   versions=[SpecificationVersionOut.of(v) for v in arm.versions])
