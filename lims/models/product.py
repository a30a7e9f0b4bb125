"""A harvest's product, its containers, step records and QC results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from lims.models.base import json_column, now_utc, utc_column


class DinSequence(SQLModel, table=True):
    facility: str = Field(primary_key=True, max_length=5)
    year: int = Field(primary_key=True)
    last_sequence: int = 0


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    din: str = Field(unique=True, index=True, max_length=13)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    protocol_id: int = Field(foreign_key="protocol.id")
    arm: str = Field(max_length=20)
    state: str = Field(max_length=30, index=True)
    held_from: str | None = Field(default=None, max_length=30)
    # Released or issued: where a release suspension came from (re-release returns there).
    suspended_from: str | None = Field(default=None, max_length=30)
    # The release specification version in force when the product was made.
    specification_set_id: int | None = Field(default=None, foreign_key="specification_set.id")
    # Optimistic lock: every state change bumps it; a stale writer gets a conflict.
    version: int = 1
    harvest_end: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())


class Container(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("product_id", "product_code", "flags"),)
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="container.id")
    kind: str = Field(max_length=30)
    product_code: str = Field(max_length=8)
    flags: str = Field(default="00", max_length=2)
    # Its disposition: one of workflows.storage.Disposition (in use, consumed, administered,
    # discarded, stored, out for testing, returned).
    status: str = Field(default="in_use", max_length=20)
    volume_ml: float | None = None
    label_verified_at: datetime | None = Field(default=None,
                                               sa_column=utc_column(nullable=True))
    # Print serial of the label it wears now (its latest print), as its 2-D code carries it.
    label_serial: int | None = None
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    created_by_id: int = Field(foreign_key="user.id")


class StepRecord(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    step: str = Field(max_length=30)
    container_id: int | None = Field(default=None, foreign_key="container.id")
    values: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    computed: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    findings: list[Any] = Field(default_factory=list, sa_column=json_column())
    operator_id: int = Field(foreign_key="user.id")
    witness_id: int | None = Field(default=None, foreign_key="user.id")
    performed_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    content_hash: str = Field(max_length=64)
    # A correction is a new record of the same step: the record it corrects is superseded
    # (kept, never changed otherwise) and the new one says why (issue 11).
    superseded: bool = False
    corrects_id: int | None = Field(default=None, foreign_key="steprecord.id")
    reason: str | None = Field(default=None, max_length=500)


class QcResult(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    test: str = Field(max_length=40)
    value: str = Field(max_length=60)
    unit: str = Field(default="", max_length=20)
    passed: bool | None = None  # None while pending (sterility culture)
    method: str = Field(default="", max_length=120)
    instrument: str = Field(default="", max_length=120)
    tested_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # When the sample was drawn from the product and how much it took (volume accounting).
    sample_drawn_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    sample_volume_ml: float | None = None
    late: bool = False  # entered long after the test was performed (review-by-exception)
    reason: str | None = Field(default=None, max_length=500)  # why a result was corrected
    analyst_id: int = Field(foreign_key="user.id")
    entered_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    superseded: bool = False
    # Four eyes: a correction of an out-of-specification result counts only once a second
    # person has verified it.
    needs_verification: bool = False
    verified_by_id: int | None = Field(default=None, foreign_key="user.id")
    verified_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    content_hash: str = Field(max_length=64)


class Signature(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    printed_name: str = Field(max_length=200)
    meaning: str = Field(max_length=60)
    # What was signed: the record type and id, and the hash of its content at signing.
    record_type: str = Field(default="product", max_length=30)
    record_id: str = Field(default="", max_length=40)
    justification: str | None = Field(default=None, max_length=2000)
    signed_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    record_hash: str = Field(max_length=64)
