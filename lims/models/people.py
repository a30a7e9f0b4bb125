"""Users of the system and enrolled patients."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from lims.models.base import json_column, now_utc, utc_column


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    full_name: str = Field(max_length=200)
    role: str = Field(max_length=20)  # technician, supervisor, qa, physician, admin
    password_hash: str = Field(max_length=300)
    active: bool = True
    failed_logins: int = 0
    locked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Where notifications reach this person (post-release failures, QA alerts).
    email: str = Field(default="", max_length=254)
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    # Every token and session cookie carries the version it was issued under: sign-out,
    # a password change or reset and deactivation raise it, ending them all at once.
    token_version: int = 0
    password_changed_at: datetime | None = Field(default=None,
                                                 sa_column=utc_column(nullable=True))
    # Set by an administrator's reset: nothing but a new password until it is changed.
    must_change_password: bool = False


class SigninThrottle(SQLModel, table=True):
    """Failed sign-ins of one key (a user name from an address, an address, a user name):
    its back-off (workflows/throttle.py). Kept for names no account has too, so a throttled
    answer never tells whether an account exists."""

    __tablename__ = "signin_throttle"
    key: str = Field(primary_key=True, max_length=200)
    failures: int = 0
    last_failure_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    blocked_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Patient(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    subject_id: str = Field(unique=True, index=True, max_length=40)
    protocol_id: int = Field(foreign_key="protocol.id")
    arm: str = Field(max_length=20)
    mrn: str = Field(unique=True, index=True, max_length=40)
    date_of_birth: date
    name: str = Field(max_length=200)
    sex: str = Field(max_length=10)
    weight_kg: float
    consent_date: date
    eligibility: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    infectious_markers: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    eligibility_checked_by_id: int = Field(foreign_key="user.id")
    # When the checker confirmed the eligibility with their password (re-authenticated).
    eligibility_checked_at: datetime | None = Field(default=None,
                                                    sa_column=utc_column(nullable=True))
    enrolled_by_id: int = Field(foreign_key="user.id")
    # The physician told at once of a failure found after release or administration.
    treating_physician_id: int | None = Field(default=None, foreign_key="user.id")
    enrolled_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
