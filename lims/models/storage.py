"""Storage: where a container is kept (site → room → freezer/fridge → rack → box → position).

The temperature helper reads these tables (excursions linked to the containers stored in a
location during the excursion): the table and column names are fixed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from lims.models.base import now_utc, utc_column

# A container is in at most one position, and a position holds at most one container, at a
# time: enforced by the database (a partial unique index over the open rows), not only by
# the service, so two scanners racing cannot both win.
OPEN_ROW = text("removed_at IS NULL")


class StorageLocation(SQLModel, table=True):
    """One place in the hierarchy; `kind` is workflows.storage.LocationKind."""

    __tablename__ = "storage_location"
    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(default=None, foreign_key="storage_location.id", index=True)
    kind: str = Field(max_length=20)
    name: str = Field(max_length=120)
    # What the scanner reads off the location's label: unique across the whole lab.
    code: str = Field(unique=True, index=True, max_length=40)
    # The range it must hold; None inherits the parent's (workflows.storage.effective_range).
    temperature_min_c: float | None = None
    temperature_max_c: float | None = None
    # A box's grid (positions A1..); None for every other kind.
    rows: int | None = None
    columns: int | None = None
    # A position's place in its box's grid (1-based), for the box map.
    grid_row: int | None = None
    grid_column: int | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    created_by_id: int | None = Field(default=None, foreign_key="user.id")


class ContainerStorage(SQLModel, table=True):
    """One stay of a container in a position: scanned in, later scanned out with a reason."""

    __tablename__ = "container_storage"
    __table_args__ = (
        Index("ux_container_storage_open_container", "container_id", unique=True,
              sqlite_where=OPEN_ROW, postgresql_where=OPEN_ROW),
        Index("ux_container_storage_open_location", "location_id", unique=True,
              sqlite_where=OPEN_ROW, postgresql_where=OPEN_ROW),
    )
    id: int | None = Field(default=None, primary_key=True)
    container_id: int = Field(foreign_key="container.id", index=True)
    # The container's product, kept here so the history and the excursion report need no join.
    product_id: int = Field(foreign_key="product.id", index=True)
    location_id: int = Field(foreign_key="storage_location.id", index=True)
    stored_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    stored_by_id: int = Field(foreign_key="user.id")
    removed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    removed_by_id: int | None = Field(default=None, foreign_key="user.id")
    # workflows.storage.RemovalReason: testing, discard, return.
    removal_reason: str | None = Field(default=None, max_length=20)
    removal_note: str = Field(default="", max_length=500)
