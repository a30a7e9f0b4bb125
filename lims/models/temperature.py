"""Storage temperatures: the monitoring system's devices, readings, and excursions linked
to the containers stored where and when they happened. Records are never deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.base import now_utc, utc_column


class TemperatureDevice(SQLModel, table=True):
    """A probe of the monitoring system, named as its export names it, in one location."""

    __tablename__ = "temperature_device"
    id: int | None = Field(default=None, primary_key=True)
    device: str = Field(unique=True, index=True, max_length=60)
    location_id: int = Field(foreign_key="storage_location.id", index=True)
    registered_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    registered_by_id: int | None = Field(default=None, foreign_key="user.id")


class TemperatureReading(SQLModel, table=True):
    """One temperature of a location: imported from the monitoring system or typed by hand.

    Unique per location, time and source, so a file imported twice records nothing twice
    (a hand reading at the same minute as an imported one is kept beside it)."""

    __tablename__ = "temperature_reading"
    __table_args__ = (UniqueConstraint("location_id", "measured_at", "source",
                                       name="uq_temperature_reading_location_time_source"),)
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="storage_location.id", index=True)
    device_id: int | None = Field(default=None, foreign_key="temperature_device.id")
    measured_at: datetime = Field(sa_column=utc_column(index=True))
    celsius: float
    source: str = Field(max_length=10)  # "import" or "hand"
    import_hash: str | None = Field(default=None, max_length=64, index=True)  # SHA-256
    entered_by_id: int = Field(foreign_key="user.id")
    entered_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())


class TemperatureExcursion(SQLModel, table=True):
    """A period outside a location's range, or without readings, that QA must assess."""

    __tablename__ = "temperature_excursion"
    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="storage_location.id", index=True)
    kind: str = Field(max_length=20)  # workflows.temperature.ExcursionKind
    started_at: datetime = Field(sa_column=utc_column(index=True))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    min_c: float | None = None
    max_c: float | None = None
    # The range it was judged against, as it was then (a later change of range does not
    # rewrite what the alert said).
    range_min_c: float | None = None
    range_max_c: float | None = None
    raised_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    acknowledged_by_id: int | None = Field(default=None, foreign_key="user.id")
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    acknowledgement: str = Field(default="", max_length=2000)


class ExcursionContainer(SQLModel, table=True):
    """A container that was stored in the excursion's location while it lasted."""

    __tablename__ = "excursion_container"
    __table_args__ = (UniqueConstraint("excursion_id", "container_id",
                                       name="uq_excursion_container"),)
    id: int | None = Field(default=None, primary_key=True)
    excursion_id: int = Field(foreign_key="temperature_excursion.id", index=True)
    container_id: int = Field(foreign_key="container.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
