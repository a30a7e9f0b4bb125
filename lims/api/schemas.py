"""Request and response models: sign-in, users, patients, products, containers, worklist."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Literal, Self, get_args

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lims.models import Container, Patient, User
from workflows.characters import describe
from workflows.errors import DomainError, ErrorCode
from workflows.identity import ContainerKind, container_code
from workflows.isbt128 import ScanError, read_din
from workflows.product import Arm, ProductState

# Database integer columns are 32-bit on PostgreSQL: a larger id can match nothing.
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
_DIN_CHARACTERS = re.compile(r"[A-Za-z0-9* ]+")


def _din_characters(value: str | None) -> str | None:
    """Refuse a DIN with characters no DIN has, as DIN_INVALID naming them (a Cyrillic 'Х'
    or a control character by its name, like every other DIN refusal), not as a pattern."""
    if value is None or _DIN_CHARACTERS.fullmatch(value):
        return value
    try:
        read_din(value)
    except ScanError as error:  # a DomainError is not wrapped by pydantic: its handler answers
        raise DomainError(ErrorCode.DIN_INVALID, error.detail) from None
    odd = next(index for index, ch in enumerate(value) if not _DIN_CHARACTERS.fullmatch(ch))
    raise DomainError(ErrorCode.DIN_INVALID,
                      f"the DIN has {describe(value[odd])} at position {odd + 1}: a DIN has "
                      "only letters, digits and '*' (spaces between its groups)")


Din = Annotated[str, Path(min_length=1, max_length=24,
                          description="ISBT 128 DIN of the harvest: its 13 characters, "
                          "optionally followed by its check character, or as the label prints "
                          "it ('X9999 24 000017 E'); letters, digits, '*' and spaces; "
                          "validated whole", examples=["X999924000017"]),
                AfterValidator(_din_characters)]
# A DIN filter in a query string: the same forms as in a path, validated whole by the service.
DinFilter = Annotated[str | None, Query(
    min_length=1, max_length=24,
    description="Only this product: its DIN (13 characters, optionally its check character, or "
                "as the label prints it; letters, digits, '*' and spaces)"),
    AfterValidator(_din_characters)]
Name = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
# An item of a free list in a request: an eligibility criterion, a marker or its result.
Marker = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _takes_numbers(annotation: object) -> bool:
    """Whether a field reads numbers and not booleans (`float`, `int | None`, ...)."""
    options = get_args(annotation) or (annotation,)
    return bool not in options and any(option in (int, float) for option in options)


def _takes_only_yes_or_no(annotation: object) -> bool:
    """Whether a field reads true/false and nothing else (`bool`, `bool | None`)."""
    options = get_args(annotation) or (annotation,)
    return bool in options and all(option in (bool, type(None)) for option in options)


@lru_cache(maxsize=4096)  # per model and field: the annotation is read once, not per request
def _field_reads(model: type[BaseModel], name: str | None) -> tuple[bool, bool]:
    """Whether the field `name` of `model` reads numbers, and whether only true/false."""
    if name is None:
        return False, False
    annotation = model.model_fields[name].annotation
    return _takes_numbers(annotation), _takes_only_yes_or_no(annotation)


def _shown(value: object) -> str:
    """What was sent instead, in words: text ('yes'), the number 1, a list, an object."""
    if isinstance(value, str):
        return f"text ({value[:20]!r})"
    if isinstance(value, int | float):
        return f"the number {value:g}"
    return "a list" if isinstance(value, list) else "an object"


# A calendar day in a request: "YYYY-MM-DD" and nothing else (a time of day or a number such
# as 0 would otherwise be read as some day, silently).
def _day_only(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError(f"a day is written YYYY-MM-DD, not {_shown(value)}")
    if not isinstance(value, str | date) or isinstance(value, datetime):
        raise ValueError(f"a day is written YYYY-MM-DD, not {_shown(value)}")
    return value


Day = Annotated[date, BeforeValidator(_day_only)]


class In(BaseModel):
    """A request body: unknown fields are refused rather than silently ignored, and no text
    may carry a NUL character (PostgreSQL cannot store one)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        # JSON true/false would otherwise be read as 1/0 (a temperature of 1 °C, 1 wash).
        numeric, yes_or_no = _field_reads(cls, info.field_name)
        if numeric and isinstance(value, bool):
            raise ValueError("a number is needed here, not true or false")
        # Nor text: "37" may be a typing slip of something else; a program sends a number.
        if numeric and isinstance(value, str):
            raise ValueError(f"a number is needed here, not text ({value[:20]!r})")
        # Nor the reverse: 1, "true" or "yes" for a yes/no answer is a guess, never stored.
        if yes_or_no and value is not None and not isinstance(value, bool):
            raise ValueError(f"true or false is needed here, not {_shown(value)}")
        # JSON has no NaN or Infinity, but Python's reader takes them: never a measurement.
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a finite number is needed here, not NaN or Infinity")
        return value

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        if _has_nul(self.__dict__):
            raise ValueError("text must not contain NUL characters")
        return self


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
    must_change_password: bool = Field(
        default=False, description="An administrator set a temporary password: nothing but "
                                   "POST /api/v1/auth/password is allowed until it is changed")


class PasswordChangeIn(In):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=1000, description=(
        "At least 12 characters, at most 256, not a common or breached password; no "
        "composition rules: a phrase of unrelated words is best"))


class PasswordResetIn(In):
    temporary_password: str = Field(min_length=1, max_length=1000, description=(
        "Told to the person, who must replace it at their next sign-in"))
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the audit)")


class UserOut(Out):
    username: str
    full_name: str
    role: str
    email: str = Field(description="Where notifications reach this person; empty: none")
    active: bool = Field(description="False: deactivated, it can neither sign in nor sign")
    must_change_password: bool = Field(
        description="True: the password was set by an administrator (a new account or a "
                    "reset); the person must choose their own before doing anything else")


class UserIn(In):
    username: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["technician", "supervisor", "qa", "physician", "admin"]
    password: str = Field(min_length=1, max_length=256)
    email: str = Field(default="", max_length=254,
                       description="Where notifications reach this person (QA, physicians)")


class UserChangeIn(In):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254,
                              description="New e-mail address; empty removes it")


class ReasonIn(In):
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the audit)")


class RoleChangeIn(In):
    role: Literal["technician", "supervisor", "qa", "physician", "admin"]
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the audit)")


# --- patients and products -------------------------------------------------------------------

class PatientIn(In):
    subject_id: str = Field(min_length=1, max_length=40)
    mrn: str = Field(min_length=1, max_length=40, description="Medical record number")
    date_of_birth: Day
    name: str = Field(min_length=1, max_length=200)
    sex: Literal["F", "M", "X"]
    weight_kg: float = Field(gt=0, le=1000, allow_inf_nan=False)
    consent_date: Day
    arm: Arm = Field(description="Randomised arm")
    eligibility: dict[Marker, bool] = Field(
        max_length=50, description="Inclusion/exclusion checklist answers (at most 50)")
    infectious_markers: dict[Marker, Marker] = Field(
        max_length=50, description="e.g. {'HIV': 'negative'} (at most 50 markers)")
    checked_by: str = Field(min_length=1, max_length=64,
                            description="User name of the physician who checked the "
                                        "eligibility (may be the enroller)")
    checked_by_password: str = Field(
        min_length=1, max_length=256, description="That physician's password, re-entered "
        "to confirm the check like a signature; a wrong one refuses the enrolment")
    protocol_code: str | None = Field(default=None, max_length=40,
                                      description="Default: the configured trial")
    treating_physician: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="User name of the patient's treating physician (an active physician), "
                    "told at once of a failure found after release")


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
    eligibility_checked_at: datetime | None = Field(
        default=None, description="When the checker confirmed the eligibility with their "
                                  "password")
    treating_physician: str | None = Field(default=None,
                                           description="User name of the treating physician")

    @classmethod
    def of(cls, patient: Patient, physician: User | None) -> PatientOut:
        return cls.model_validate({**patient.model_dump(),
                                   "treating_physician": physician.username if physician
                                   else None})


class HarvestIn(In):
    subject_id: str = Field(min_length=1, max_length=40)


class ProductOut(Out):
    din: str
    arm: str
    state: ProductState
    held_from: str | None
    suspended_from: str | None = Field(
        default=None, description="Released or issued: where a release suspension came from")
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
        code = container_code(din, container.product_code, container.flags,
                              container.label_serial)
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
