"""Certificates of analysis printed: one row per certificate generated, never changed."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from lims.models.base import now_utc, utc_column


class Certificate(SQLModel, table=True):
    """A certificate of analysis generated for a released product: who, when, its ID."""

    __tablename__ = "certificate"
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    # SHA-256 of what the certificate says (labels.certificate_model.certificate_hash):
    # the same product content gives the same hash, a later change a new one.
    content_hash: str = Field(max_length=64)
    generated_by_id: int = Field(foreign_key="user.id")
    generated_at: datetime = Field(default_factory=now_utc, sa_column=utc_column())
    specification_set_id: int | None = Field(default=None, foreign_key="specification_set.id")
