"""Quality records: specification sets, deviations, post-release alerts, label prints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from lims.models.base import json_column, now_utc, utc_column


class SpecificationSet(SQLModel, table=True):
    """Release specifications of one arm; a change is a new version, never an edit."""

    __tablename__ = "specification_set"
    __table_args__ = (UniqueConstraint("protocol_id", "arm", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    protocol_id: int = Field(foreign_key="protocol.id")
    arm: str = Field(max_length=20)
    version: int
    limits: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    reason: str = Field(default="", max_length=500)
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())


class Deviation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    step: str = Field(max_length=30)
    description: str = Field(max_length=2000)
    classification: str = Field(max_length=10)  # minor, major, critical
    immediate_action: str = Field(default="", max_length=2000)
    impact_assessment: str = Field(default="", max_length=2000)
    status: str = Field(default="open", max_length=10)  # open, closed
    disposition: str | None = Field(default=None, max_length=2000)
    raised_by_id: int = Field(foreign_key="user.id")
    raised_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    closed_by_id: int | None = Field(default=None, foreign_key="user.id")
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Alert(SQLModel, table=True):
    """A post-release finding (e.g. positive sterility culture) that must be acknowledged."""

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    kind: str = Field(max_length=40)
    message: str = Field(max_length=1000)
    notify_physician_id: int | None = Field(default=None, foreign_key="user.id")
    raised_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    acknowledged_by_id: int | None = Field(default=None, foreign_key="user.id")
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PrintJob(SQLModel, table=True):
    """Every label print, controlled: reprints carry a reason and are marked as such."""

    __tablename__ = "print_job"
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    container_id: int = Field(foreign_key="container.id", index=True)
    label_kind: str = Field(max_length=20)
    format: str = Field(max_length=10)  # pdf, zpl
    printer: str = Field(default="", max_length=120)
    reprint: bool = False
    reason: str | None = Field(default=None, max_length=500)
    content_hash: str = Field(max_length=64)
    printed_by_id: int = Field(foreign_key="user.id")
    printed_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
