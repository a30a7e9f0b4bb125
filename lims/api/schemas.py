"""Request and response models: sign-in, users, patients, products, containers, worklist."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lims.models import Container
from workflows.identity import ContainerKind, container_code
from workflows.product import Arm, ProductState


class In(BaseModel):
    """A request body: unknown fields are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- sign-in and users -----------------------------------------------------------------------

class LoginIn(In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")


class UserOut(Out):
    username: str
    full_name: str
    role: str


class UserIn(In):
    username: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["technician", "supervisor", "qa", "physician", "admin"]
    password: str = Field(min_length=1, max_length=256)


class ReasonIn(In):
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the audit)")


# --- patients and products -------------------------------------------------------------------

class PatientIn(In):
    subject_id: str = Field(min_length=1, max_length=40)
    mrn: str = Field(min_length=1, max_length=40, description="Medical record number")
    date_of_birth: date
    name: str = Field(min_length=1, max_length=200)
    sex: Literal["F", "M", "X"]
    weight_kg: float = Field(gt=0, le=1000, allow_inf_nan=False)
    consent_date: date
    arm: Arm = Field(description="Randomised arm")
    eligibility: dict[str, bool] = Field(description="Inclusion/exclusion checklist answers")
    infectious_markers: dict[str, str] = Field(description="e.g. {'HIV': 'negative'}")
    checked_by: str = Field(min_length=1, max_length=64,
                            description="User name of who checked the eligibility")
    protocol_code: str | None = Field(default=None, max_length=40,
                                      description="Default: the configured trial")


class PatientOut(Out):
    subject_id: str
    arm: str
    mrn: str
    date_of_birth: date
    name: str
    sex: str
    weight_kg: float
    consent_date: date
    enrolled_at: datetime


class HarvestIn(In):
    subject_id: str = Field(min_length=1, max_length=40)


class ProductOut(Out):
    din: str
    arm: str
    state: ProductState
    held_from: str | None
    version: int = Field(description="Send it back as expected_version to detect conflicts")
    harvest_end: datetime | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContainerOut(Out):
    id: int
    kind: ContainerKind
    product_code: str
    flags: str
    code: str = Field(description="What the container's 2-D label code carries")
    status: str
    parent_id: int | None
    volume_ml: float | None
    label_verified_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, din: str, container: Container) -> ContainerOut:
        code = container_code(din, container.product_code, container.flags)
        return cls.model_validate({**container.model_dump(), "code": code})


class WorklistItemOut(Out):
    din: str
    subject_id: str
    arm: str
    state: ProductState
    version: int
    harvest_end: datetime | None
    expires_at: datetime | None


class WorklistGroupOut(Out):
    state: ProductState
    items: list[WorklistItemOut]


class WorklistOut(Out):
    groups: list[WorklistGroupOut]


class StepOut(Out):
    product: ProductOut
    record_id: int
    warnings: list[str] = Field(description="Out-of-limit values accepted with a warning")
    new_containers: list[ContainerOut] = Field(description="Containers created by the step: "
                                               "each needs its label printed and scanned back")
