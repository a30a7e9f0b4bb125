"""Trial protocol, its parameters, and master data (reagent lots, equipment)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from lims.models.base import json_column, now_utc, utc_column


class Protocol(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=40)
    title: str = Field(max_length=300)
    # Limits, windows and capacities as data (workflows.protocol.ProtocolParameters).
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    # Container kind -> ISBT 128 product code (8 chars); placeholders until ICCBBA assigns.
    product_codes: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())


class ProtocolArm(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("protocol_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    protocol_id: int = Field(foreign_key="protocol.id")
    code: str = Field(max_length=20)  # CD133 or BM-MNC
    name: str = Field(max_length=200)


class ReagentLot(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("lot"),)
    id: int | None = Field(default=None, primary_key=True)
    reagent: str = Field(max_length=120)
    # The kind of material (workflows.materials.Material): a lot field takes only its kind.
    material: str = Field(default="", max_length=40, index=True)
    lot: str = Field(max_length=60, index=True)
    manufacturer: str = Field(default="", max_length=120)
    grade: str = Field(default="GMP", max_length=20)
    expires_on: date
    # quarantine on receipt, released for use by QA after incoming inspection, or rejected
    # (workflows.materials.LotStatus); a step takes only a released lot.
    status: str = Field(default="quarantine", max_length=20)
    received_on: date | None = None
    status_changed_by_id: int | None = None
    status_changed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    status_reason: str = Field(default="", max_length=500)


class Equipment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=40)
    kind: str = Field(max_length=60)
    serial: str = Field(max_length=60)
    calibration_due: date
