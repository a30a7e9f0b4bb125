"""The lab's calendar: resources (instruments, rooms, staff), their shifts, and bookings.

Never deleted: a resource goes out of use, a shift is cancelled, a booking is cancelled
with its reason or marked done (workflows.scheduling holds the rules).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, UniqueConstraint

from lims.models.base import json_column, now_utc, utc_column


class Resource(SQLModel, table=True):
    """A CliniMACS, a clean room or a person the calendar books (master data)."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # instrument, room, staff
    name: str = Field(max_length=120, unique=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")  # staff: their account
    # What it is good for: workflows.scheduling.Qualification values.
    qualifications: list[Any] = Field(default_factory=list, sa_column=json_column())
    active: bool = True
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())


class ResourceShift(SQLModel, table=True):
    """When a person is on shift, or a room or instrument available."""

    __tablename__ = "resource_shift"
    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    starts_at: datetime = Field(sa_column=utc_column(index=True))
    ends_at: datetime = Field(sa_column=utc_column())
    cancelled: bool = False
    cancel_reason: str = Field(default="", max_length=500)
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())


class Booking(SQLModel, table=True):
    """A harvest, processing or infusion slot on the calendar."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # harvest, processing, infusion
    product_id: int | None = Field(default=None, foreign_key="product.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    starts_at: datetime = Field(sa_column=utc_column(index=True))
    ends_at: datetime = Field(sa_column=utc_column(index=True))
    status: str = Field(default="booked", max_length=20, index=True)  # booked cancelled done
    # The processing run booked with a harvest points to that harvest (cancelled with it).
    harvest_booking_id: int | None = Field(default=None, foreign_key="booking.id")
    note: str = Field(default="", max_length=500)
    booked_by_id: int = Field(foreign_key="user.id")
    booked_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    cancel_reason: str = Field(default="", max_length=500)
    cancelled_by_id: int | None = Field(default=None, foreign_key="user.id")
    cancelled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class BookingResource(SQLModel, table=True):
    __tablename__ = "booking_resource"
    __table_args__ = (UniqueConstraint("booking_id", "resource_id"),)
    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
